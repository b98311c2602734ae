"""Sweeps: same numbers whatever the workers, nothing lost to a kill, clear refusals."""

import os
import signal
import subprocess
import sys
import time

import pytest

from lstm import cli, sweep

VARY = ["device.program_noise_sigma=0:6e-6:3"]


def _points():
    experiment = sweep.Experiment(task="airline", way="ex_situ_one_shot", epochs=20)
    return sweep.points(experiment, sweep.parse_vary(VARY), seeds=2)


def _metrics(path):
    return {r["key"]: r["metrics"] for r in sweep.read_results(path)}


def test_results_do_not_depend_on_workers(tmp_path):
    from dask.distributed import LocalCluster

    todo = _points()
    assert len(todo) == 6
    one, two, dask_file = (str(tmp_path / n) for n in ("one.jsonl", "two.jsonl", "dask.jsonl"))
    assert sweep.run_sweep(todo, one, workers=1, progress=False)["done"] == 6
    sweep.run_sweep(todo, two, workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster:
        sweep.run_sweep(todo, dask_file, cluster=cluster, progress=False)
    assert _metrics(one) == _metrics(two) == _metrics(dask_file)
    records = sweep.read_results(one)
    assert all(r["status"] == "ok" and r["seconds"] > 0 and r["version"] for r in records)
    assert len({r["metrics"]["test_rmse"] for r in records}) == 6
    figures = sweep.plot_results(one, str(tmp_path / "fig.png"))
    assert all(os.path.getsize(f) > 1000 for f in figures) and figures[1].endswith(".pdf")


def test_killed_sweep_resumes_without_recomputing(tmp_path):
    results = tmp_path / "killed.jsonl"
    # 300 epochs make a point take about 0.15 s: long against the 20 ms poll, so the kill
    # lands part way however fast the machine is (at 20 epochs a point took 14 ms and the
    # whole sweep could finish between two polls)
    command = [sys.executable, "-m", "lstm.cli", "sweep", "--task", "airline", "--epochs", "300", "--seeds", "2",
               "--vary", "device.program_noise_sigma=0:6e-6:4", "--out", str(results), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        if results.exists() and len(results.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = sweep.read_results(str(results))
    assert 2 <= len(before) < 8, "the sweep should have been killed part way"
    finished = {r["key"]: r for r in before}
    rerun = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{len(before)} already in" in rerun.stdout
    after = sweep.read_results(str(results))
    assert len(after) == 8 and len({r["key"] for r in after}) == 8
    for r in after:  # finished points were kept as they were, not computed again
        if r["key"] in finished:
            assert r == finished[r["key"]]


def test_failed_point_is_recorded_and_sweep_goes_on(tmp_path):
    experiment = sweep.Experiment(task="airline", way="ex_situ_one_shot", epochs=5)
    # g_max below the SET range makes the device model invalid for that point only
    todo = sweep.points(experiment, {"device.g_max": [200e-6, 400e-6]}, seeds=1)
    path = str(tmp_path / "f.jsonl")
    counts = sweep.run_sweep(todo, path, progress=False)
    assert counts == {"done": 1, "failed": 1, "skipped": 0}
    failed = [r for r in sweep.read_results(path) if r["status"] == "failed"]
    assert "g_max" in failed[0]["error"]


@pytest.mark.parametrize("argv, message", [
    (["--vary", "device.program_noise_sigm=0:1e-6:2"], "not known"),
    (["--vary", "device.program_noise_sigma=0:1e-6"], "not understood"),
    (["--vary", "device.program_noise_sigma=log:0:1:3"], "not understood"),
    (["--file", "missing.toml"], "could not be read"),
])
def test_bad_sweeps_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_toml_sweep_file(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntask = "airline"\nepochs = 3\nseeds = 1\n'
                    '[vary]\n"device.read_noise_sigma_relative" = [0.0, 0.01]\n')
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", "--file", str(spec), "--out", str(out), "--quiet"]) == 0
    assert len(sweep.read_results(str(out))) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\n")
    assert cli.main(["sweep", "--file", str(bad), "--out", str(tmp_path / "x.jsonl")]) == 2


def test_value_parsing():
    assert sweep.parse_values("0:1:3") == [0.0, 0.5, 1.0]
    assert sweep.parse_values("1,2,5") == [1.0, 2.0, 5.0]
    assert sweep.parse_values("log:1e-3:1e-1:3") == pytest.approx([1e-3, 1e-2, 1e-1])
    assert "device.program_noise_sigma" in sweep.parameter_names()
