"""Experiments from one file: round trips, dotted names, your own CSV and NPZ data, xbar run, saved chips."""

import csv
import json

import numpy as np
import pytest

from lstm.hardware import HardwareNetwork
from xbar import cli, runner, sweep
from xbar.experiment import (DataSection, Experiment, NetworkSection, TrainingSection, li2019, load_experiment,
                             parameter, parameters)
from xbar.results import read_results


def _waves(path, n=60, test_from=45, seed=1):
    """Three classes of noisy sine waves of different frequencies, 6 to 11 steps each, two features."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        k = s % 3
        phase = rng.uniform(0, 6.28)
        for t in range(int(rng.integers(6, 12))):
            rows.append({"run": f"r{s}", "step": t, "split": "test" if s >= test_from else "train",
                         "kind": ["slow", "mid", "fast"][k], "level": 0.5 * k + 0.1 * t,
                         "a": np.sin((0.3 + 0.4 * k) * t + phase) + 0.1 * rng.standard_normal(),
                         "b": 2 * np.cos((0.3 + 0.4 * k) * t + phase)})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


GRU_TOML = """[data]
path = "waves.csv"
sequence = "run"
time = "step"
split = "split"
label = "kind"
features = ["a", "b"]

[network]
cell = "gru"
hidden = [10, 6]

[hardware]
preset = "li2019"
way = "in_situ"

