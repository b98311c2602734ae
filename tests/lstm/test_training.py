"""Training on the shipped tasks against their baselines; checkpoints; optimizers."""

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
