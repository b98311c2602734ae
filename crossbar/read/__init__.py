"""The one read engine of any regions of arrays: the plan (:mod:`~crossbar.read.plan`), its compiled
kernels (:mod:`~crossbar.read.kernels`) and the process-wide change count that keeps cached reads honest
(:mod:`~crossbar.read.state`)."""