[training]
epochs = 12
optimizer = "rmsprop"
learning_rate = 0.02
batch_size = 15
seed = 2
"""


@pytest.mark.slow
def test_user_csv_with_a_two_layer_gru_runs_and_its_chip_reloads_to_the_same_metric(tmp_path, capsys):
    _waves(tmp_path / "waves.csv")
    (tmp_path / "gru.toml").write_text(GRU_TOML)
    out = tmp_path / "results"
    assert cli.main(["run", str(tmp_path / "gru.toml"), "--out", str(out), "--save-chip", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "test_accuracy" and result["way"] == "in_situ"
    assert 0.0 <= result["hardware"]["test_accuracy"] <= 1.0 and result["software"]["test_accuracy"] > 0.5
    for name in ("result.json", "history.csv", "predictions.csv", "confusion_software.csv", "confusion_hardware.csv",
                 "conductances.npz", "conductances_array1.csv", "chip.npz", "history.png", "history.pdf",
                 "confusion.png", "conductance_map.png", "conductance_map.pdf", "conductance_histogram.pdf"):
        assert (out / name).stat().st_size > 0, name
    history = list(csv.reader(open(out / "history.csv")))
    assert history[0] == ["epoch", "software_loss", "software_test_accuracy_watched", "hardware_loss",
                          "hardware_test_accuracy_watched"] and len(history) == 13
    # the saved chip gives the run's test outputs, hence its metric, bit for bit
    experiment = load_experiment(str(tmp_path / "gru.toml"))
    problem = runner.problem_of(experiment)
    chip = HardwareNetwork.load(str(out / "chip.npz"))
    assert chip.network.config.cell == "gru" and chip.network.config.hidden == (10, 6)
    assert problem.score(chip.predict(problem.test_x, problem.test_mask)) == result["hardware"]["test_accuracy"]
    predictions = list(csv.reader(open(out / "predictions.csv")))
    assert predictions[0] == ["sequence", "truth", "software", "hardware"] and len(predictions) == 16


@pytest.mark.slow
def test_npz_regression_per_step_and_per_sequence(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (40, 7, 2))
    lengths = rng.integers(4, 8, 40)
    y_steps = 10.0 + np.cumsum(x[:, :, :1], axis=1)  # (40, 7, 1): a running sum, in its own units
    np.savez(tmp_path / "sums.npz", x=x, y=y_steps, lengths=lengths)
    base = Experiment(DataSection(path=str(tmp_path / "sums.npz"), test_fraction=0.25),
                      NetworkSection(hidden=(8,)), training=TrainingSection(epochs=40, learning_rate=0.02, batch_size=10))
    for mode in ("seq2seq", "seq2vec"):
        exp = base.with_values({"network.mode": mode, "hardware.way": "ex_situ_one_shot"})
        problem = runner.problem_of(exp)
        assert problem.kind == "regression" and problem.mode == mode and problem.train.x.shape[0] == 30
        assert np.abs(problem.train.x).max() <= 1.0  # scaled into the DAC's range
        result = runner.run(exp, out=str(tmp_path / mode), progress=False)
        truth_spread = float(np.std(problem.test_truth))
        assert result["software"]["test_rmse"] < truth_spread  # learned something, in the targets' units
        assert result["hardware"]["test_rmse"] > 0
        rows = list(csv.reader(open(tmp_path / mode / "predictions.csv")))
        dims = ["sequence", "step", "target"] if mode == "seq2seq" else ["sequence", "target"]
        assert rows[0] == dims + ["truth", "software", "hardware"]
        assert {r[len(dims) - 1] for r in rows[1:]} == {"y0"}  # an NPZ's one target, by name
        if mode == "seq2seq":  # steps counted from 1, as the figures count them, each sequence to its length
            steps = [int(r[1]) for r in rows[1:]]
            assert min(steps) == 1 and len(rows) - 1 == int(problem.test_mask.sum())


def test_round_trips_to_toml_and_json():
    exp = li2019("vowels").with_values({"device.pulse_law.step_up": 2e-6, "device.program_noise_sigma": 3e-6,
                                        "encoding.siemens_per_weight": 80e-6, "adc.bits": 6,
                                        "wires.row_segment_ohms": 1.5, "wires.col_segment_ohms": 2.0,
                                        "training.learning_rate": 0.005, "hardware.way": "hardware_aware"})
    import tomllib

    assert Experiment.from_dict(tomllib.loads(exp.to_toml())) == exp
    assert Experiment.from_dict(json.loads(exp.to_json())) == exp
    assert exp.device_model().pulse_law.step_up == 2e-6 and exp.device_model().two_pulse.gate_slope == 98e-6
    assert exp.wires.resistance().row_segment_ohms == 1.5 and exp.encoding_config().siemens_per_weight == 80e-6


@pytest.mark.parametrize("values, message", [
    ({"adc.bits": 6.5}, "adc.bits=6.5 is not allowed; a whole number"),
    ({"device.program_noise_sigma": -1e-6}, "program_noise_sigma=-1e-06 is out of range"),
    ({"device.nonsense": 1.0}, "parameter 'device.nonsense' is not known"),
    ({"hardware.way": "sideways"}, "hardware.way='sideways' is not allowed"),
    ({"wires.row_segment_ohms": 1.0}, "give both segment resistances"),
    ({"training.epochs": 0}, "training.epochs=0 is out of range"),
    ({"training.learning_rate": 1e18}, "training.learning_rate=1e.18 is out of range; allowed (0, 1000]"),  # was: a segfault in situ
])
def test_bad_values_name_the_field(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        li2019("airline").with_values(values)


def test_preset_without_two_pulse_has_no_two_pulse_names():
    exp = li2019("airline").with_values({"hardware.preset": "hfo2_soft_bounds"})
    names = {p.name for p in parameters(exp)}
    assert "device.pulse_law.step_up" in names and not any(n.startswith("device.two_pulse") for n in names)
    with pytest.raises(ValueError, match="not known"):
        parameter("device.two_pulse.gate_slope", exp)


def test_every_listed_parameter_can_be_swept_and_records_carry_resolved_values(tmp_path, capsys):
    """Each name --list-params prints is swept (one point each, on a tiny experiment) and comes back resolved."""
    _waves(tmp_path / "waves.csv", n=12, test_from=9)
    base = Experiment(DataSection(path=str(tmp_path / "waves.csv"), sequence="run", time="step", split="split",
                                  label="kind", features=("a", "b")), NetworkSection(hidden=(3,)),
                      training=TrainingSection(epochs=1, batch_size=9))
    alternative = {"device.n_levels": 16, "array.count": 4, "adc.bits": 6, "dac.bits": 6, "training.clip_norm": 5.0,
                   "wires.row_segment_ohms": 0.0, "wires.col_segment_ohms": 0.0, "encoding.scale": "max_abs"}
    assert cli.main(["sweep", "--list-params"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert len(listed) > 50 and "device.two_pulse.gate_slope" in listed and "training.learning_rate" in listed
    for p in parameters(base):
        value = alternative.get(p.name, base.value_of(p.name))
        if value is None or p.name == "hardware.placement":
            continue
        todo = sweep.points(base, {p.name: [value]}, seeds=1)
        path = str(tmp_path / f"{p.name}.jsonl")
        counts = sweep.run_sweep(todo, path, progress=False)
        assert counts["done"] == 1, (p.name, read_results(path).records[-1].get("error"))
        record = read_results(path).records[0]
        assert record["resolved"][p.name] == (list(value) if isinstance(value, tuple) else value), p.name


def test_xbar_run_refuses_bad_data_in_one_line(tmp_path, capsys):
    _waves(tmp_path / "waves.csv")
    cases = [('label = "kind"', 'label = "nope"', "no column 'nope'"),
             ('split = "split"', 'split = "kind"', "has split"),
             ('features = ["a", "b"]', 'features = ["a", "kind"]', "is not a number"),
             ('hidden = [10, 6]', 'hidden = [10, 0]', "network.hidden[1]=0 is out of range")]
    for old, new, message in cases:
        (tmp_path / "bad.toml").write_text(GRU_TOML.replace(old, new))
        assert cli.main(["run", str(tmp_path / "bad.toml"), "--out", ""]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_li2019_experiments_are_the_papers():
    airline = li2019("airline")
    config = runner.network_config(airline, runner.problem_of(airline))
    assert config.hidden == (15,) and config.head == "sigmoid" and config.reduction == "sum"
    assert airline.training.optimizer == "sgd" and airline.training.momentum == 0.9
    assert airline.training.epochs == 800 and airline.encoding_config().scale == "fits"
    net = runner.build_trainer(airline, runner.problem_of(airline), "in_situ")[2]
    assert net.matrices["layer0.W"].scale == 100e-6  # Li et al.'s network fits their 100 uS per unit weight
    vowels = li2019("vowels")
    assert vowels.training.batch_size == 50 and not vowels.network.bias and vowels.training.epochs == 50


def test_optional_settings_are_unset_by_none(tmp_path):
    """An optional key (training.patience, training.clip_norm, array.write_scheme, ...) is set back to unset
    by ``none`` (or ``null``), so a file with early stopping runs without it from the command line; a
    required one refuses ``none``; an integer's refusal says a whole number is wanted."""
    exp = li2019("airline", epochs=3).with_values({"training.validation": 0.2, "training.patience": 2,
                                                   "training.clip_norm": 5.0})
    plain = exp.with_values({"training.patience": "none", "training.validation": 0, "training.clip_norm": "null"})
    assert plain.training.patience is None and plain.training.clip_norm is None
    assert plain.to_dict() == li2019("airline", epochs=3).to_dict()  # the same experiment, the same sweep key
    args = cli.build_parser().parse_args(cli._split_settings(
        ["run", "e.toml", "--set", "training.patience=none", "--set", "training.validation", "0"]))
    assert cli.with_settings(exp, args.set).training.patience is None
    vary = sweep.parse_vary(["adc.bits=none,6", "training.clip_norm=null,5"], exp)  # swept too
    todo = sweep.points(exp, vary, seeds=1)
    assert sorted((p.resolved().adc.bits is None, p.resolved().training.clip_norm is None) for p in todo) == [
        (False, False), (False, True), (True, False), (True, True)]
    with pytest.raises(ValueError, match="training.epochs='none'"):
        exp.with_values({"training.epochs": "none"})
    with pytest.raises(ValueError, match="training.patience='x' is not allowed; a whole number is required "
                                         r"\(or none to leave it unset\)"):
        exp.with_values({"training.patience": "x"})


