"""``xbar map`` and ``xbar adc`` against sizes and settings they cannot honour: one line, exit 2, before any
work (issue 27)."""

import time

import pytest

import crossbar
from xbar import cli


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("argv, message", [
    (["--bits", "24"], "--bits 24 is out of range; xbar adc measures every code of every converter and allows 2..16 "
                       "bits (a 24-bit SAR would need 2^24"),
    (["--bits", "1"], "allows 2..16 bits"),
    (["--columns", "100000"], "--columns 100000 is out of range; allowed 1..1024"),
    (["--columns", "0"], "--columns 0 is out of range; allowed 1..1024"),
    (["--bits", "16", "--columns", "32"], "measures 2,097,152 codes; xbar adc measures at most 1,048,576"),
    (["--columns-per-converter", "0"], "--columns-per-converter 0 is out of range"),
    (["--plot", "-1"], "--plot -1 is out of range"),
    (["--out", "transfer.foo"], "--out transfer.foo: a figure's file ends in one of"),
])
def test_adc_refuses_work_it_cannot_finish_in_one_line_before_any(argv, message, capsys, tmp_path, monkeypatch):
    """Was: ``--bits 24`` or ``--columns 100000`` ran for minutes without a word."""
    monkeypatch.chdir(tmp_path)
    began = time.time()
    assert cli.main(["adc", *argv]) == 2
    assert time.time() - began < 5
    line = _one_line(capsys)
    assert line.startswith("xbar adc: error: ") and message in line
    assert capsys.readouterr().out == ""  # nothing measured before the refusal
    assert list(tmp_path.iterdir()) == []


def test_adc_at_its_largest_resolution_answers_and_numbers_converters_from_1(capsys, tmp_path):
    out = tmp_path / "sar16.png"
    assert cli.main(["adc", "--bits", "16", "--columns", "2", "--capacitor-mismatch-sigma", "0.001",
                     "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[2:4]] == ["1", "2"]
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["custom", "--inputs", "4", "--hidden", "30000", "--outputs", "1"],
     "the network takes about 879,060 arrays of 128 x 64 devices; xbar map lays out at most 100,000"),
    (["custom", "--inputs", "4", "--hidden", "30", "--outputs", "1", "--rows", "100000", "--cols", "100000"],
     "placing blocks on an array of 100000 x 100000 devices needs about 140 GB of memory; 16 GB is available"),
    (["vowels", "--rows", "100000", "--cols", "100000"], "needs about 140 GB of memory"),
    (["custom", "--inputs", "4", "--hidden", "30", "--outputs", "1", "--rows", "1"], "argument --rows: 1 is below 2"),
    (["custom", "--inputs", "4", "--hidden", "30", "--outputs", "-1"], "argument --outputs: -1 is below 1"),
    (["airline", "--out", "layout"], "--out layout: a figure's file ends in one of"),
])
def test_map_refuses_sizes_beyond_its_bounds_in_one_line(argv, message, capsys, tmp_path, monkeypatch):
    """Was: ``xbar map --rows 100000`` (a 100000 x 100000 grid) ended in a numpy MemoryError traceback, and a
    network of 880 000 arrays ran for many minutes."""
    monkeypatch.setattr(crossbar.validation, "available_memory_bytes", lambda: 16_000_000_000)
    monkeypatch.chdir(tmp_path)
    began = time.time()
    assert cli.main(["map", *argv]) == 2
    assert time.time() - began < 10
    line = _one_line(capsys)
    assert line.startswith("xbar map: error: ") and message in line
    assert list(tmp_path.iterdir()) == []
