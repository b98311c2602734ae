"""A network whose devices move as it reads: drift on the running clock, step by step, against the closed form."""

import numpy as np
import pytest

import crossbar
from mapping import ChipSpec
from lstm.hardware import HardwareNetwork
from lstm.network import make_network


@pytest.mark.parametrize("mode", ["seq2seq", "seq2vec"])
def test_drift_evolves_read_by_read_during_inference(rng, mode):
    nu, t0, dt = 0.05, 1e-3, 2e-3
    net = make_network(2, [4], 2, seed=0, head="identity", mode=mode)
    x = rng.uniform(-1, 1, (3, 6, 2))
    device = crossbar.preset("ideal").replace(drift_nu=nu, drift_t0=t0)
    config = ChipSpec(preset="ideal", device=device, array=crossbar.ArraySpec(seconds_per_read=dt))
    hw = HardwareNetwork(net, config, seed=0)
    hw.program()
    assert all(mm.plan().varies_between_reads for mm in hw.matrices.values())
    arrays = {name: mm.arrays_used for name, mm in hw.matrices.items()}
    assert all(len(v) == 1 for v in arrays.values())
    clocks = {k: 0.0 for v in arrays.values() for k in v}  # every array written at t = 0

    def product(name, inputs):
        # the whole chip is ideal and every device drifts by the same law, so W(t) = W (t / t0)^-nu
        (array,) = arrays[name]
        t = clocks[array]
        clocks[array] += dt
        return inputs @ (net.params[name] * (max(t, t0) / t0) ** (-nu))

    expected = net.predict(x, product=product)
    np.testing.assert_allclose(hw.predict(x), expected, rtol=1e-10, atol=1e-12)
    for k, a in enumerate(hw.chip.arrays):
        assert a.time == pytest.approx(clocks[k])
    # with a still clock the compiled layer reads the whole sequence at once and sees no drift
    still = HardwareNetwork(net, ChipSpec(preset="ideal", device=device), seed=0)
    still.program()
    np.testing.assert_allclose(still.predict(x), net.predict(x), rtol=1e-10, atol=1e-12)


def test_an_experiments_test_runs_after_its_time_on_the_chip(tmp_path):
    """``hardware.seconds_before_test`` lets time pass between programming and the test: the run's hardware
    outputs are those of the chip saved at the end of programming, reloaded, and read after the same time;
    CMO/HfOx devices (relaxation, 1/f noise) read a day later differ from the same chip read at once."""
    from xbar import runner
    from xbar.experiment import li2019

    exp = li2019("vowels").with_values({"hardware.preset": "falcone2025_cmo_hfox", "hardware.way": "ex_situ_one_shot",
                                        "training.epochs": 2})
    later = exp.with_values({"hardware.seconds_before_test": 86400.0})
    assert later.to_dict()["hardware"]["seconds_before_test"] == 86400.0
    assert "seconds_before_test" not in exp.to_dict()["hardware"]  # left out at its default: keys kept
    problem = runner.problem_of(exp)
    at_once = runner.train(exp, problem, save_chip=str(tmp_path / "chip.npz"))
    a_day = runner.train(later, problem)
    chip = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    np.testing.assert_array_equal(chip.predict(problem.test_x, problem.test_mask), at_once.outputs)
    chip = HardwareNetwork.load(str(tmp_path / "chip.npz"))
    chip.let_time_pass(86400.0)
    np.testing.assert_array_equal(chip.predict(problem.test_x, problem.test_mask), a_day.outputs)
    assert not np.array_equal(a_day.outputs, at_once.outputs)
    with pytest.raises(ValueError, match="hardware.seconds_before_test"):
        exp.with_values({"hardware.seconds_before_test": -1.0})
