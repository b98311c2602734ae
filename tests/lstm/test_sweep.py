"""Sweeps: same numbers whatever the workers, nothing lost to a kill or Ctrl-C, every value checked first,
workers that die with their parent, clear refusals."""

import os
import signal
import subprocess
import sys
import time

import pytest

from xbar import cli, runner, sweep
from xbar.results import read_results

VARY = ["device.program_noise_sigma=0:6e-6:3"]


def _points():
    experiment = sweep.base_experiment("airline", "ex_situ_one_shot", epochs=20)
    return sweep.points(experiment, sweep.parse_vary(VARY, experiment), seeds=2)


def _metrics(path):
    return {r["key"]: r["metrics"] for r in read_results(path).records}


@pytest.mark.slow
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
    records = read_results(one).records
    assert all(r["status"] == "ok" and r["seconds"] > 0 and r["version"] and r["format"] == "xbar-sweep/1"
               for r in records)
    assert all(r["resolved"]["training.epochs"] == 20 and r["resolved"]["device.program_noise_sigma"] ==
               r["params"]["device.program_noise_sigma"] for r in records)
    assert len({r["metrics"]["test_rmse"] for r in records}) == 6
    figures = sweep.plot_results(one, str(tmp_path / "fig.png"))
    assert all(os.path.getsize(f) > 1000 for f in figures) and figures[1].endswith(".pdf")


