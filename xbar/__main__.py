"""``python -m xbar``: the ``xbar`` command line."""

import sys

from xbar.cli import main

if __name__ == "__main__":
    sys.exit(main())
