"""Shorter spins of idle BLAS and OpenMP threads, set before numpy and Numba load them.

Idle threads of OpenBLAS spin on their cores for 2^28 cycles (about 0.1 s)
after each call, and those of Numba's OpenMP pool for a while after each
parallel read. Whatever runs next on those cores (a compiled read after a numpy
matmul, or a matmul after a read) then runs at about half speed: see
docs/performance.md, "Threads". This module, imported first by ``crossbar``
(and so by ``mapping``, ``lstm`` and the ``xbar`` command), sets shorter spins
where the user has not chosen:

- ``OPENBLAS_THREAD_TIMEOUT=20``: OpenBLAS threads sleep after 2^20 cycles
  (well under a millisecond) instead of 2^28;
- ``OMP_WAIT_POLICY=PASSIVE``: Numba's OpenMP threads sleep when a parallel
  read ends.

They hold only where numpy and Numba's thread pool load after this module: in a
session that imported numpy first, set them in the environment before starting
Python. Neither changes a number, only who waits how.
"""

import os

SETTINGS = {"OPENBLAS_THREAD_TIMEOUT": "20", "OMP_WAIT_POLICY": "PASSIVE"}

for _name, _value in SETTINGS.items():
    os.environ.setdefault(_name, _value)
