"""lstm: recurrent networks, their training and their hardware backends.

Talks to hardware only through ``mapping``. The command line is ``xbar``
(:mod:`lstm.cli`).
"""

__version__ = "0.1.0"
