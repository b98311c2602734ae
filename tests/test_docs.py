"""Every Python block of the README runs as written (in a scratch folder)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _blocks(path):
    text = path.read_text()
    return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


BLOCKS = [(path.name, k, code) for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
          if path.exists() for k, code in enumerate(_blocks(path))]


@pytest.mark.parametrize("name, k, code", BLOCKS, ids=[f"{n}-{k}" for n, k, _ in BLOCKS])
def test_python_block_runs(tmp_path, monkeypatch, name, k, code):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{name} block {k}", "exec"), {"__name__": "__docs__"})


def test_there_are_blocks_to_run():
    assert len(BLOCKS) >= 3
