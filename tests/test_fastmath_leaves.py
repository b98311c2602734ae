"""Fast-math flags only on leaf kernels.

Numba applies a function's ``fastmath`` flags to the code of the callees it
compiles along with it, but not to callees it loads from the cache. A flag on a
caller therefore makes its callees' rounding depend on the cache's state: the
airline run gave a test RMSE of 55.3 or 60.0 depending on which script had
compiled the kernels first. So a kernel with fast-math may call only functions
that are inlined into it (whose code is meant to take its flags) or that carry
the same flags themselves.
"""

import importlib

import pytest
from numba.core.registry import CPUDispatcher

MODULES = ["crossbar.numerics.vecmath", "crossbar.numerics.random_streams", "crossbar.numerics.rounding", "crossbar.circuits.conversion", "crossbar.devices.pulse_kernels", "crossbar.circuits.wires", "crossbar.read.kernels",
           "lstm.kernels"]


def _dispatchers(module):
    return {name: f for name, f in vars(module).items() if isinstance(f, CPUDispatcher)}


def _callees(dispatcher):
    glob = dispatcher.py_func.__globals__
    return [glob[n] for n in dispatcher.py_func.__code__.co_names if isinstance(glob.get(n), CPUDispatcher)]


@pytest.mark.parametrize("module_name", MODULES)
def test_fast_math_kernels_call_only_inlined_or_same_flagged(module_name):
    module = importlib.import_module(module_name)
    flagged = [f for f in _dispatchers(module).values() if f.targetoptions.get("fastmath")]
    for kernel in flagged:
        seen, stack = set(), _callees(kernel)
        while stack:
            callee = stack.pop()
            if id(callee) in seen:
                continue
            seen.add(id(callee))
            same_flags = callee.targetoptions.get("fastmath") == kernel.targetoptions["fastmath"]
            assert callee.targetoptions.get("inline") == "always" or same_flags, (
                f"{module_name}.{kernel.__name__} has fastmath and calls {callee.__name__}, "
                "which is neither inlined nor flagged the same")
            stack += _callees(callee)
    if module_name in ("crossbar.numerics.random_streams", "lstm.kernels"):
        assert flagged, "the check must see the flagged kernels"
