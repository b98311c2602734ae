"""One experiment, one answer: xbar run, xbar sweep and runner.run agree bit for bit; watching a run changes
nothing; a validation split chooses (early stopping, the best epoch) and the test data never do."""

import csv
import json

import numpy as np
import pytest

from lstm.network import make_network
from lstm.optim import OptimizerConfig
from lstm.train import SoftwareTrainer, fit
from xbar import cli, runner
from xbar.experiment import load_experiment
from xbar.results import read_results


def _ramps(path, n=24, test_from=18, seed=4, test_target=None):
    """Noisy ramps of 5 to 8 steps, one input and a per-step target (a running level): regression, so that
    a metric changes with any bit. ``test_target`` replaces the test sequences' targets (t -> value)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        slope = rng.uniform(-1, 1)
        level = 0.0
        for t in range(int(rng.integers(5, 9))):
            u = slope + 0.3 * rng.standard_normal()
            level = 0.7 * level + u
            test = s >= test_from
            value = test_target(t) if (test and test_target is not None) else level
            rows.append({"run": f"id{100 + 7 * s}", "step": t, "split": "test" if test else "train",
                         "u": round(u, 6), "level": round(value, 6)})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


TOML = """[data]
path = "{data}"
sequence = "run"
time = "step"
split = "split"
target = ["level"]
features = ["u"]

[network]
hidden = [4]

[hardware]
preset = "li2019"
way = "in_situ"

