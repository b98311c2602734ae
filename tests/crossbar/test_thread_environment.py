"""crossbar sets shorter spins of idle BLAS and OpenMP threads before numpy loads, unless the user chose."""

import os
import subprocess
import sys

import pytest

# prints, when numpy is first imported, what the environment holds then
WATCH = """
import os, sys
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"), os.environ.get("OMP_WAIT_POLICY"), flush=True)
            sys.meta_path.remove(self)
        return None
sys.meta_path.insert(0, Watch())
import {module}
"""


def _first_numpy_import(module, **environment):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")}
    env.update(environment)
    out = subprocess.run([sys.executable, "-c", WATCH.format(module=module)], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return out.split()


@pytest.mark.parametrize("module", ["crossbar", "mapping", "lstm", "xbar.cli"])
def test_settings_precede_numpy(module):
    assert _first_numpy_import(module) == ["20", "PASSIVE"]


def test_the_users_choice_stays():
    assert _first_numpy_import("lstm", OMP_WAIT_POLICY="ACTIVE", OPENBLAS_THREAD_TIMEOUT="28") == ["28", "ACTIVE"]
