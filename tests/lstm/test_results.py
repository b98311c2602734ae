"""Results files: someone else's file is never touched, reading never writes, damaged lines are kept,
a torn last line is repaired, records never glue, one writer at a time."""

import json
import os

import pytest

from xbar import cli, sweep
from xbar.results import FORMAT, ResultsFileError, ResultsWriter, read_results

IDENTITY = {"experiment": {"task": "airline", "way": "ex_situ_one_shot", "preset": "li2019", "epochs": 2},
            "varied": ["device.program_noise_sigma"]}


def record(key, sigma=1e-6, status="ok", experiment=None):
    return {"format": FORMAT, "key": key, "experiment": experiment or IDENTITY["experiment"],
            "params": {"device.program_noise_sigma": sigma}, "seed": 0, "status": status,
            "metrics": {"test_rmse": 50.0, "software_test_rmse": 60.0}}


def lines(*records):
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.mark.parametrize("text", [b"my notes\nsecond line\n", b"a,b,c\n1,2,3\n", b"\xff\xfe\x00binary",
                                  b'{"a": 1}\n', b"[1, 2]\n"])
def test_a_file_that_is_not_ours_is_refused_and_left_byte_for_byte(tmp_path, capsys, text):
    path = tmp_path / "notes.txt"
    path.write_bytes(text)
    before = os.stat(path)
    with pytest.raises(ResultsFileError, match="not an xbar results file"):
        read_results(str(path))
    with pytest.raises(ResultsFileError):
        with ResultsWriter(str(path), IDENTITY):
            pass
    # the command line: sweep and plot exit 2 with one line, and the file is as it was
    argv = ["sweep", "--epochs", "2", "--vary", "device.program_noise_sigma=0:1e-6:2", "--out", str(path), "--quiet"]
    assert cli.main(argv) == 2
    assert cli.main(["plot", str(path), "--out", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("notes.txt" in e and "not an xbar results file" in e for e in err)
    assert path.read_bytes() == text and os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]  # no lock, no figure, no .damaged left


def test_reading_never_writes_and_keeps_damaged_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    data = lines(record("a"), record("b")) + b"{not json\n" + lines(*(record(k) for k in "cdefg"))
    path.write_bytes(data)
    contents = read_results(str(path))
    assert [r["key"] for r in contents.records] == list("abcdefg")
    assert contents.damaged == [(3, "{not json")]
    figures = sweep.plot_results(str(path), str(tmp_path / "fig.png"))
    assert all(os.path.getsize(f) > 1000 for f in figures)
    assert path.read_bytes() == data
    # the writer refuses a file with damaged lines unless told to set them aside
    with pytest.raises(ResultsFileError, match=r"1 damaged line\(s\).*line 3.*--set-aside-damaged"):
        with ResultsWriter(str(path), IDENTITY):
            pass
    assert path.read_bytes() == data
    with ResultsWriter(str(path), IDENTITY, set_aside_damaged=True) as writer:
        assert len(writer.contents.records) == 7
        writer.append(record("h"))
    assert (tmp_path / "r.jsonl.damaged").read_bytes() == b"{not json\n"
    assert sorted(os.listdir(tmp_path)) == ["fig.pdf", "fig.png", "r.jsonl", "r.jsonl.damaged"]
    assert [r["key"] for r in read_results(str(path)).records] == list("abcdefgh")
    assert not (tmp_path / "r.jsonl.lock").exists()


def test_a_torn_last_line_is_repaired_and_its_bytes_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    torn = json.dumps(record("c")).encode()[:40]
    path.write_bytes(lines(record("a"), record("b")) + torn)
    contents = read_results(str(path))
    assert len(contents.records) == 2 and contents.torn == torn and not contents.damaged
    with ResultsWriter(str(path), IDENTITY) as writer:
        writer.append(record("c"))
    assert [r["key"] for r in read_results(str(path)).records] == ["a", "b", "c"]
    assert (tmp_path / "r.jsonl.damaged").read_bytes() == torn + b"\n"


def test_a_first_record_cut_short_is_ours(tmp_path):
    path = tmp_path / "r.jsonl"
    torn = json.dumps(record("a")).encode()[:30]
    path.write_bytes(torn)
    assert read_results(str(path)).records == []
    with ResultsWriter(str(path), IDENTITY) as writer:
        writer.append(record("a"))
    assert [r["key"] for r in read_results(str(path)).records] == ["a"]


def test_a_last_record_without_newline_gets_one_before_the_next(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(lines(record("a")) + json.dumps(record("b")).encode())
    assert read_results(str(path)).missing_newline
    with ResultsWriter(str(path), IDENTITY) as writer:
        writer.append(record("c"))
        writer.append(record("d"))
    assert [r["key"] for r in read_results(str(path)).records] == ["a", "b", "c", "d"]
    assert path.read_bytes().count(b"\n") == 4


def test_another_experiment_is_refused_saying_what_differs(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    other = dict(IDENTITY["experiment"], way="in_situ")
    data = lines(record("a", experiment=other))
    path.write_bytes(data)
    with pytest.raises(ResultsFileError, match="way is 'in_situ' there, 'ex_situ_one_shot' here"):
        with ResultsWriter(str(path), IDENTITY):
            pass
    argv = ["sweep", "--epochs", "2", "--vary", "device.read_noise_sigma_relative=0:0.01:2", "--out", str(path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "another experiment" in err and "varies device.program_noise_sigma there" in err
    assert path.read_bytes() == data
    # a file that mixes two experiments (written by the first version) cannot be plotted
    path.write_bytes(data + lines(record("b")))
    with pytest.raises(ResultsFileError, match="mixes experiments"):
        read_results(str(path))


def test_one_writer_at_a_time(tmp_path):
    path = str(tmp_path / "r.jsonl")
    with ResultsWriter(path, IDENTITY) as first:
        with pytest.raises(ResultsFileError, match=rf"being written by another sweep \(process {os.getpid()}\)"):
            with ResultsWriter(path, IDENTITY):
                pass
        first.append(record("a"))
    with ResultsWriter(path, IDENTITY) as again:  # released: the next writer gets it
        again.append(record("b"))
    assert len(read_results(path).records) == 2


def test_records_of_the_first_version_are_read(tmp_path):
    path = tmp_path / "old.jsonl"
    old = {k: v for k, v in record("a").items() if k != "format"}
    path.write_bytes(lines(old))
    assert read_results(str(path)).records[0]["key"] == "a"


def test_latest_record_of_a_point_wins(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(lines(record("a", status="failed"), record("b"), record("a")))
    latest = read_results(str(path)).latest()
    assert latest["a"]["status"] == "ok" and len(latest) == 2
