"""The network on simulated crossbars: exactness on ideal hardware and Li et al.'s results."""

import json

import numpy as np
import pytest

import crossbar
from mapping import ChipSpec, Encoding
from lstm import tasks
from lstm.hardware import HardwareNetwork, InSituTrainer, li2019_corners
from lstm.network import make_network
from lstm.optim import OptimizerConfig
from xbar import cli
from xbar.experiment import li2019
from xbar.reproduce import train_vowels
from xbar.runner import network_config, problem_of, start as _start


def airline_network(seed):
    exp = li2019("airline", seed)
    from lstm.network import Network

    return Network(network_config(exp, problem_of(exp)), seed=seed)
from lstm.train import SoftwareTrainer, fit


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_ideal_hardware_equals_software(rng, cell, bias):
    net = make_network(3, [5, 4], 2, seed=1, cell=cell, head="sigmoid", bias=bias)
    hw = HardwareNetwork(net, ChipSpec(preset="ideal"), seed=0)
    hw.program()
    x = rng.uniform(-1, 1, (4, 6, 3))
    mask = np.ones((4, 6))
    mask[1, 3:] = 0
    software = net.predict(x, mask)
    assert np.max(np.abs(hw.predict(x, mask) - software)) <= 1e-12 * np.max(np.abs(software))
    # and a whole in-situ training step on ideal devices is the software step
    y = rng.uniform(0, 1, (4, 6, 2))
    _, g_sw = net.gradients(x, y, mask)
    _, g_hw = net.gradients(x, y, mask, product=hw.product, weights=hw.read_weights())
    for name in g_sw:
        np.testing.assert_allclose(g_hw[name], g_sw[name], rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_airline_in_situ_close_to_software(capsys):
    task = tasks.airline()
    optimizer = OptimizerConfig("sgd", 0.01, momentum=0.9)
    software = airline_network(0)
    fit(SoftwareTrainer(software), task.train, 800, 1, optimizer, seed=0, progress=False)
    sw = task.test_rmse(software.predict(task.full.x)[0, :, 0])
    net = airline_network(0)
    config = ChipSpec(preset="li2019", corners=li2019_corners(net), encoding=Encoding(scale="fixed"),
                      array=crossbar.ArraySpec(count=1))  # Li et al.'s 100 uS per unit weight
    hw = HardwareNetwork(net, config, seed=0)
    _start(hw, "programmed")
    fit(InSituTrainer(hw), task.train, 800, 1, optimizer, seed=0, progress=False)
    rmse = task.test_rmse(hw.predict(task.full.x)[0, :, 0])
    with capsys.disabled():
        print(f"\nairline test RMSE: software {sw:.1f}, in situ li2019 {rmse:.1f} (thousand passengers)")
    assert rmse <= 1.3 * sw
    # every device gets its SET at every update, those going down a RESET first
    devices = 34 * 60 + 32
    pulses = hw.chip.counters().programming_pulses - 2 * devices  # less the one-shot start
    assert 800 * devices < pulses < 2 * 800 * devices


@pytest.mark.slow
def test_vowels_in_situ_within_5_points(capsys):
    # 10 seeds, not the 5 the criterion names at least: one seed's accuracy at 50 epochs spreads
    # over 81-97 %, so a 5-seed mean moves by 1.5 points with any change to the noise streams
    # (seeds 0-4 alone gave gaps of 3.8 and 6.6 points with two equally valid Gaussian sources)
    problem = problem_of(li2019("vowels"))
    software = [train_vowels(s, 50, None, problem=problem).metric for s in range(10)]
    in_situ = [train_vowels(s, 50, "in_situ", problem=problem).metric for s in range(10)]
    with capsys.disabled():
        print(f"\nvowels accuracy over 10 seeds: software {np.mean(software) * 100:.1f} %, "
              f"in situ li2019 {np.mean(in_situ) * 100:.1f} %; seeds 0-4: "
              f"{np.mean(software[:5]) * 100:.1f} and {np.mean(in_situ[:5]) * 100:.1f} %")
    assert np.mean(software) - np.mean(in_situ) <= 0.05


@pytest.mark.slow
def test_write_verify_beats_one_shot_ex_situ(capsys):
    problem = problem_of(li2019("vowels"))
    software, one_shot, verified = [], [], []
    for s in range(5):
        software.append(train_vowels(s, 50, None, problem=problem).metric)
        one_shot.append(train_vowels(s, 50, "ex_situ_one_shot", problem=problem).metric)
        verified.append(train_vowels(s, 50, "ex_situ_write_verify", problem=problem).metric)
    loss_one, loss_verified = np.mean(software) - np.mean(one_shot), np.mean(software) - np.mean(verified)
    with capsys.disabled():
        print(f"\nex situ accuracy lost over 5 seeds: one-shot {loss_one * 100:.1f} points, "
              f"write-verify {loss_verified * 100:.1f} points")
    assert loss_verified < loss_one


@pytest.mark.slow
def test_reproduce_json_and_figures(tmp_path, capsys):
    assert cli.main(["reproduce", "airline", "--epochs", "2", "--seed", "3", "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "airline" and result["seed"] == 3 and result["epochs"] == 2
    assert {"test_rmse"} <= set(result["software"]) and {"test_rmse"} <= set(result["hardware"])
    assert result["seconds"] > 0
    for name in ("airline_prediction.png", "airline_loss.png", "airline_conductance_map.png",
                 "airline_conductance_histogram.png"):
        assert (tmp_path / name).stat().st_size > 5000
    assert cli.main(["reproduce", "vowels", "--epochs", "1", "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["hardware"]["test_accuracy"] <= 1
    assert (tmp_path / "vowels_confusion.png").exists() and (tmp_path / "vowels_accuracy.png").exists()
    assert cli.main(["reproduce", "airline", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "epochs" in capsys.readouterr().err


def test_chips_and_drift(rng):
    import crossbar
    from lstm.hardware import evaluate_over_chips, evaluate_over_time

    net = make_network(2, [3], 1, seed=0, head="identity")
    x = rng.uniform(-1, 1, (8, 5, 2))
    truth = net.predict(x)
    error = lambda hw: float(np.sqrt(np.mean((hw.predict(x) - truth) ** 2)))  # noqa: E731
    from mapping import Encoding

    config = ChipSpec(preset="li2019", ideal_converters=True, encoding=Encoding(scale="max_abs"))
    spread = evaluate_over_chips(net, config, [0, 1, 2, 3], error)
    assert len(set(spread.values)) == 4 and spread.std > 0 and spread.mean > 0
    assert evaluate_over_chips(net, config, [5], error).values == evaluate_over_chips(net, config, [5], error).values
    drifting = ChipSpec(preset="ideal", device=crossbar.preset("ideal").replace(drift_nu=0.05, drift_nu_sigma=0.02))
    hw = HardwareNetwork(net, drifting, seed=0)
    hw.program()
    errors = evaluate_over_time(hw, [0.0, 10.0, 1e3, 1e5], error)
    assert errors[0] < 1e-12 and errors[1] < errors[2] < errors[3]


def test_in_situ_checkpoint_resume_equals_uninterrupted(tmp_path):
    task = tasks.airline()
    optimizer = OptimizerConfig("sgd", 0.01, momentum=0.9)

    def chip():
        net = airline_network(2)
        config = ChipSpec(preset="li2019", corners=li2019_corners(net), array=crossbar.ArraySpec(count=1))
        hw = HardwareNetwork(net, config, seed=2)
        _start(hw, "programmed")
        return hw

    whole = chip()
    fit(InSituTrainer(whole), task.train, 6, 1, optimizer, seed=1, progress=False)
    path = str(tmp_path / "in_situ.npz")
    first = chip()
    fit(InSituTrainer(first), task.train, 3, 1, optimizer, seed=1, checkpoint=path, progress=False)
    resumed = chip()
    fit(InSituTrainer(resumed), task.train, 6, 1, optimizer, seed=1, checkpoint=path, progress=False)
    np.testing.assert_array_equal(whole.chip.arrays[0].conductance, resumed.chip.arrays[0].conductance)
    for name in whole.network.params:
        np.testing.assert_array_equal(whole.network.params[name], resumed.network.params[name])


def test_compiled_lstm_equals_step_by_step(rng):
    """The whole-sequence hardware kernel against the step-by-step numpy twin of the read.

    li2019 devices (read noise: float32 products), the 8-bit DAC and ADC, two
    layers over several tiles, variable lengths: the same bits, gradients,
    counts and generator states.
    """
    config = ChipSpec(encoding=Encoding(scale="max_abs"), array=crossbar.ArraySpec(rows=32, cols=16),
                      adc=crossbar.AdcSpec(range=4.0))
    x = rng.uniform(-1, 1, (5, 7, 3))
    y = rng.uniform(0, 1, (5, 7, 2))
    mask = np.ones((5, 7))
    mask[2, 4:] = 0
    runs = []
    for compiled in (True, False):
        net = make_network(3, [9, 6], 2, seed=2, head="sigmoid")
        hw = HardwareNetwork(net, config, seed=4, compiled=compiled)
        hw.program()
        outputs = [hw.predict(x, mask) for _ in range(2)]
        loss, grads = hw.gradients(x, y, mask, weights=hw.read_weights())
        runs.append((outputs, loss, grads, hw.counters(), len(hw.matrices["layer0.W"].tiles)))
    (out_a, loss_a, g_a, c_a, tiles), (out_b, loss_b, g_b, c_b, _) = runs
    assert tiles > 2
    for a, b in zip(out_a, out_b):
        np.testing.assert_array_equal(a, b)
    assert loss_a == loss_b
    for name in g_a:  # the backward pass runs in software: its compiled and numpy forms round apart
        np.testing.assert_allclose(g_a[name], g_b[name], rtol=1e-12, atol=1e-15)
    assert c_a.adc_conversions == c_b.adc_conversions and c_a.products == c_b.products
    assert c_a.adc_saturations == c_b.adc_saturations
    assert c_a.cell_energy == pytest.approx(c_b.cell_energy, rel=1e-12)


def test_lstm_with_wires_runs_compiled_and_equals_the_nodal_solve(rng):
    """Wire resistance in the compiled layer: equal to the step-by-step reference, and on ideal devices
    without converters equal to an LSTM whose every product is a nodal solve of each tile's drive."""
    import crossbar

    wires = crossbar.WiresSpec(2.0, 2.0)
    x = rng.uniform(-1, 1, (4, 5, 3))
    mask = np.ones((4, 5))
    li = ChipSpec(wires=wires, encoding=Encoding(scale="max_abs"), array=crossbar.ArraySpec(rows=16, cols=16),
                  adc=crossbar.AdcSpec(range=4.0))
    runs = []
    for compiled in (True, False):
        hw = HardwareNetwork(make_network(3, [6], 2, seed=2, head="sigmoid"), li, seed=4, compiled=compiled)
        hw.program()
        runs.append(hw.predict(x, mask))
    np.testing.assert_array_equal(runs[0], runs[1])

    device = crossbar.preset("ideal").replace(g_min=0.0, g_max=400e-6)
    config = ChipSpec(device=device, wires=wires, ideal_converters=True, encoding=Encoding(scale="max_abs"),
                      array=crossbar.ArraySpec(rows=16, cols=16))
    net = make_network(3, [6], 2, seed=2, head="identity")
    hw = HardwareNetwork(net, config, seed=4)
    hw.program()
    got = hw.predict(x, mask)

    def nodal_product(name, inputs):  # [x; h; 1] @ W with every tile's currents from the nodal network
        mm = hw.matrices[name]
        e = mm.encoding
        out = np.zeros((inputs.shape[0], mm.n_out))
        for t in mm.tiles:
            array = hw.chip.arrays[t.array]
            drive = inputs[:, t.inputs[0]:t.inputs[1]] * e.v_read
            v = np.zeros((inputs.shape[0], array.rows))
            v[:, t.row0:t.row0 + t.n_inputs] = drive
            v[:, t.row0 + t.n_inputs:t.row0 + 2 * t.n_inputs] = -drive
            currents = crossbar.solve_sparse(v, array.conductance, 2.0, 2.0)
            out[:, slice(*t.outputs)] += currents[:, t.col0:t.col0 + t.n_outputs]
        return out / (e.v_read * mm.scale)

    expected = net.predict(x, mask, product=nodal_product)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(expected - net.predict(x, mask)).max() > 1e-3  # the wires matter


def _trained_chip():
    from xbar.runner import build_trainer

    exp = li2019("vowels", 1).with_values({"device.drift_nu": 0.01})
    trainer, net, hw = build_trainer(exp, problem_of(exp), "in_situ")
    fit(trainer, problem_of(exp).train.subset(np.arange(50)), 2, 25, exp.optimizer_config(), seed=1, progress=False)
    return trainer, hw


def test_saved_chip_continues_bit_for_bit(tmp_path):
    """After a reload the next 100 reads and updates are those of the chip that was saved."""
    _, hw = _trained_chip()
    path = tmp_path / "chip.npz"
    hw.save(str(path))
    loaded = HardwareNetwork.load(str(path))
    assert loaded.config == hw.config and loaded.network.config == hw.network.config
    problem = problem_of(li2019("vowels"))
    x, mask = problem.test_x[:8], problem.test_mask[:8]
    rng = np.random.default_rng(0)
    for step in range(100):
        if step % 10 == 9:  # an update of every matrix, then time passes (drift)
            for name, mm in hw.matrices.items():
                delta = rng.normal(0, 0.02, (mm.n_in, mm.n_out))
                assert hw.matrices[name].apply_update(delta) == loaded.matrices[name].apply_update(delta)
            for a, b in zip(hw.chip.arrays, loaded.chip.arrays):
                a.advance_time(5.0), b.advance_time(5.0)
        else:
            np.testing.assert_array_equal(hw.predict(x, mask), loaded.predict(x, mask))
    assert hw.counters() == loaded.counters() and hw.energy() == loaded.energy()
    for a, b in zip(hw.chip.arrays, loaded.chip.arrays):
        np.testing.assert_array_equal(a.conductance, b.conductance)


def test_damaged_foreign_or_unknown_chip_files_are_refused(tmp_path):
    import json
    import zipfile

    _, hw = _trained_chip()
    path = tmp_path / "chip.npz"
    hw.save(str(path))
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz: damaged or not a saved chip"):
        HardwareNetwork.load(str(tmp_path / "cut.npz"))
    with np.load(path) as saved:
        arrays = {k: saved[k] for k in saved.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["format"] = "xbar-chip/99"
    np.savez(tmp_path / "future.npz", **{**arrays, "__meta__": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match=r"future.npz: format 'xbar-chip/99' is not known"):
        HardwareNetwork.load(str(tmp_path / "future.npz"))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz: not a saved chip of xbar"):
        HardwareNetwork.load(str(tmp_path / "other.npz"))
    bad = {**arrays, "hardware:chip.array0.gain": arrays["hardware:chip.array0.gain"][:3]}
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match="bad.npz: array0.gain has shape"):
        HardwareNetwork.load(str(tmp_path / "bad.npz"))
    assert zipfile.is_zipfile(path)  # an npz of plain arrays: nothing is unpickled


def test_one_count_of_the_work_whichever_object_you_ask():
    """The chip and the network report the same work, ADC conversions included."""
    _, hw = _trained_chip()
    chip, network = hw.chip.counters(), hw.counters()
    assert chip.adc_conversions > 0
    for name in ("products", "input_vectors", "dac_conversions", "adc_conversions", "adc_saturations",
                 "device_reads", "programming_pulses", "row_pulse_steps"):
        assert getattr(chip, name) == getattr(network, name), name
    assert chip.cell_energy == pytest.approx(network.cell_energy, rel=1e-12)
    assert hw.chip.counters().energy(hw.chip.costs) == pytest.approx(hw.energy(), rel=1e-12)


def test_defaults_fit_together():
    """The default network (forget-gate bias 1) programs on the default li2019 chip; Li et al.'s fixed
    100 uS per unit weight, which holds at most +-0.882 per pair, is one argument away and says why it
    refuses."""
    net = make_network(3, [8], 2, seed=0)
    assert net.params["layer0.W"].max() >= 1.0
    hw = HardwareNetwork(net)
    hw.program()
    counts = hw.counters()
    hw.predict(np.random.default_rng(0).uniform(-1, 1, (4, 5, 3)))
    assert hw.counters().adc_conversions > counts.adc_conversions
    with pytest.raises(ValueError, match=r"beyond \+-0.882"):
        HardwareNetwork(net, ChipSpec(encoding=Encoding(scale="fixed"))).program()
