"""``xbar info``: package versions, cores and thread settings."""

from __future__ import annotations

import os
import platform

from xbar.commands.options import Formatter


def add_parser(sub) -> None:
    """Add ``xbar info`` to the subcommands ``sub``: its options, help and example."""
    p = sub.add_parser("info", help="print versions and thread settings", formatter_class=Formatter,
                       description="Print package versions, cores and the thread settings of Numba and BLAS.",
                       epilog="example:\n  xbar info")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print versions and thread settings; exit code 0."""
    import numba
    import numpy
    import scipy

    import crossbar

    print(f"xbar {crossbar.__version__} on Python {platform.python_version()} ({platform.machine()})")
    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}, numba {numba.__version__}")
    print(f"cores {os.cpu_count()}, numba threads {numba.get_num_threads()} "
          f"(layer {numba.config.THREADING_LAYER}), NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '-')}")
    for var in ("XBAR_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        print(f"{var}={os.environ.get(var, '-')}")
    from threadpoolctl import threadpool_info

    from lstm.parallel import default_threads

    print(f"threads for a batch's parts in a hardware layer: {default_threads()}")
    for pool in threadpool_info():
        held = " (held to 1 inside the hardware layer)" if pool["user_api"] == "blas" else ""
        print(f"{pool['user_api']}: {pool['internal_api']} {pool.get('version')}, {pool['num_threads']} threads{held}")
    return 0
