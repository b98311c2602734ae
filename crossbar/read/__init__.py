"""The one read engine of any regions of arrays: the plan (:mod:`~crossbar.read.plan`), the reads it is made
of and their layout for the kernels (:mod:`~crossbar.read.layout`, the column chunks in
:mod:`~crossbar.read.chunks`), its noise seeds (:mod:`~crossbar.read.seeds`), its counting
(:mod:`~crossbar.read.counting`), the sessions of a caller's compiled loop (:mod:`~crossbar.read.session`),
the registered cells and converters read through the numpy twin (:mod:`~crossbar.read.extensions`), its
compiled kernels (:mod:`~crossbar.read.kernels`) and the process-wide change count that keeps cached reads
honest (:mod:`~crossbar.read.state`)."""
