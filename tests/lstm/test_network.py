"""BPTT against finite differences, kernels against the numpy path, torch weights, bad data."""

import pathlib

import numpy as np
import pytest

from lstm.kernels import lstm_forward
from lstm.network import NetworkConfig, count_parameters, make_network
from lstm.torch_io import config_from_torch, export_torch_lstm, import_torch_lstm
from lstm.network import Network

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_lstm.npz"


def _problem(rng, cell, loss, mode, kernels=False):
    options = dict(cell=cell, mode=mode)
    if loss == "cross_entropy":
        options.update(head="softmax", loss="cross_entropy")
    else:
        options.update(head="sigmoid", loss="mse", reduction="sum")
    net = make_network(3, [4, 5], 3, seed=1, kernels=kernels, **options)
    batch, time = 4, 6
    x = rng.normal(size=(batch, time, 3))
    mask = np.ones((batch, time))
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    if loss == "cross_entropy":
        y = rng.integers(0, 3, (batch,) if mode == "seq2vec" else (batch, time))
    else:
        y = rng.uniform(0, 1, (batch, 3) if mode == "seq2vec" else (batch, time, 3))
    return net, x, y, mask


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "gru"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("mode", ["seq2seq", "seq2vec"])
def test_gradients_match_finite_differences(rng, cell, loss, mode):
    net, x, y, mask = _problem(rng, cell, loss, mode)
    _, grads = net.gradients(x, y, mask)
    eps = 1e-5
    for name, p in net.params.items():
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up, _ = net.gradients(x, y, mask)
            p[idx] = old - eps
            down, _ = net.gradients(x, y, mask)
            p[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        if name in net.masks:
            numeric *= net.masks[name]
        error = np.linalg.norm(numeric - grads[name]) / np.linalg.norm(numeric)
        assert error < 1e-6, (name, error)


@pytest.mark.parametrize("mode", ["seq2seq", "seq2vec"])
def test_numba_kernels_match_numpy_reference(rng, mode):
    loss = "mse" if mode == "seq2seq" else "cross_entropy"
    fast, x, y, mask = _problem(rng, "lstm", loss, mode, kernels=True)
    slow, _, _, _ = _problem(np.random.default_rng(0), "lstm", loss, mode, kernels=False)
    value_fast, g_fast = fast.gradients(x, y, mask)
    value_slow, g_slow = slow.gradients(x, y, mask)
    assert value_fast == pytest.approx(value_slow, rel=1e-12)
    for name in g_fast:
        np.testing.assert_allclose(g_fast[name], g_slow[name], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.predict(x, mask), slow.predict(x, mask), rtol=1e-12, atol=1e-14)
    # in situ: errors propagate through other (read-back) weights; both paths must use them
    other = {"layer0.W": fast.params["layer0.W"] * 0.9, "layer1.W": fast.params["layer1.W"] * 1.1}
    _, cache_f = fast.forward(x, mask, keep=True)
    _, cache_s = slow.forward(x, mask, keep=True)
    outputs = cache_f.outputs
    _, d_head = fast.loss(outputs, fast.check_targets(y, mask), mask)
    gf = fast.backward(cache_f, d_head, other)
    gs = slow.backward(cache_s, d_head, other)
    for name in gf:
        np.testing.assert_allclose(gf[name], gs[name], rtol=1e-10, atol=1e-13)


def test_torch_weights_reproduce_torch_outputs():
    with np.load(FIXTURE) as data:
        inputs, expected = data["inputs"], data["torch_outputs"]
    net = Network(config_from_torch(FIXTURE), seed=0)
    import_torch_lstm(net, FIXTURE)
    np.testing.assert_allclose(net.predict(inputs), expected, rtol=0, atol=1e-6)
    assert np.max(np.abs(net.predict(inputs) - expected)) < 1e-12
    # and back: exported weights equal torch's up to the split of the bias
    state = export_torch_lstm(net)
    with np.load(FIXTURE) as data:
        np.testing.assert_allclose(state["weight_hh_l1"], data["weight_hh_l1"])
        np.testing.assert_allclose(state["bias_ih_l0"] + state["bias_hh_l0"], data["bias_ih_l0"] + data["bias_hh_l0"])
    again = Network(config_from_torch(state), seed=5)
    import_torch_lstm(again, state)
    np.testing.assert_allclose(again.predict(inputs), expected, atol=1e-12)


def test_torch_import_refuses_mismatch(tmp_path):
    net = make_network(3, [6, 5], 2)
    with pytest.raises(ValueError, match="shape"):
        import_torch_lstm(net, FIXTURE)
    with pytest.raises(ValueError, match="cell"):
        import_torch_lstm(make_network(3, [5, 5], 2, cell="gru"), FIXTURE)


def test_bad_data_raises(rng):
    net = make_network(3, [4], 2, head="softmax", loss="cross_entropy", mode="seq2vec")
    x = rng.normal(size=(2, 5, 3))
    with pytest.raises(ValueError, match="NaN"):
        net.predict(np.full((2, 5, 3), np.nan))
    with pytest.raises(ValueError, match="features"):
        net.predict(rng.normal(size=(2, 5, 4)))
    with pytest.raises(ValueError, match="empty"):
        net.predict(np.zeros((0, 5, 3)))
    with pytest.raises(ValueError, match="labels span"):
        net.gradients(x, np.array([0, 2]))
    with pytest.raises(ValueError, match="labels span"):
        net.gradients(x, np.array([-1, 0]))
    with pytest.raises(ValueError, match="shape"):
        net.gradients(x, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="padding"):
        net.predict(x, np.array([[1, 0, 1, 1, 1], [1, 1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="mask"):
        net.predict(x, np.full((2, 5), 0.5))


@pytest.mark.parametrize("field, value", [("hidden", ()), ("n_inputs", 0), ("cell", "tree"), ("head", "relu"),
                                          ("mode", "seq2tree"), ("loss", "hinge"), ("reduction", "max")])
def test_config_validation(field, value):
    options = dict(n_inputs=2, hidden=(3,), n_outputs=2, head="identity", loss="mse")
    options[field] = value
    with pytest.raises(ValueError, match=field if field != "hidden" else "hidden"):
        NetworkConfig(**options)
    with pytest.raises(ValueError, match="softmax"):
        NetworkConfig(2, (3,), 2, head="identity", loss="cross_entropy")


def test_initialisation_is_seeded_and_structured():
    a, b, c = (make_network(2, [3], 1, seed=s) for s in (4, 4, 5))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["layer0.W"], c.params["layer0.W"])
    np.testing.assert_array_equal(a.params["layer0.W"][-1, 3:6], 1.0)  # forget-gate bias
    gru = make_network(2, [3], 1, cell="gru")
    assert np.all(gru.params["layer0.W"][gru.masks["layer0.W"] == 0] == 0)
    no_bias = make_network(2, [3], 1, bias=False)
    assert np.all(no_bias.params["layer0.W"][-1] == 0) and np.all(no_bias.params["head.W"][-1] == 0)
    assert count_parameters(no_bias) == (2 + 3) * 12 + 3


def test_kernel_tanh_within_3_ulp_of_numpy():
    from lstm.kernels import tanh_array

    x = np.concatenate([np.linspace(-25, 25, 200001), np.logspace(-300, 1.5, 4000), -np.logspace(-300, 1.5, 4000),
                        [0.0, -0.0, 19.9, 20.0, 20.1, 40.0, 1e300, -1e300]])
    ours, exact = tanh_array(x), np.tanh(x)
    assert np.all(np.abs(ours - exact) <= 3 * np.spacing(np.abs(exact)))
    assert np.all(np.abs(ours) <= 1.0)


def test_inference_without_caches_gives_the_same_states(rng):
    x = rng.uniform(-1, 1, (9, 4, 3))
    mask = np.ones((4, 9))
    mask[1, 5:] = 0
    w = rng.uniform(-0.5, 0.5, (3 + 6 + 1, 24))
    kept = lstm_forward(x, mask, w, True)
    light = lstm_forward(x, mask, w, False)
    np.testing.assert_array_equal(light[4], kept[4])  # every step's h
    assert light[1].shape == (1, 4, 24) and kept[1].shape == (9, 4, 24)
    for a, b in zip(light[:4], kept[:4]):  # the one slot holds the last step
        np.testing.assert_array_equal(a[0], b[-1])