[training]
epochs = {epochs}
learning_rate = 0.05
batch_size = 6
seed = 0
{extra}
"""


def _experiment(tmp_path, epochs=4, extra="", name="exp.toml", **ramps):
    _ramps(tmp_path / "ramps.csv", **ramps)
    path = tmp_path / name
    # a relative data path: xbar run, xbar sweep and load_experiment all take it from the file's folder
    path.write_text(TOML.format(data="ramps.csv", epochs=epochs, extra=extra))
    return path


def test_xbar_run_sweep_and_runner_give_one_answer_bit_for_bit(tmp_path, capsys):
    path = _experiment(tmp_path)
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run"), "--json", "--quiet"]) == 0
    by_run = json.loads(capsys.readouterr().out)
    assert cli.main(["sweep", "--file", str(path), "--vary", "training.epochs=4", "--out",
                     str(tmp_path / "sweep.jsonl"), "--quiet"]) == 0
    capsys.readouterr()
    record = read_results(str(tmp_path / "sweep.jsonl")).records[0]
    by_api = runner.run(load_experiment(str(path)), progress=False)
    metric = by_run["metric"]
    assert metric == "test_rmse" and by_run["hardware"][metric] > 0
    assert by_run["hardware"][metric] == record["metrics"][metric] == by_api["hardware"][metric]
    assert by_run["software"][metric] == record["metrics"][f"software_{metric}"] == by_api["software"][metric]
    assert by_run["hardware"]["energy_J"] == by_api["hardware"]["energy_J"]


def test_watching_a_run_changes_nothing(tmp_path):
    exp = load_experiment(str(_experiment(tmp_path, extra="validation = 0.25")))
    problem = runner.problem_of(exp)
    watched = runner.train(exp, problem, "in_situ", track=True)
    quiet = runner.train(exp, problem, "in_situ", track=False)
    assert not np.isnan(watched.history.watch).any() and np.isnan(quiet.history.watch).all()
    assert watched.history.metric == quiet.history.metric and watched.history.loss == quiet.history.loss
    assert watched.metric == quiet.metric
    for name in quiet.network.params:
        np.testing.assert_array_equal(watched.network.params[name], quiet.network.params[name])
    for a, b in zip(watched.hardware.chip.arrays, quiet.hardware.chip.arrays):
        np.testing.assert_array_equal(a.conductance, b.conductance)
        assert a.time == b.time
    assert watched.hardware.counters() == quiet.hardware.counters()
    assert watched.hardware.energy() == quiet.hardware.energy()


def test_keep_best_on_a_chip_is_the_chip_of_that_epoch_and_counts_all_work(tmp_path):
    exp = load_experiment(str(_experiment(tmp_path, epochs=8, extra='validation = 0.25\nkeep = "best"',
                                          seed=5)))
    problem = runner.problem_of(exp)
    best = runner.train(exp, problem, "in_situ")
    kept = best.training["epoch_kept"]
    assert best.training["validation_sequences"] == 4 and best.training["training_sequences"] == 14
    assert best.training["epochs_run"] == 8 and best.training["stopped"] == "epochs"
    assert kept == 1 + int(np.argmin(best.history.metric)) and kept < 8, best.history.metric
    shorter = runner.train(exp.with_values({"training.epochs": kept, "training.keep": "last"}), problem, "in_situ")
    for a, b in zip(best.hardware.chip.arrays, shorter.hardware.chip.arrays):
        np.testing.assert_array_equal(a.conductance, b.conductance)
    assert best.metric == shorter.metric
    assert best.hardware.energy() > shorter.hardware.energy()  # the later epochs' work stays counted


def test_early_stopping_and_the_kept_epoch_never_read_the_test_data(tmp_path):
    """Two files with the same training sequences and different test targets: the watched test curves would
    choose different epochs, the validation split chooses the same one in both."""
    extra = 'validation = 0.25\npatience = 3\nkeep = "best"'
    runs = []
    for k, target in enumerate((None, lambda t: 3.0 - 0.5 * t)):
        folder = tmp_path / f"f{k}"
        folder.mkdir()
        exp = load_experiment(str(_experiment(folder, epochs=30, extra=extra, test_target=target)))
        exp = exp.with_values({"hardware.way": "software"})
        runs.append(runner.train(exp, runner.problem_of(exp), None, track=True))
    first, second = runs
    assert int(np.argmin(first.history.watch)) != int(np.argmin(second.history.watch))  # the test would differ
    assert first.history.metric == second.history.metric and first.history.loss == second.history.loss
    assert first.training["epoch_kept"] == second.training["epoch_kept"]
    assert first.training["stopped"] == "patience" and first.training["epochs_run"] < 30
    for name in first.network.params:
        np.testing.assert_array_equal(first.network.params[name], second.network.params[name])


def test_result_keeps_the_users_ids_and_every_resolved_setting(tmp_path, capsys):
    path = _experiment(tmp_path, epochs=3, extra="validation = 0.25\npatience = 2")
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "persistence" in text and "validation sequences" in text
    result = json.loads((out / "result.json").read_text())
    network = result["settings"]["network"]
    assert (network["mode"], network["head"], network["loss"]) == ("seq2seq", "identity", "mse")
    assert result["settings"]["parameters"]["training.validation"] == 0.25
    assert result["settings"]["chip"]["adc_bits"] == 8 and result["settings"]["chip"]["dac_bits"] == 8  # li2019's
    assert result["baseline"]["name"] == "persistence" and result["baseline"]["test_rmse"] > 0
    for way in ("software", "hardware"):
        t = result["training"][way]
        assert t["validation_sequences"] == 4 and t["epochs_run"] >= 1 and t["stopped"] in ("epochs", "patience")
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert {r["sequence"] for r in rows} == {f"id{100 + 7 * s}" for s in range(18, 24)}
    history = list(csv.reader(open(out / "history.csv")))
    assert history[0] == ["epoch", "software_loss", "software_validation_rmse", "software_test_rmse_watched",
                          "hardware_loss", "hardware_validation_rmse", "hardware_test_rmse_watched"]
    assert (out / "predictions.png").stat().st_size > 0 and (out / "history.pdf").stat().st_size > 0
    with np.load(out / "conductances.npz") as f:
        assert f.files == ["array1"]


@pytest.mark.parametrize("extra, message", [
    ('keep = "best"', "training.keep='best' needs a validation split"),
    ("patience = 3", "training.patience=3 needs a validation split"),
    ('validation = 0.2\nkeep = "first"', "training.keep='first' is not allowed"),
    ("validation = 1.0", "training.validation=1.0 is out of range"),
    ("validation = 0.2\npatience = 0", "training.patience=0 is out of range"),
    ("validation = 0.01", "training.validation=0.01 holds out 0 of the 18 training sequence(s)"),
])
def test_validation_settings_are_refused_in_one_line_before_any_work(tmp_path, capsys, extra, message):
    path = _experiment(tmp_path, extra=extra)
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out" / "result.json").exists()


def test_a_checkpoint_of_more_epochs_than_asked_is_refused(tmp_path):
    from lstm import tasks

    data = tasks.vowels().train.subset(np.arange(30))
    path = str(tmp_path / "run.npz")

    def run(epochs):
        net = make_network(12, [4], 9, seed=3, head="softmax", loss="cross_entropy", mode="seq2vec")
        return fit(SoftwareTrainer(net), data, epochs, 10, OptimizerConfig("adam", 0.01), checkpoint=path,
                   progress=False)

    assert len(run(6).epoch) == 6
    with pytest.raises(ValueError, match=r"checkpoint .*run.npz holds 6 epochs; this run asks for 3"):
        run(3)
    assert len(run(6).epoch) == 6 and len(run(7).epoch) == 7  # the same or more: resumed


def test_reproduce_refuses_a_checkpoint_of_more_epochs_in_one_line(tmp_path, capsys):
    folder = str(tmp_path / "ck")
    assert cli.main(["reproduce", "airline", "--epochs", "4", "--checkpoint", folder, "--out", "", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["reproduce", "airline", "--epochs", "2", "--checkpoint", folder, "--out", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds 4 epochs; this run asks for 2" in err[0], err


# --------------------------------------------------------------------------- data a user gives, refused in one line
def _csv(path, header, rows, bom=False):
    text = "\n".join([",".join(header)] + [",".join(str(v) for v in row) for row in rows]) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def _sequences(n=8, label=lambda s: "ab"[s % 2], feature=lambda s, t: 0.1 * s + t):
    return [[f"s{s}", t, label(s), feature(s, t)] for s in range(n) for t in range(3)]


def _load(path, **data):
    from xbar.experiment import DataSection
    from xbar.problems import load_problem

    return load_problem(DataSection(path=str(path), **data), seed=0)


def test_a_csv_with_a_byte_order_mark_reads_as_without(tmp_path):
    header = ["run", "t", "kind", "a"]
    plain = _load(_csv(tmp_path / "plain.csv", header, _sequences()), sequence="run", time="t", label="kind")
    marked = _load(_csv(tmp_path / "bom.csv", header, _sequences(), bom=True), sequence="run", time="t",
                   label="kind")
    np.testing.assert_array_equal(plain.train.x, marked.train.x)
    assert marked.test_ids == plain.test_ids and marked.test_ids[0].startswith("s")


@pytest.mark.parametrize("case, message", [
    ("empty_label", r"bad.csv, line 10: kind \(data.label\) is empty"),
    ("duplicate", r"bad.csv: column 'a' appears twice \(columns 4 and 5\)"),
    ("extra_field", r"bad.csv, line 3: 5 fields, the header has 4"),
    ("missing_field", r"bad.csv, line 3: 3 fields, the header has 4"),
    ("overflow", r"bad.csv: feature 'a' reaches 1.7e\+308; data.headroom=1.25 times that overflows"),
])
def test_bad_csv_data_is_refused_naming_the_file(tmp_path, case, message):
    header, rows = ["run", "t", "kind", "a"], _sequences()
    if case == "empty_label":
        rows[8][2] = ""  # the last step of sequence s2 (line 10), where its class is read
    elif case == "duplicate":
        header, rows = header + ["a"], [row + [9.0] for row in rows]
    elif case == "extra_field":
        rows[1].append(5.0)
    elif case == "missing_field":
        rows[1] = rows[1][:3]
    elif case == "overflow":
        rows[0][3] = 1.7e308
    path = _csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ValueError, match=message):
        _load(path, sequence="run", time="t", label="kind")


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("complex_x", r"x is complex \(complex128\); real numbers are required"),
    ("complex_y", r"y is complex"),
    ("y_steps", r"y has shape \(6, 5, 1\); y of shape \(6,\)"),
    ("y_sequences", r"y has shape \(4,\), x has 6 sequences"),
    ("y_int_2d", r"y holds integers \(class indices\) of shape \(6, 3\)"),
    ("y_4d", r"y has shape \(6, 3, 1, 1\)"),
])
def test_bad_npz_arrays_are_refused_naming_the_file(tmp_path, case, message):
    x = np.random.default_rng(0).uniform(-1, 1, (6, 3, 2))
    y = np.arange(6) % 2
    arrays = {"complex_x": dict(x=x + 1j, y=y), "complex_y": dict(x=x, y=y + 0.5j),
              "y_steps": dict(x=x, y=np.zeros((6, 5, 1))), "y_sequences": dict(x=x, y=np.zeros(4)),
              "y_int_2d": dict(x=x, y=np.zeros((6, 3), dtype=np.int64)), "y_4d": dict(x=x, y=np.zeros((6, 3, 1, 1)))}
    path = _npz(tmp_path / "bad.npz", **arrays[case])
    with pytest.raises(ValueError, match=r"bad.npz: " + message):
        _load(path)


@pytest.mark.parametrize("damage", ["truncated", "crc"])
def test_damaged_npz_data_is_one_line_through_xbar_run(tmp_path, capsys, damage):
    rng = np.random.default_rng(0)
    path = _npz(tmp_path / "data.npz", x=rng.uniform(-1, 1, (20, 4, 2)), y=rng.uniform(size=20))
    raw = bytearray(path.read_bytes())
    if damage == "truncated":
        raw = raw[:len(raw) // 2]
    else:  # one byte of x's data flipped: the stored CRC no longer matches
        raw[200] ^= 0xFF
    path.write_bytes(bytes(raw))
    (tmp_path / "exp.toml").write_text(f'[data]\npath = "{path}"\n\n[network]\nhidden = [3]\n')
    assert cli.main(["run", str(tmp_path / "exp.toml"), "--out", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"data.path='{path}': not a readable .npz" in err[0], err


def test_save_chip_without_a_folder_or_a_chip_is_refused_before_any_work(tmp_path, capsys):
    path = _experiment(tmp_path)
    assert cli.main(["run", str(path), "--out", "", "--save-chip"]) == 2
    assert cli.main(["run", str(path), "--out", str(tmp_path / "o"), "--save-chip", "--set", "hardware.way",
                     "software"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "give --out FOLDER" in err[0] and "no chip is trained" in err[1], err
    assert not (tmp_path / "o").exists()


def _fit_best(epochs, checkpoint=None, patience=None):
    from lstm import tasks

    task = tasks.vowels()
    train, validation = task.train.subset(np.arange(0, 60, 2)), task.train.subset(np.arange(1, 60, 2))
    net = make_network(12, [4], 9, seed=3, head="softmax", loss="cross_entropy", mode="seq2vec")

    def error():
        return 1.0 - task.accuracy(net.predict(validation.x, validation.mask), validation.y)

    history = fit(SoftwareTrainer(net), train, epochs, 10, OptimizerConfig("adam", 0.2), seed=1, metric=error,
                  keep="best", patience=patience, checkpoint=checkpoint, progress=False)
    return history, net


def test_keep_best_and_early_stopping_resume_from_a_checkpoint_as_uninterrupted(tmp_path):
    whole, net = _fit_best(10)
    assert whole.kept < 5 and whole.stopped == "epochs", whole.metric  # an earlier epoch is kept
    path = str(tmp_path / "best.npz")
    _fit_best(6, path)
    resumed, resumed_net = _fit_best(10, path)
    assert resumed.kept == whole.kept and resumed.metric == whole.metric
    for name in net.params:
        np.testing.assert_array_equal(net.params[name], resumed_net.params[name])
    stopped, _ = _fit_best(30, str(tmp_path / "stop.npz"), patience=2)
    assert stopped.stopped == "patience" and len(stopped.epoch) < 30
    again, _ = _fit_best(30, str(tmp_path / "stop.npz"), patience=2)  # a stopped run stays stopped
    assert again.epoch == stopped.epoch and again.kept == stopped.kept


def test_xbar_run_chip_scores_a_saved_chip_as_the_run_did(tmp_path, capsys):
    """``xbar run OUT/experiment.toml --chip OUT/chip.npz`` gives the run's hardware metric bit for bit, with
    the run's --set values taken from the experiment the run wrote; another network is refused by name."""
    path = _experiment(tmp_path)
    out = tmp_path / "o"
    assert cli.main(["run", str(path), "--out", str(out), "--save-chip", "--quiet", "--json",
                     "--set", "adc.bits=6"]) == 0
    ran = json.loads(capsys.readouterr().out)
    metric = ran["metric"]
    assert load_experiment(str(out / "experiment.toml")).value_of("adc.bits") == 6
    assert cli.main(["run", str(out / "experiment.toml"), "--chip", str(out / "chip.npz"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["hardware"][metric] == ran["hardware"][metric]
    assert cli.main(["run", str(out / "experiment.toml"), "--chip", str(out / "chip.npz"),
                     "--set", "network.hidden=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chip.npz" in err[0] and "another network" in err[0], err
    assert cli.main(["run", str(path), "--chip", str(tmp_path / "none.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
