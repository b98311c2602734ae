"""lstm: recurrent networks, their training and their hardware backends.

Cells (LSTM, peephole, coupled, GRU), stacked layers with a dense head,
backpropagation through time written here, optimizers, the training loop,
the shipped tasks (airline passengers, Japanese Vowels) and PyTorch weight
exchange. Talks to hardware only through ``mapping``. The command line is
``xbar`` (:mod:`xbar.cli`).
"""

import crossbar  # noqa: F401  (first: its thread settings precede numpy's, see crossbar.thread_environment)
from lstm.network import Network, NetworkConfig, make_network
from lstm.optim import Optimizer, OptimizerConfig
from lstm.train import Dataset, History, SoftwareTrainer, fit

__all__ = ["Dataset", "History", "Network", "NetworkConfig", "Optimizer", "OptimizerConfig", "SoftwareTrainer",
           "fit", "make_network"]

from crossbar import __version__  # one version for the three packages