@pytest.mark.parametrize("section, key, value, words", [
    ("training", "learning_rate", True, "training.learning_rate=True is not allowed; a finite real number"),
    ("data", "headroom", True, "data.headroom=True is not allowed"),
    ("adc", "range", True, "adc.range=True is not allowed"),
    ("array", "switching_voltage", "x", "array.switching_voltage='x' is not allowed"),
    ("array", "write_voltage", -3.0, r"array.write_voltage=-3.0 is out of range; allowed \(0, 20\] V"),
])
def test_a_file_value_of_the_wrong_type_is_refused_by_its_name(section, key, value, words):
    """A TOML file's true or text where a number belongs (float(True) is 1.0) is refused, not written back."""
    table = li2019("vowels").to_dict()
    table[section] = {**table.get(section, {}), key: value}
    with pytest.raises(ValueError, match=words):
        Experiment.from_dict(table)


def test_reading_a_file_leaves_its_table_as_it_was(tmp_path):
    """Relative paths are resolved into the experiment, not into the caller's table."""
    from xbar.experiment import experiment_from_table

    table = {"data": {"path": "waves.csv", "sequence": "run", "label": "kind"},
             "device": {"pulse_law": {"kind": "table", "table": "fit.npz"}}}
    before = json.loads(json.dumps(table))
    try:
        experiment_from_table(table, str(tmp_path / "exp.toml"))
    except ValueError:
        pass  # the files do not exist; what matters is the table
    assert table == before
