"""Training on the shipped tasks against their baselines; checkpoints; optimizers."""

import os

import numpy as np
import pytest

from lstm import tasks
from lstm.network import make_network
from lstm.optim import Optimizer, OptimizerConfig, clip_by_norm
from lstm.train import SoftwareTrainer, fit


def test_airline_beats_persistence_bound(capsys):
    task = tasks.airline()
    assert task.train.x.shape == (1, 95, 1) and task.full.x.shape == (1, 143, 1)
    # forget-gate bias 0: this series asks the cell to follow the present month, not to integrate
    net = make_network(1, [15], 1, seed=0, head="sigmoid", loss="mse", reduction="sum", forget_bias=0.0)
    fit(SoftwareTrainer(net), task.train, 1200, 1, OptimizerConfig("sgd", 0.01, momentum=0.9), progress=False)
    rmse = task.test_rmse(net.predict(task.full.x)[0, :, 0])
    persistence = task.persistence_rmse()
    with capsys.disabled():
        print(f"\nairline test RMSE {rmse:.1f} thousand passengers, persistence {persistence:.1f}")
    assert persistence == pytest.approx(48.04, abs=0.01)
    assert rmse < 1.3 * persistence


@pytest.mark.slow
def test_vowels_accuracy(capsys):
    task = tasks.vowels()
    assert task.train.x.shape == (270, 29, 12) and task.test.x.shape == (370, 29, 12)
    assert np.all(np.abs(task.train.x) <= 1) and np.all(np.abs(task.test.x) <= 1)
    assert np.array_equal(np.bincount(task.train.y), np.full(9, 30))
    lengths = task.train.mask.sum(axis=1)
    assert lengths.min() >= 7 and lengths.max() <= 29
    net = make_network(12, [14], 9, seed=0, head="softmax", loss="cross_entropy", mode="seq2vec")
    # 150 epochs: at Li's 50 (300 updates) the accuracy still spreads 80..95 % over seeds
    fit(SoftwareTrainer(net), task.train, 150, 50, OptimizerConfig("rmsprop", 0.01), progress=False)
    accuracy = task.accuracy(net.predict(task.test.x, task.test.mask), task.test.y)
    with capsys.disabled():
        print(f"\nvowels test accuracy {accuracy * 100:.1f} %")
    assert accuracy >= 0.90


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    task = tasks.vowels()
    small = task.train.subset(np.arange(60))
    config = OptimizerConfig("adam", 0.01, clip_norm=5.0)

    def network():
        return make_network(12, [6], 9, seed=3, head="softmax", loss="cross_entropy", mode="seq2vec")

    whole = network()
    history = fit(SoftwareTrainer(whole), small, 6, 16, config, seed=7, progress=False)
    path = tmp_path / "run.npz"
    first = network()
    fit(SoftwareTrainer(first), small, 3, 16, config, seed=7, checkpoint=str(path), progress=False)
    resumed = network()  # a fresh process would start from scratch: the checkpoint brings it back
    history2 = fit(SoftwareTrainer(resumed), small, 6, 16, config, seed=7, checkpoint=str(path), progress=False)
    for name in whole.params:
        np.testing.assert_array_equal(whole.params[name], resumed.params[name])
    assert history.loss == history2.loss and history2.epoch == list(range(6))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_early_stopping_and_divergence():
    task = tasks.airline()
    net = make_network(1, [4], 1, seed=0, head="sigmoid", loss="mse", reduction="sum")
    calls = iter(range(100))
    history = fit(SoftwareTrainer(net), task.train, 50, 1, OptimizerConfig("sgd", 0.01),
                  metric=lambda: 1.0 + next(calls) * 0.0, patience=3, progress=False)
    assert len(history.epoch) == 4  # first epoch sets the best, three without improvement
    bad = make_network(1, [4], 1, seed=0, head="identity", loss="mse", reduction="sum")
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(SoftwareTrainer(bad), task.train, 50, 1, OptimizerConfig("sgd", 50.0), progress=False)


def test_optimizers_and_clipping():
    grads = {"a": np.array([3.0, 4.0])}
    assert clip_by_norm({k: v.copy() for k, v in grads.items()}, 1.0) == pytest.approx(5.0)
    sgd = Optimizer(OptimizerConfig("sgd", 0.1, momentum=0.5))
    np.testing.assert_allclose(sgd.step(grads)["a"], [-0.3, -0.4])
    np.testing.assert_allclose(sgd.step(grads)["a"], [-0.45, -0.6])
    adam = Optimizer(OptimizerConfig("adam", 0.1))
    np.testing.assert_allclose(adam.step(grads)["a"], [-0.1, -0.1], rtol=1e-6)  # first Adam step is lr * sign
    rms = Optimizer(OptimizerConfig("rmsprop", 0.1, rho=0.9))
    np.testing.assert_allclose(rms.step(grads)["a"], -0.1 / np.sqrt(0.1) * np.ones(2), rtol=1e-6)
    clipped = Optimizer(OptimizerConfig("sgd", 1.0, clip_norm=1.0))
    np.testing.assert_allclose(clipped.step(grads)["a"], [-0.6, -0.8])
    for field, value in (("name", "lion"), ("learning_rate", 0.0), ("momentum", 1.0), ("clip_norm", -1.0)):
        with pytest.raises(ValueError, match=f"optimizer.{field}"):
            OptimizerConfig(**{field: value})


