"""The two tiers of the suite: `python -m pytest` runs everything (the README's command and CI), and
`python -m pytest -m "not slow"` is the quick tier a contributor runs between edits. The long studies are
marked `slow`; every module keeps quick tests, so the quick tier still touches all of the code."""

import pathlib
import subprocess
import sys

import pytest

from .conftest import COLLECTED

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
MODULES = sorted(str(p.relative_to(ROOT)) for p in TESTS.rglob("test_*.py"))
PACKAGES = sorted(str(p.relative_to(ROOT)) for p in TESTS.iterdir() if (p / "__init__.py").is_file())
AT_LEAST_PER_PACKAGE = 20


def _every_test(config):
    """(module, slow) of every test of the suite: this session's own collection when it took every module
    (any -m or -k deselects only later), else a collection of the whole suite in a subprocess."""
    items = config.stash.get(COLLECTED, [])
    tests = [(item.nodeid.split("::")[0], item.get_closest_marker("slow") is not None) for item in items]
    if {module for module, _ in tests} >= set(MODULES):
        return tests
    listing = []
    for marks in ("slow", "not slow"):
        done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               "-m", marks, str(TESTS)], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode in (0, 5), done.stdout[-2000:] + done.stderr[-2000:]
        listing += [(line.split("::")[0], marks == "slow") for line in done.stdout.splitlines() if "::" in line]
    return listing


def test_slow_is_a_registered_marker_and_unknown_markers_fail(pytestconfig):
    assert any(line.split(":")[0].strip() == "slow" for line in pytestconfig.getini("markers"))
    assert "--strict-markers" in pytestconfig.getini("addopts")


def test_the_quick_tier_keeps_tests_of_every_module_and_folder(pytestconfig):
    tests = _every_test(pytestconfig)
    quick = [module for module, slow in tests if not slow]
    slow = [module for module, slow in tests if slow]
    assert slow, "the long studies are marked slow"
    assert len(quick) > 4 * len(slow), "slow is for the few long studies, not a way to skip tests"
    assert not set(MODULES) - set(quick), "a module with no quick test"
    assert PACKAGES == ["tests/crossbar", "tests/lstm", "tests/mapping"]
    for folder in PACKAGES:
        in_folder = [m for m in quick if m.startswith(folder + "/")]
        assert len(in_folder) >= AT_LEAST_PER_PACKAGE, (folder, len(in_folder))
