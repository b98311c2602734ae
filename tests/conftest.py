import numpy as np
import pytest

# Every test item the session collected, before `-m`/`-k` deselect any (read by tests/test_tiers.py).
COLLECTED = pytest.StashKey[list]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    config.stash[COLLECTED] = list(items)


@pytest.fixture(scope="session", autouse=True)
def kernels_compiled_once():
    """Compile the main Numba kernels (or load them from the cache) once, before the first test.

    Without it, whichever test first reads through a converter paid the compiling (82 s on a busy
    2-core machine), and the processes the sweep, CLI and notebook tests start compiled the same
    kernels again, side by side, when the cache was cold. Warm, this costs about a second.
    """
    from lstm.warmup import warm_up

    warm_up()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
