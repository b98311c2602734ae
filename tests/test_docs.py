"""The docs: every Python block of the README and of docs/ runs as written (in a scratch folder), the CLI
page lists every option, and the Sphinx build has no warning."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _blocks(path):
    text = path.read_text()
    return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


PAGES = [path for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))] if _blocks(path)]


SLOW_PAGES = ("README.md", "guide.md")  # their blocks train networks


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_PAGES else p
                                  for p in PAGES], ids=[p.name for p in PAGES])
def test_python_blocks_run(tmp_path, monkeypatch, page):
    """A page's blocks run in order in one namespace, as a reader would run them one after the other; what
    they register (the architecture page's worked example) is taken out again for the tests that follow."""
    import matplotlib

    import crossbar

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    registries = (crossbar.ADC_ARCHITECTURES, crossbar.CELL_IV_MODELS, crossbar.PULSE_LAWS,
                  crossbar.PROGRAMMING_SCHEMES)
    before = [set(r.names()) for r in registries]
    namespace = {"__name__": "__docs__"}
    try:
        for k, code in enumerate(_blocks(page)):
            exec(compile(code, f"{page.name} block {k + 1}", "exec"), namespace)
    finally:
        for registry, names in zip(registries, before):
            for name in set(registry.names()) - names:
                registry.unregister(name)


def test_there_are_blocks_to_run():
    assert sum(len(_blocks(p)) for p in PAGES) >= 6 and any(p.name == "guide.md" for p in PAGES)


def test_the_cli_page_lists_every_command_and_option():
    import argparse

    from xbar.cli import build_parser

    page = (ROOT / "docs" / "cli.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert f"## `xbar {name}`" in page, name
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in page, (name, option)


@pytest.mark.slow
def test_the_docs_build_without_warnings(tmp_path):
    """Sphinx, the Markdown pages and the API reference from the numpydoc docstrings, warnings as errors."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(tmp_path / "html")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "html" / "api.html").stat().st_size > 100_000