def _vowels_subset(n=100):
    return tasks.vowels().train.subset(np.arange(n))


def _in_situ_run(epochs, checkpoint=None, seed=3):
    from xbar.experiment import li2019
    from xbar.runner import build_trainer, problem_of

    exp = li2019("vowels", seed)
    trainer, net, hw = build_trainer(exp, problem_of(exp), "in_situ")
    history = fit(trainer, _vowels_subset(), epochs, 25, exp.optimizer_config(), seed=seed,
                  checkpoint=checkpoint, progress=False)
    return history, net, hw


def test_resumed_in_situ_run_equals_uninterrupted_in_every_number(tmp_path):
    """Weights, losses, energy, pulses and every other count: the chip continues where it stopped."""
    path = str(tmp_path / "in_situ.npz")
    whole_history, whole, whole_hw = _in_situ_run(5)
    _in_situ_run(2, path)
    history, resumed, resumed_hw = _in_situ_run(5, path)  # a fresh chip, brought back by the checkpoint
    assert history.loss == whole_history.loss
    for name in whole.params:
        np.testing.assert_array_equal(whole.params[name], resumed.params[name])
    assert resumed_hw.counters() == whole_hw.counters()
    assert resumed_hw.chip.counters() == whole_hw.chip.counters()
    assert resumed_hw.energy() == whole_hw.energy() and resumed_hw.counters().programming_pulses > 0
    for a, b in zip(whole_hw.chip.arrays, resumed_hw.chip.arrays):
        np.testing.assert_array_equal(a.conductance, b.conductance)
    assert sorted(os.listdir(tmp_path)) == ["in_situ.npz"]  # no temporary files left


def _software_run(path, seed=7, epochs=2, optimizer=None, hidden=6):
    net = make_network(12, [hidden], 9, seed=3, head="softmax", loss="cross_entropy", mode="seq2vec")
    return fit(SoftwareTrainer(net), _vowels_subset(40), epochs, 16, optimizer or OptimizerConfig("adam", 0.01),
               seed=seed, checkpoint=str(path), progress=False)


@pytest.mark.parametrize("damage", [b"", b"not a zip file", b"PK\x03\x04 truncated zip"])
def test_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    path = tmp_path / "run.npz"
    path.write_bytes(damage)
    with pytest.raises(ValueError, match=rf"checkpoint {path}: damaged or not a checkpoint"):
        _software_run(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    _software_run(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"checkpoint {path}"):
        _software_run(path, epochs=3)


@pytest.mark.parametrize("change, message", [
    (dict(seed=8), "seed is 7 there, 8 here"),
    (dict(optimizer=OptimizerConfig("sgd", 0.01)), "optimizer.name is 'adam' there, 'sgd' here"),
    (dict(hidden=7), "params.layer0.W"),
])
def test_checkpoint_of_another_run_is_refused(tmp_path, change, message):
    path = tmp_path / "run.npz"
    _software_run(path)
    with pytest.raises(ValueError, match=rf"checkpoint {path} belongs to another run: .*{message}"):
        _software_run(path, epochs=3, **change)


def test_in_situ_checkpoint_is_refused_by_a_software_run(tmp_path):
    from xbar.experiment import li2019
    from xbar.runner import build_trainer, problem_of

    path = str(tmp_path / "in_situ.npz")
    _in_situ_run(1, path, seed=3)
    exp = li2019("vowels", 3)
    trainer, _, _ = build_trainer(exp, problem_of(exp), None)
    with pytest.raises(ValueError, match="trainer is 'in_situ' there, 'software' here"):
        fit(trainer, _vowels_subset(), 2, 25, exp.optimizer_config(), seed=3, checkpoint=path, progress=False)


def test_optimizer_state_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    _software_run(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    key = next(k for k in arrays if k.startswith("opt:slot:") and k.endswith(".m"))
    arrays[key] = arrays[key][:-1]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=rf"checkpoint {path}: slot .* has shape"):
        _software_run(path, epochs=3)


def test_a_write_cut_short_leaves_the_checkpoint_whole(tmp_path):
    path = tmp_path / "run.npz"
    _software_run(path)
    (tmp_path / "run.npz.partial").write_bytes(b"half a checkpoint")  # what a kill mid-write leaves
    history = _software_run(path, epochs=3)
    assert history.epoch == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]
