"""xbar: LSTM networks on simulated memristor crossbars.

The packages: :mod:`crossbar` (the physical layer), :mod:`mapping` (weights
onto arrays) and :mod:`lstm` (networks, training, experiments, the command
line). ``python -m xbar`` runs the command line, as the ``xbar`` command does.
"""

from crossbar import __version__

__all__ = ["__version__"]