@pytest.mark.slow
def test_sweep_on_a_real_dask_cluster(tmp_path):
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (as a user starts them), reached by
    ``xbar sweep --scheduler``: the numbers of local workers, and the cluster is stopped after."""
    import json

    todo = _points()[:4]
    local = str(tmp_path / "local.jsonl")
    sweep.run_sweep(todo, local, workers=1, progress=False)
    address_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--dashboard-address", ":0", "--scheduler-file",
                                  str(address_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while not address_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert address_file.exists(), "the Dask scheduler did not start"
        time.sleep(0.2)  # the file is written whole, but give the scheduler its first loop
        address = json.loads(address_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        remote = str(tmp_path / "remote.jsonl")
        sweep.run_sweep(todo, remote, scheduler=address, progress=False, connect_timeout_s=30)
        assert _metrics(remote) == _metrics(local)
        assert all(r["status"] == "ok" for r in read_results(remote).records)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
        for process in (worker, scheduler):
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    assert scheduler.returncode is not None and worker.returncode is not None


def _sweep_command(results, *extra, points=8):
    # an in-situ vowels point of 5 epochs takes about half a second: long against the 20 ms polls below
    return [sys.executable, "-m", "xbar.cli", "sweep", "--task", "vowels", "--way", "in_situ", "--epochs", "5",
            "--vary", f"device.program_noise_sigma=0:1e-6:{points}", "--out", str(results), "--quiet", *extra]


def _wait_for_records(results, n, process, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if results.exists() and len(results.read_bytes().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {n} records within {timeout} s (exit code {process.poll()})")


def _children(pid):
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has finished
    except OSError:
        return False


@pytest.mark.slow
def test_killed_sweep_resumes_without_recomputing(tmp_path):
    results = tmp_path / "killed.jsonl"
    command = _sweep_command(results)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_records(results, 2, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = read_results(str(results)).records
    assert 2 <= len(before) < 8, "the sweep should have been killed part way"
    finished = {r["key"]: r for r in before}
    rerun = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{len(before)} already in" in rerun.stdout
    after = read_results(str(results)).records
    assert len(after) == 8 and len({r["key"] for r in after}) == 8
    for r in after:  # finished points were kept as they were, not computed again
        if r["key"] in finished:
            assert r == finished[r["key"]]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process parents from /proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_at_once_keeps_records_and_fails_nothing(tmp_path, workers):
    results = tmp_path / "r.jsonl"
    command = _sweep_command(results, "--workers", str(workers))
    # a session of its own: Ctrl-C in a terminal goes to the whole process group, workers included
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _wait_for_records(results, 1, process)
    children = _children(process.pid)
    time.sleep(0.2)  # into the next point's compiled kernels
    os.killpg(process.pid, signal.SIGINT)
    began = time.time()
    out, err = process.communicate(timeout=60)
    assert time.time() - began < 10, "Ctrl-C must stop the sweep at once, not after the remaining points"
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "leaked" not in err
    stored = read_results(str(results)).records
    assert 1 <= len(stored) < 8 and all(r["status"] == "ok" for r in stored)
    deadline = time.time() + 10
    while any(_alive(c) for c in children) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(c) for c in children)
    # a rerun computes the interrupted points and keeps the stored ones
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    after = {r["key"]: r for r in read_results(str(results)).records}
    assert len(after) == 8 and all(r["status"] == "ok" for r in after.values())
    assert all(after[r["key"]] == r for r in stored)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process parents from /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    results = tmp_path / "r.jsonl"
    process = subprocess.Popen(_sweep_command(results, "--workers", "2"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for_records(results, 1, process)
    workers = _children(process.pid)
    assert len(workers) >= 2
    process.send_signal(signal.SIGKILL)  # no handler runs: the workers must notice by themselves
    process.wait()
    deadline = time.time() + 15
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "worker processes outlived their killed parent"


@pytest.mark.parametrize("argv, message", [
    (["--vary", "device.program_noise_sigm=0:1e-6:2"], "not known"),
    (["--vary", "device.program_noise_sigma=0:1e-6"], "not understood"),
    (["--vary", "device.program_noise_sigma=log:0:1:3"], "not understood"),
    (["--file", "missing.toml"], "missing.toml: cannot be read"),
    (["--vary", "device.program_noise_sigma=-1e-6,1e-6"], "program_noise_sigma=-1e-06 is out of range"),
    (["--vary", "adc.range=0,1"], "adc.range=0.0 is out of range"),
    (["--vary", "device.g_min=0,500e-6"], "g_max=0.0004 is not above g_min=0.0005"),
    (["--vary", "device.n_levels=2.5"], "n_levels=2.5 is not allowed; a whole number"),
    (["--vary", "training.epochs=2.7"], "training.epochs=2.7 is not allowed; a whole number"),
    (["--vary", "training.epochs=0"], "training.epochs=0 is out of range"),
    (["--vary", "hardware.way=sideways"], "hardware.way='sideways' is not allowed"),
    (["--seed", "-5", "--vary", "adc.range=1"], "argument --seed: -5 is below 0"),
    (["--seeds", "1.5", "--vary", "adc.range=1"], "argument --seeds: '1.5' is not a whole number"),
    (["--workers", "0", "--vary", "adc.range=1"], "--workers=0 is out of range"),
])
def test_bad_values_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", "--epochs", "2", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and os.listdir(tmp_path) == []


def test_toml_sweep_file(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntask = "airline"\nepochs = 3\nseeds = 1\n'
                    '[vary]\n"device.read_noise_sigma_relative" = [0.0, 0.01]\n')
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", "--file", str(spec), "--out", str(out), "--quiet"]) == 0
    assert len(read_results(str(out)).records) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\n")
    assert cli.main(["sweep", "--file", str(bad), "--out", str(tmp_path / "x.jsonl")]) == 2
    whole = tmp_path / "half.toml"  # seeds = 1.5 in a file is refused too, never truncated
    whole.write_text('[experiment]\nseeds = 1.5\n[vary]\n"adc.range" = [1.0]\n')
    assert cli.main(["sweep", "--file", str(whole), "--out", str(tmp_path / "y.jsonl")]) == 2
    assert "seeds=1.5" in capsys.readouterr().err


def test_failed_points_stay_failed_until_retried(tmp_path, monkeypatch, capsys):
    """A point that fails at run time (not a bad value) is stored as failed, skipped by reruns, exits 1,
    and runs again with --retry-failed."""
    real = runner.train

    def flaky(exp, *args, **kwargs):
        if exp.training.seed == 1:
            raise FloatingPointError("loss is nan at epoch 1: training diverged")
        return real(exp, *args, **kwargs)

    monkeypatch.setattr(runner, "train", flaky)
    out = str(tmp_path / "r.jsonl")
    argv = ["sweep", "--epochs", "2", "--seeds", "2", "--vary", "adc.range=4,6", "--out", out, "--quiet"]
    assert cli.main(argv) == 1
    assert "2 point(s) of this sweep have failed" in capsys.readouterr().err
    failed = [r for r in read_results(out).records if r["status"] == "failed"]
    assert len(failed) == 2 and all("diverged" in r["error"] for r in failed)
    assert cli.main(argv) == 1  # a plain rerun skips them, and still says so
    assert "0 done now" in capsys.readouterr().out
    monkeypatch.setattr(runner, "train", real)
    assert cli.main(argv + ["--retry-failed"]) == 0
    latest = read_results(out).latest()
    assert len(latest) == 4 and all(r["status"] == "ok" for r in latest.values())
    assert len(read_results(out).records) == 6  # the failures are kept, superseded


@pytest.mark.slow
def test_unreachable_scheduler_is_refused_quickly_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    began = time.time()
    argv = ["sweep", "--epochs", "2", "--vary", "adc.range=4", "--scheduler", "tcp://127.0.0.1:9",
            "--out", str(out)]
    assert cli.main(argv) == 2
    assert time.time() - began < 20
    err = capsys.readouterr().err
    assert "tcp://127.0.0.1:9" in err and "could not be reached within 10 s" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_points_are_run_longest_first():
    experiment = sweep.base_experiment("airline", "ex_situ_one_shot")
    todo = sweep.points(experiment, {"training.epochs": [10, 300, 20]}, seeds=1)
    order = [dict(p.params)["training.epochs"] for p in sorted(todo, key=sweep.expected_cost, reverse=True)]
    assert order == [300, 20, 10]
    assert all(isinstance(dict(p.params)["training.epochs"], int) for p in todo)


def test_value_parsing():
    assert sweep.parse_values("0:1:3") == [0.0, 0.5, 1.0]
    assert sweep.parse_values("1,2,5") == [1.0, 2.0, 5.0]
    assert sweep.parse_values("log:1e-3:1e-1:3") == pytest.approx([1e-3, 1e-2, 1e-1])
    assert sweep.parse_vary(["hardware.way=in_situ,software"]) == {"hardware.way": ["in_situ", "software"]}


def _thread_settings(_):
    from threadpoolctl import threadpool_info

    import numba

    blas = [i["num_threads"] for i in threadpool_info() if i.get("internal_api") == "openblas"]
    return blas, numba.config.NUMBA_NUM_THREADS, os.environ.get("XBAR_THREADS")


def test_workers_run_on_one_thread_from_their_start():
    """A local worker's BLAS and Numba pool have one thread: set before numpy loaded, not after."""
    from xbar.workers import WorkerPool

    before = {name: os.environ.get(name) for name in sweep.WORKER_ENVIRONMENT}
    with WorkerPool(1, environment=sweep.WORKER_ENVIRONMENT) as pool:
        [(_, ok, value)] = list(pool.map_unordered(_thread_settings, [0]))
    assert ok, value
    blas, numba_threads, xbar_threads = value
    assert blas and set(blas) == {1} and numba_threads == 1 and xbar_threads == "1"
    assert {name: os.environ.get(name) for name in sweep.WORKER_ENVIRONMENT} == before  # the parent's stays
