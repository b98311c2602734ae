"""Issue 27, the command line: a varied seed is the seed run, sweep files and values refused in one line,
every documented key settable and sweepable, results files through links, limits, clear messages."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from crossbar import AdcSpec
from xbar import cli, runner, sweep
from xbar.experiment import (DataSection, Experiment, HardwareSection, NetworkSection, TrainingSection, li2019,
                             parameters)
from xbar.results import ResultsWriter, read_results

from .test_experiment import _waves

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _record(key, seed=0, **params):
    return {"format": "xbar-sweep/1", "key": key, "experiment": {"data": {"task": "airline"}},
            "params": params or {"adc.bits": 4}, "seed": seed, "status": "ok",
            "metrics": {"test_rmse": 50.0 + seed, "software_test_rmse": 40.0}}


# --------------------------------------------------------------------------- 1. silently wrong
def test_a_varied_training_seed_is_the_seed_each_point_runs(tmp_path, capsys):
    out = str(tmp_path / "seeds.jsonl")
    assert cli.main(["sweep", "--way", "ex_situ_one_shot", "--epochs", "2", "--vary", "training.seed=0,1",
                     "--out", out, "--quiet"]) == 0
    records = {r["params"]["training.seed"]: r for r in read_results(out).records}
    assert sorted(records) == [0, 1]
    assert records[0]["metrics"] != records[1]["metrics"]  # the same seed twice gave the same numbers
    for seed, record in records.items():
        assert record["seed"] == seed and record["resolved"]["training.seed"] == seed
        direct = runner.run(li2019("airline", seed=seed, epochs=2, way="ex_situ_one_shot"), progress=False)
        assert record["metrics"] == {"software_test_rmse": direct["software"]["test_rmse"],
                                     "test_rmse": direct["hardware"]["test_rmse"]}
    # varied seeds and --seeds/--seed together are refused: which seeds would run is not clear
    for extra in (["--seeds", "2"], ["--seed", "3"]):
        assert cli.main(["sweep", "--epochs", "2", "--vary", "training.seed=0,1", *extra,
                         "--out", str(tmp_path / "x.jsonl")]) == 2
        assert "training.seed is varied" in _one_line(capsys)
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("vary, message", [
    (["adc.bits=4,4"], "--vary adc.bits: the value 4 is given twice"),
    (["adc.range=1,1.0"], "--vary adc.range: the value 1 is given twice"),
    (["hardware.way=in_situ,in_situ"], "the value in_situ is given twice"),
    (["adc.bits=4", "adc.bits=6"], "--vary adc.bits is given twice"),
])
def test_a_value_or_a_name_given_twice_is_refused(tmp_path, capsys, vary, message):
    argv = ["sweep", "--epochs", "2", "--out", str(tmp_path / "r.jsonl")]
    for item in vary:
        argv += ["--vary", item]
    assert cli.main(argv) == 2
    assert message in _one_line(capsys)
    assert os.listdir(tmp_path) == []


def test_a_name_in_the_file_and_on_the_command_line_is_refused(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntask = "airline"\nepochs = 2\n[vary]\n"adc.bits" = [4, 6]\n')
    assert cli.main(["sweep", "--file", str(spec), "--vary", "adc.bits=8", "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert "--vary adc.bits" in line and str(spec) in line and not (tmp_path / "r.jsonl").exists()


# --------------------------------------------------------------------------- 2. seeds alone, malformed files
def test_seeds_alone_are_a_sweep_and_relative_data_paths_come_from_the_file(tmp_path, monkeypatch, capsys):
    """An experiment file with no [vary] and --seeds 2 runs two points; its relative data.path is read from
    the file's folder whatever the working folder (as xbar run reads it)."""
    folder = tmp_path / "exp"
    folder.mkdir()
    _waves(folder / "waves.csv", n=12, test_from=9)
    (folder / "exp.toml").write_text('[data]\npath = "waves.csv"\nsequence = "run"\ntime = "step"\n'
                                     'split = "split"\nlabel = "kind"\nfeatures = ["a", "b"]\n'
                                     '[network]\nhidden = [3]\n[hardware]\nway = "software"\n'
                                     '[training]\nepochs = 1\nbatch_size = 9\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = str(tmp_path / "seeds.jsonl")
    assert cli.main(["sweep", "--file", str(folder / "exp.toml"), "--seeds", "2", "--out", out, "--quiet"]) == 0
    records = read_results(out).records
    assert sorted(r["seed"] for r in records) == [0, 1] and all(r["status"] == "ok" for r in records)
    assert all(r["params"] == {} for r in records)
    assert records[0]["experiment"]["data"]["path"] == str(folder / "waves.csv")
    assert cli.main(["plot", out, "--out", str(tmp_path / "seeds.png")]) == 0  # drawn against the seed
    assert (tmp_path / "seeds.png").stat().st_size > 1000
    # a file alone, one seed: one point, the experiment as it is (its record the first seed's, bit for bit)
    one = str(tmp_path / "one.jsonl")
    assert cli.main(["sweep", "--file", str(folder / "exp.toml"), "--out", one, "--quiet"]) == 0
    (single,) = read_results(one).records
    assert single["seed"] == 0 and single["metrics"] == next(r for r in records if r["seed"] == 0)["metrics"]
    # no file and nothing varied: nothing to vary
    capsys.readouterr()
    assert cli.main(["sweep", "--out", str(tmp_path / "none.jsonl")]) == 2
    assert "nothing to vary" in _one_line(capsys) and not (tmp_path / "none.jsonl").exists()


@pytest.mark.parametrize("text, words", [
    ("experiment = 3\n", ["[experiment] is an integer", "a table is required"]),
    ("experiment = [1, 2]\n", ["[experiment] is an array", "a table is required"]),
    ('network = 5\n[data]\ntask = "vowels"\n[vary]\n"adc.bits" = [4]\n', ["[network] is an integer",
                                                                          "a table is required"]),
    ('network = "lstm"\n[data]\ntask = "vowels"\n', ["[network] is a string", "a table is required"]),
    ('vary = "adc.bits=4"\n[experiment]\ntask = "airline"\n', ["[vary] is a string", "a table is required"]),
    ('sweep = 2\n[data]\ntask = "vowels"\n', ["[sweep] is an integer", "a table is required"]),
    ('[experiment]\ntask = 3\n[vary]\n"adc.bits" = [4]\n', ["task is an integer", "a string is required"]),
    ('[experiment]\ntask = "airline"\n[vary]\n"adc.bits" = {a = 1}\n', ["[vary] adc.bits is a table"]),
    ('[experiment]\ntask = "airline"\n[adc]\nbits = 4\n[vary]\n"adc.range" = [1]\n', ["[adc] beside"]),
])
def test_a_malformed_sweep_file_is_one_line_naming_the_file_key_and_types(tmp_path, capsys, text, words):
    spec = tmp_path / "s.toml"
    spec.write_text(text)
    before = sorted(os.listdir(tmp_path))
    assert cli.main(["sweep", "--file", str(spec), "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert str(spec) in line and all(w in line for w in words), line
    assert "dictionary update" not in line and sorted(os.listdir(tmp_path)) == before


def test_a_binary_sweep_file_is_named(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    assert cli.main(["sweep", "--file", str(spec), "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert str(spec) in line and "not a text file" in line


def test_an_experiment_file_with_a_section_of_the_wrong_type_is_one_line(tmp_path, capsys):
    spec = tmp_path / "e.toml"
    spec.write_text('network = "gru"\n[data]\ntask = "vowels"\n')
    assert cli.main(["run", str(spec), "--out", ""]) == 2
    line = _one_line(capsys)
    assert str(spec) in line and "[network] is a string" in line and "a table is required" in line


# --------------------------------------------------------------------------- 3. every documented key
def _documented_keys():
    """``section.key`` of every key the experiment module's text and the guide's table of sections name
    (``[device]`` and the guide's ``[encoding]`` row name any field of another class: left out here)."""
    import xbar.experiment

    keys = set()
    for section, rest in re.findall(r"^\s*\[(\w+)\]\s+(.+?)(?=^\s*\[|\Z)",
                                    xbar.experiment.__doc__.split("::")[1].split("``hardware.periphery``")[0],
                                    re.M | re.S):
        if rest.startswith("any field"):
            continue
        for word in re.split(r"[,\s]+|\bor\b|\(.*?\)", rest):
            if re.fullmatch(r"[a-z_]+", word or "") and word not in ("or", "and", "ideal", "wires"):
                keys.add(f"{section}.{word}")
    guide = (ROOT / "docs" / "guide.md").read_text()
    for section, cell in re.findall(r"^\| `\[(\w+)\]` \| (.*) \|$", guide, re.M):
        if section == "device":
            continue
        while re.search(r"\([^()]*\)", cell):
            cell = re.sub(r"\([^()]*\)", "", cell)
        for word in re.findall(r"`([a-z_]+)`", cell):
            keys.add(f"{section}.{word}")
    return keys


SET_TEXT = {"data.task": "vowels", "data.target": "a", "data.features": "a,b", "data.label": "kind",
            "data.time": "step", "data.split": "split", "data.sequence": "run", "data.path": "waves.csv",
            "data.test_fraction": "0.3", "data.headroom": "1.5", "network.hidden": "4,3", "network.head": "softmax",
            "network.mode": "seq2vec", "network.loss": "cross_entropy", "network.bias": "false",
            "hardware.ideal_converters": "true", "hardware.placement": "first_fit", "hardware.start": "li2019",
            "hardware.periphery": "isaac", "hardware.seconds_before_test": "10", "array.count": "4",
            "array.write_scheme": "v_half", "adc.bits": "6", "adc.kind": "sar", "adc.amplifier_gain": "1e4",
            "adc.capacitor_mismatch_sigma": "0.01", "adc.comparator_offset_sigma_lsb": "0.2",
            "adc.columns_per_converter": "2", "dac.bits": "6", "dac.inputs": "bit_serial",
            "dac.conversion": "accumulate", "dac.bits_per_cycle": "2", "slicing.weight_bits": "8",
            "training.clip_norm": "5",
            "training.optimizer": "sgd", "encoding.scheme": "column_pairs", "encoding.scale": "percentile",
            "network.reduction": "sum", "network.cell": "gru", "array.read_scheme": "floating",
            "training.validation": "0.25", "training.patience": "3", "training.keep": "best",
            "encoding.scale_by": "column", "hardware.drift_compensation": "global",
            "update.algorithm": "mixed_precision", "update.max_pulses": "2", "update.rows_per_transfer": "3",
            "update.pulse_trains": "stochastic", "update.update_management": "false"}
"""A value (as typed after --set) for keys whose default is absent or whose default would prove nothing."""
WITH = {"dac.bits_per_cycle": {"dac.inputs": "bit_serial"}, "dac.conversion": {"dac.inputs": "bit_serial"},
        "training.patience": {"training.validation": 0.25}, "training.keep": {"training.validation": 0.25},
        "update.algorithm": {"hardware.way": "in_situ", "hardware.preset": "hfo2_soft_bounds"},
        **{f"update.{name}": {"hardware.way": "in_situ", "hardware.preset": "hfo2_soft_bounds",
                              "update.algorithm": "agad"}
           for name in ("threshold_steps", "max_pulses", "transfer_every", "rows_per_transfer", "fast_lr",
                        "transfer_lr", "chop_probability")},
        "update.pulse_trains": {"hardware.way": "in_situ", "hardware.preset": "hfo2_soft_bounds",
                                "training.optimizer": "sgd"},
        **{f"update.{name}": {"hardware.way": "in_situ", "hardware.preset": "hfo2_soft_bounds",
                              "training.optimizer": "sgd", "update.pulse_trains": "stochastic"}
           for name in ("bit_length", "update_management")}}
"""Keys that need another key set first."""


def _bases(folder):
    _waves(folder / "waves.csv", n=12, test_from=9)
    data = dict(path=str(folder / "waves.csv"), sequence="run", time="step", split="split", features=("a", "b"))
    training = TrainingSection(epochs=1, batch_size=9)
    sar = AdcSpec(kind="sar")
    way = HardwareSection(way="ex_situ_one_shot")
    return [Experiment(DataSection(label="kind", **data), NetworkSection(hidden=(3,)), way, adc=sar,
                       training=training),
            Experiment(DataSection(target=("a",), **{**data, "features": ("b",)}), NetworkSection(hidden=(3,)),
                       way, adc=sar, training=training),
            li2019("vowels", epochs=1, way="ex_situ_one_shot").with_values({"hardware.placement": "first_fit"})]


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return f"{value!r}" if isinstance(value, float) else str(value)


def test_every_documented_key_can_be_set_and_swept(tmp_path):
    keys = _documented_keys()
    assert len(keys) > 55 and {"hardware.ideal_converters", "network.hidden", "network.loss", "data.headroom",
                               "adc.amplifier_gain", "encoding.scheme", "training.seed"} <= keys
    bases = _bases(tmp_path)
    names = {p.name for p in parameters(bases[0])}
    assert not keys - names, sorted(keys - names)
    for key in sorted(keys):
        errors = []
        for base in bases:
            base = base.with_values(WITH.get(key, {}))
            text = str(tmp_path / "waves.csv") if key == "data.path" else SET_TEXT.get(key)
            if text is None:
                if base.value_of(key) is None:
                    continue
                text = _text(base.value_of(key))
            try:  # --set NAME=VALUE, as typed
                argv = cli._split_settings(["run", "e.toml", "--set", f"{key}={text}"])
                args = cli.build_parser().parse_args(argv)
                changed = cli.with_settings(base, args.set)
                wanted = sweep.parameter(key, base).coerce(text)
                assert changed.value_of(key) == wanted
                vary = f"[{text}]" if sweep.parameter(key, base).kind in ("ints", "texts") else text
                todo = sweep.points(base, sweep.parse_vary([f"{key}={vary}"], base), seeds=1)
                sweep.validate(todo)  # built, checked, its data read
                assert todo[0].resolved().value_of(key) == wanted
                break
            except ValueError as error:
                errors.append(str(error))
        else:
            pytest.fail(f"{key}: {errors}")


def test_unknown_names_are_answered_with_the_closest(tmp_path, capsys):
    assert cli.main(["sweep", "--vary", "adc.bitz=4,6", "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert "closest: adc.bits" in line and "device.g_min" not in line and len(line) < 200
    exp = tmp_path / "e.toml"
    exp.write_text('[data]\ntask = "airline"\n')
    assert cli.main(["run", str(exp), "--set", "ideal_converters", "true", "--out", ""]) == 2
    assert "closest: hardware.ideal_converters" in _one_line(capsys)


# --------------------------------------------------------------------------- 4. --set in the stored experiment
def test_set_values_are_stored_with_the_saved_chip(tmp_path, capsys):
    _waves(tmp_path / "waves.csv", n=12, test_from=9)
    (tmp_path / "e.toml").write_text('[data]\npath = "waves.csv"\nsequence = "run"\ntime = "step"\n'
                                     'split = "split"\nlabel = "kind"\nfeatures = ["a", "b"]\n'
                                     '[network]\nhidden = [3]\n[hardware]\nway = "ex_situ_one_shot"\n'
                                     '[training]\nepochs = 1\nbatch_size = 9\n')
    out = tmp_path / "o"
    assert cli.main(["run", str(tmp_path / "e.toml"), "--set", "adc.bits=6", "--set", "network.hidden", "4,2",
                     "--out", str(out), "--save-chip", "--quiet"]) == 0
    stored = json.loads((out / "result.json").read_text())["experiment"]
    assert stored["adc"]["bits"] == 6 and stored["network"]["hidden"] == [4, 2]
    assert (out / "chip.npz").exists()
    exp = Experiment.from_dict(stored)
    from lstm.hardware import HardwareNetwork

    chip = HardwareNetwork.load(str(out / "chip.npz"))
    problem = runner.problem_of(exp)
    metric = json.loads((out / "result.json").read_text())["hardware"]["test_accuracy"]
    assert problem.score(chip.predict(problem.test_x, problem.test_mask)) == metric
    assert cli.main(["run", str(tmp_path / "e.toml"), "--set", "adc.bits", "6", "--set", "adc.bits", "8",
                     "--out", ""]) == 2
    assert "--set adc.bits is given twice" in _one_line(capsys)


@pytest.mark.parametrize("argv, message", [
    (["--save-chip", "--out", ""], "--save-chip keeps the chip as OUT/chip.npz; give --out"),
    (["--save-chip", "--set", "hardware.way", "software"], "--save-chip with hardware.way='software'"),
])
def test_save_chip_that_would_keep_nothing_is_refused_before_running(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("ran before the refusal"))
    (tmp_path / "e.toml").write_text('[data]\ntask = "airline"\n')
    assert cli.main(["run", str(tmp_path / "e.toml"), *argv]) == 2
    assert message in _one_line(capsys)


# --------------------------------------------------------------------------- 5. headroom
def test_the_headroom_refusal_says_the_value_that_works(tmp_path):
    import numpy as np

    from xbar.problems import load_problem

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20, 5, 2))
    x[-1, 2, 1] = 1.7  # a test sequence beyond the training maximum (1 at most)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 2, split=np.array(["train"] * 15 + ["test"] * 5))
    data = DataSection(path=str(tmp_path / "d.npz"))
    with pytest.raises(ValueError, match="Raise data.headroom") as refused:
        load_problem(data, seed=0)
    value = float(re.search(r"data.headroom to ([0-9.e+-]+) or more", str(refused.value)).group(1))
    largest = np.abs(x[:15, :, 1]).max()
    assert value >= 1.7 / largest and value < 1.7 / largest + 0.011  # the smallest at 3 digits
    load_problem(DataSection(path=str(tmp_path / "d.npz"), headroom=value), seed=0)  # it works
    with pytest.raises(ValueError, match="beyond"):
        load_problem(DataSection(path=str(tmp_path / "d.npz"), headroom=value - 0.01), seed=0)


# --------------------------------------------------------------------------- 6. --list-params
def test_list_params_into_a_closed_pipe_ends_quietly():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "xbar", "sweep", "--list-params"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    process.stdout.close()  # the reader is gone before anything is written (| head after its lines)
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and err == "", err


def test_list_params_says_whose_values_it_shows(tmp_path, capsys):
    assert cli.main(["sweep", "--list-params"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("#") and "airline" in first and "ex_situ_one_shot" in first and "--file" in first
    spec = tmp_path / "e.toml"
    spec.write_text('[data]\ntask = "vowels"\n[adc]\nbits = 5\n')
    assert cli.main(["sweep", "--file", str(spec), "--list-params"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert str(spec) in out[0]
    assert re.search(r"^adc\.bits\s+bits\s+5\s", "\n".join(out), re.M)


# --------------------------------------------------------------------------- 7. links, data checked first
IDENTITY = {"experiment": {"data": {"task": "airline"}}, "varied": ["adc.bits"]}


def test_the_lock_holds_through_symbolic_and_hard_links(tmp_path):
    real = tmp_path / "r.jsonl"
    real.write_text(json.dumps(_record("k0")) + "\n")
    (tmp_path / "sym.jsonl").symlink_to(real)
    os.link(real, tmp_path / "hard.jsonl")
    with ResultsWriter(str(real), IDENTITY):
        for other in ("sym.jsonl", "hard.jsonl"):
            with pytest.raises(ValueError, match="being written by another sweep"):
                with ResultsWriter(str(tmp_path / other), IDENTITY):
                    pass
    with ResultsWriter(str(tmp_path / "hard.jsonl"), IDENTITY):  # released: each name may write again
        with pytest.raises(ValueError, match="being written by another sweep"):
            with ResultsWriter(str(real), IDENTITY):
                pass


def test_set_aside_through_a_symbolic_link_repairs_the_real_file(tmp_path):
    real = tmp_path / "real.jsonl"
    good = json.dumps(_record("k0")) + "\n"
    real.write_text(good + "not a record\n" + json.dumps(_record("k1", seed=1)) + "\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with ResultsWriter(str(link), IDENTITY, set_aside_damaged=True) as writer:
        assert len(writer.contents.records) == 2
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "not a record" not in real.read_text() and len(read_results(str(real)).records) == 2
    assert (tmp_path / "real.jsonl.damaged").read_text() == "not a record\n"


def test_a_missing_data_file_is_refused_before_any_point_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "run_point", lambda p: pytest.fail("a point ran"))
    spec = tmp_path / "s.toml"
    spec.write_text('[data]\npath = "gone.csv"\nlabel = "kind"\n[network]\nhidden = [3]\n'
                    '[hardware]\nway = "software"\n[vary]\n"training.epochs" = [1, 2]\n')
    out = tmp_path / "r.jsonl"
    assert cli.main(["sweep", "--file", str(spec), "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "gone.csv" in line and "training.epochs=1" in line
    assert not out.exists()


# --------------------------------------------------------------------------- 8. limits
def test_too_many_points_are_refused_before_any_is_made(tmp_path, capsys):
    import time

    began = time.perf_counter()
    assert cli.main(["sweep", "--vary", "device.program_noise_sigma=0:1e-6:100000000",
                     "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert "1e+08 points" in line and "at most 100000" in line
    assert cli.main(["sweep", "--vary", "adc.range=1:2:1000", "--vary", "adc.bits=2:21:20", "--seeds", "10",
                     "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert "200000 points" in line and "at most 100000" in line
    assert time.perf_counter() - began < 10 and os.listdir(tmp_path) == []


def test_workers_beyond_the_machine_are_refused(tmp_path, capsys, monkeypatch):
    from xbar import workers

    monkeypatch.setattr(workers, "_available_memory", lambda: 200 * 2 ** 20)  # one worker's worth
    assert cli.main(["sweep", "--epochs", "2", "--vary", "adc.range=1", "--workers", "2",
                     "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert "--workers=2" in line and "at most 1" in line and "0.2 GiB of memory" in line
    monkeypatch.setattr(workers, "_available_memory", lambda: 64 * 2 ** 30)
    limit, _ = workers.max_workers()
    assert limit == len(os.sched_getaffinity(0))
    assert cli.main(["sweep", "--epochs", "2", "--vary", "adc.range=1", "--workers", str(limit + 1),
                     "--out", str(tmp_path / "r.jsonl")]) == 2
    line = _one_line(capsys)
    assert f"--workers={limit + 1}" in line and f"at most {limit}" in line and "core" in line
    with pytest.raises(ValueError, match="at most"):
        sweep.run_sweep(sweep.points(sweep.base_experiment(epochs=2), {"adc.range": [1.0]}, 1),
                        str(tmp_path / "r.jsonl"), workers=limit + 1, progress=False)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- 9. messages
def test_plot_of_a_missing_file_says_so(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "f.png")]) == 2
    line = _one_line(capsys)
    assert "does not exist" in line and "no finished point" not in line


@pytest.mark.parametrize("change, words", [
    (lambda r: r.update(metrics="high"), ["line 2", "metrics"]),
    (lambda r: r.update(params=[4]), ["line 2", "params"]),
    (lambda r: r["metrics"].update(test_rmse="x"), ["line 2", "test_rmse"]),
    (lambda r: r["metrics"].pop("test_rmse"), ["line 2", "test_rmse"]),
])
def test_plot_of_hand_edited_records_names_the_line(tmp_path, capsys, change, words):
    bad = _record("k1", seed=1)
    change(bad)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record("k0")) + "\n" + json.dumps(bad) + "\n")
    before = path.read_bytes()
    assert cli.main(["plot", str(path), "--out", str(tmp_path / "f.png")]) == 2
    line = _one_line(capsys)
    assert str(path) in line and all(w in line for w in words), line
    assert path.read_bytes() == before


def test_plot_refuses_a_record_of_a_varied_seed_that_ran_another(tmp_path, capsys):
    """A record the old sweep wrote for --vary training.seed=0,1 (every point ran with seed 0) is named."""
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record("k0", **{"training.seed": 0})) + "\n"
                    + json.dumps(_record("k1", **{"training.seed": 1})) + "\n")
    assert cli.main(["plot", str(path), "--out", str(tmp_path / "f.png")]) == 2
    line = _one_line(capsys)
    assert "line 2" in line and "training.seed=1" in line and "seed 0" in line


def test_reproduce_refuses_an_unknown_preset_before_training(capsys, monkeypatch):
    from xbar import reproduce

    for name in ("reproduce_vowels", "reproduce_airline", "noise_study"):
        monkeypatch.setattr(reproduce, name, lambda *a, **k: pytest.fail("trained before the refusal"))
    assert cli.main(["reproduce", "vowels", "--preset", "li2091", "--out", ""]) == 2
    line = _one_line(capsys)
    assert "--preset 'li2091' is not a device preset" in line and "li2019" in line


# --------------------------------------------------------------------------- 10. figures
def _drawn(monkeypatch, path, out, **options):
    """The axes ``sweep.plot_results`` draws (caught as the figure is saved)."""
    import matplotlib.figure

    caught = []
    real = matplotlib.figure.Figure.savefig

    def keep(fig, *a, **k):
        caught.append(fig.axes[0])
        return real(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    sweep.plot_results(str(path), str(out), **options)
    return caught[0]


def test_plot_says_what_it_draws_in_friendly_units(tmp_path, monkeypatch):
    experiment = sweep.base_experiment("vowels").to_dict()
    records = []
    for sigma in (0.0, 2e-6, 4e-6):
        for bits in (4, 6, 8):
            for seed in range(3):
                records.append({"format": "xbar-sweep/1", "key": f"{sigma}-{bits}-{seed}", "experiment": experiment,
                                "params": {"device.program_noise_sigma": sigma, "adc.bits": bits}, "seed": seed,
                                "status": "ok", "metrics": {"test_accuracy": 0.8 - 1e4 * sigma + 0.01 * seed,
                                                            "software_test_accuracy": 0.9 + 0.01 * seed}})
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ax = _drawn(monkeypatch, path, tmp_path / "a.png", x="device.program_noise_sigma")
    assert "programming noise" in ax.get_xlabel() and "\N{MICRO SIGN}S" in ax.get_xlabel()
    assert ax.get_xlim()[1] < 10  # 0, 2 and 4 uS, not 1e-6 with an offset
    assert ax.get_ylabel() == "test accuracy (%)"
    assert all(min(line.get_ydata()) > 50 for line in ax.get_lines() if len(line.get_ydata()))  # percent
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    assert "hardware: mean \N{PLUS-MINUS SIGN} std over 3 seeds" in texts
    assert "software twin, mean over 3 seeds" in texts
    assert any("ADC resolution" in t and t.endswith("= 6") for t in texts)
    ax = _drawn(monkeypatch, path, tmp_path / "b.png", x="adc.bits")
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert "bits" in ax.get_xlabel()


def test_plot_draws_the_records_baseline_and_takes_the_first_varied_as_x(tmp_path, monkeypatch):
    """Each point records the data's baseline (chance here); the plot draws it, the x axis defaults to the
    first parameter varied (not the first in alphabetical order), and the other one splits the lines."""
    experiment = sweep.base_experiment("vowels").to_dict()
    records = []
    for sigma in (0.0, 4e-6):
        for bits in (4, 8):
            records.append({"format": "xbar-sweep/1", "key": f"{sigma}-{bits}", "experiment": experiment,
                            "params": {"device.program_noise_sigma": sigma, "adc.bits": bits}, "seed": 0,
                            "status": "ok", "metrics": {"test_accuracy": 0.8, "software_test_accuracy": 0.9},
                            "baseline": {"name": "chance", "what": "always the most frequent training class (1)",
                                         "test_accuracy": 0.2, "data": "vowels"}})
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ax = _drawn(monkeypatch, path, tmp_path / "a.png")
    assert "programming noise" in ax.get_xlabel()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("chance (always the most frequent") for t in texts), texts
    assert any(list(line.get_ydata()) == [20.0, 20.0] for line in ax.get_lines())  # percent, as the metric
    records[1]["baseline"]["test_accuracy"] = 0.3  # the records disagree (the data were varied): no line
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ax = _drawn(monkeypatch, path, tmp_path / "b.png")
    assert not any(t.get_text().startswith("chance") for t in ax.get_legend().get_texts())


def test_a_sweep_point_records_its_baseline(tmp_path):
    exp = sweep.base_experiment("airline").with_values({"training.epochs": 1, "hardware.way": "software"})
    point = sweep.points(exp, [], seeds=1)[0]
    record = sweep.run_point(point)
    assert record["status"] == "ok", record.get("error")
    assert record["baseline"]["name"] == "persistence" and record["baseline"]["data"] == "airline"
    assert abs(record["baseline"]["test_rmse"] - 48.0) < 0.5
