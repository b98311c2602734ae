"""Properties that must hold for any shape and any values (hypothesis)."""

import numpy as np
from hypothesis import given, settings, strategies as st

import crossbar
from mapping import Chip, Encoding, MappedMatrix


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 140), n_out=st.integers(1, 140), bias=st.booleans(),
       scheme=st.sampled_from(["row_pairs", "column_pairs"]), seed=st.integers(0, 2 ** 16))
def test_ideal_mapping_is_exact_for_any_shape(n_in, n_out, bias, scheme, seed):
    rng = np.random.default_rng(seed)
    chip = Chip(crossbar.preset("ideal"), seed=seed)
    m = MappedMatrix(chip, "w", n_in, n_out, bias=bias, encoding=Encoding(scheme=scheme))
    w = rng.uniform(-3.9, 3.9, (n_in, n_out))
    b = rng.uniform(-3.9, 3.9, n_out) if bias else None
    m.program(w, b)
    x = rng.uniform(-1, 1, (3, n_in))
    expected = x @ w + (b if bias else 0.0)
    assert np.max(np.abs(m.matvec(x) - expected)) <= 1e-12 * max(1.0, np.max(np.abs(expected)))
    # tiles cover every weight exactly once
    covered = np.zeros((n_in + (1 if bias else 0), n_out), dtype=int)
    for t in m.tiles:
        covered[slice(*t.inputs), slice(*t.outputs)] += 1
    assert np.all(covered == 1)


@settings(max_examples=50, deadline=None)
@given(bits=st.integers(2, 16), v_max=st.floats(0.01, 5.0),
       values=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=50))
def test_dac_error_is_at_most_half_a_step(bits, v_max, values):
    dac = crossbar.DAC(bits=bits, v_max=v_max)
    v = np.array(values) * v_max
    out = dac.convert(v)
    assert np.all(np.abs(out - v) <= dac.step / 2 * (1 + 1e-9))
    np.testing.assert_array_equal(dac.convert(out), out)  # quantizing twice changes nothing


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), rows=st.integers(1, 12), cols=st.integers(1, 12))
def test_pulses_never_leave_the_window(seed, rows, cols):
    device = crossbar.preset("hfo2_soft_bounds")
    array = crossbar.CrossbarArray(rows, cols, device, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        array.apply_pulses(rng.integers(-300, 300, (rows, cols)))
        g = array.conductance
        assert np.all(g >= array.g_low * (1 - 1e-12)) and np.all(g <= array.g_high * (1 + 1e-12))
