"""xbar: LSTM networks on simulated memristor crossbars.

The packages: :mod:`crossbar` (the physical layer), :mod:`mapping` (weights
onto arrays), :mod:`lstm` (networks, training, hardware backends: the library)
and :mod:`xbar` itself (the application: experiment files, the runner, sweeps,
results files, the command line). ``python -m xbar`` runs the command line, as
the ``xbar`` command does.
"""

from crossbar import __version__

__all__ = ["__version__"]
