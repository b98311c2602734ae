"""Weights onto arrays: exactness, noise, updates, layout, errors."""

import numpy as np
import pytest

import crossbar
from mapping import Chip, Encoding, MappedMatrix


def _quiet_li2019(**changes):
    device = crossbar.preset("li2019").replace(program_noise_sigma=0.0, read_noise_sigma_relative=0.0,
                                               stuck_at_gmin_fraction=0.0, stuck_at_gmax_fraction=0.0)
    return device.replace(**changes) if changes else device


@pytest.mark.parametrize("scheme", ["row_pairs", "column_pairs"])
@pytest.mark.parametrize("shape, arrays", [((20, 30), 1), ((100, 150), 6)])
def test_ideal_matvec_is_exact(rng, scheme, shape, arrays):
    n_in, n_out = shape
    chip = Chip(crossbar.preset("ideal"), seed=0)
    m = MappedMatrix(chip, "w", n_in, n_out, bias=True, encoding=Encoding(scheme=scheme))
    w = rng.uniform(-2, 2, shape)
    b = rng.uniform(-2, 2, n_out)
    m.program(w, b)
    x = rng.uniform(-1, 1, (9, n_in))
    expected = x @ w + b
    assert np.max(np.abs(m.matvec(x) - expected)) <= 1e-12 * np.max(np.abs(expected))
    if scheme == "row_pairs":
        # 101 logical rows over 64-row pairs and 150 columns over 64: 2 x 3 tiles
        assert len(m.tiles) == arrays
    w_read, b_read = m.read_weights()
    np.testing.assert_allclose(w_read, w, atol=1e-12)
    np.testing.assert_allclose(b_read, b, atol=1e-12)


def test_big_matrix_is_split_into_2x3_tiles_and_packed(rng):
    chip = Chip(crossbar.preset("ideal"), seed=0)
    m = MappedMatrix(chip, "w", 100, 150, bias=True)
    assert {(t.inputs, t.outputs) for t in m.tiles} == {
        (i, o) for i in ((0, 64), (64, 101)) for o in ((0, 64), (64, 128), (128, 150))}
    assert len(chip.arrays) == 5  # the last small tile packs beside another


def test_li2019_programmed_weights_have_pair_noise(rng):
    device = crossbar.preset("li2019")
    chip = Chip(device, seed=3)
    m = MappedMatrix(chip, "w", 60, 60, bias=True)
    w = rng.uniform(-0.4, 0.4, (60, 60))
    b = rng.uniform(-0.4, 0.4, 60)
    m.program(w, b)
    w_read, b_read = m.read_weights()
    stuck = chip.arrays[0].stuck[:122, :60]
    healthy = ~(stuck[:61] | stuck[61:])
    error = np.vstack([w_read - w, (b_read - b)[None, :]])[healthy]
    # G+ and G- each carry sigma, so the weight (G+ - G-)/k carries sqrt(2) sigma / k
    expected = np.sqrt(2) * device.program_noise_sigma / m.scale
    assert abs(error.std() / expected - 1) < 0.10


def test_update_moves_weights_by_dw_including_sign_changes(rng):
    chip = Chip(_quiet_li2019(), seed=0)
    m = MappedMatrix(chip, "w", 6, 5, bias=True)
    m.initialize()
    w0, b0 = m.read_weights()
    np.testing.assert_allclose(w0, 0, atol=1e-12)
    target_w = rng.uniform(-0.3, 0.3, (6, 5))
    target_b = rng.uniform(-0.3, 0.3, 5)
    report = m.apply_update(target_w, target_b)
    assert report.n_limited == 0
    w1, b1 = m.read_weights()
    np.testing.assert_allclose(w1, target_w, atol=1e-12)
    np.testing.assert_allclose(b1, target_b, atol=1e-12)
    dw = -2 * target_w  # every weight changes sign
    m.apply_update(dw, -2 * target_b)
    w2, b2 = m.read_weights()
    np.testing.assert_allclose(w2, -target_w, atol=1e-12)
    np.testing.assert_allclose(b2, -target_b, atol=1e-12)


def test_update_is_limited_by_gate_voltage(rng):
    chip = Chip(_quiet_li2019(), seed=0)
    m = MappedMatrix(chip, "w", 2, 2, bias=False)
    m.initialize()
    report = m.apply_update(np.full((2, 2), 5.0))  # far beyond what the gate range allows
    assert report.n_limited == 8
    w, _ = m.read_weights()
    scheme = chip.device.two_pulse
    expected = (scheme.set_conductance(1.6) - scheme.set_conductance(0.7)) / m.scale
    np.testing.assert_allclose(w, expected, atol=1e-12)


def test_update_of_devices_never_programmed_raises():
    m = MappedMatrix(Chip(_quiet_li2019(), seed=0), "w", 2, 2, bias=False)
    m.scale = 1e-4  # a scale, but no SET gate voltage on any device yet
    before = m.chip.arrays[0].conductance.copy()
    with pytest.raises(ValueError, match=r"w: .*never programmed.*initialize\(\) or program\(\)"):
        m.apply_update(np.full((2, 2), 0.1))
    np.testing.assert_array_equal(m.chip.arrays[0].conductance, before)


def test_pulse_device_update_moves_weights():
    device = crossbar.DeviceModel(g_min=0.0, g_max=200e-6,
                                  pulse_law=crossbar.PulseUpdateLaw(step_up=0.5e-6, step_down=0.5e-6))
    chip = Chip(device, seed=0)
    m = MappedMatrix(chip, "w", 3, 2, bias=False)
    m.initialize()
    dw = np.array([[0.1, -0.2], [0.05, 0.0], [-0.3, 0.25]])
    m.apply_update(dw)
    np.testing.assert_allclose(m.read_weights()[0], dw, atol=1e-12)


def test_li_networks_share_one_array(tmp_path):
    # airline: LSTM 1 -> 15 with bias at column 1, dense 15 -> 1 with bias at column 61
    chip = Chip.from_preset("li2019", crossbar.ArraySpec(count=1), seed=0)
    lstm = MappedMatrix(chip, "lstm", 1 + 15, 60, bias=True, corner=(0, 0, 0),
                        column_groups=[(g, 15) for g in "ifgo"])
    dense = MappedMatrix(chip, "dense", 15, 1, bias=True, corner=(0, 0, 60))
    blocks = chip.layout.blocks
    rows = lambda name: (min(b.rows[0] for b in blocks if b.matrix == name), max(b.rows[1] for b in blocks
                                                                                if b.matrix == name))
    cols = lambda name: (min(b.cols[0] for b in blocks if b.matrix == name), max(b.cols[1] for b in blocks
                                                                                if b.matrix == name))
    assert rows("lstm") == (0, (1 + 15 + 1) * 2) and cols("lstm") == (0, 60)
    assert rows("dense") == (0, (15 + 1) * 2) and cols("dense") == (60, 61)
    chip.save_layout(tmp_path / "airline.png")
    assert (tmp_path / "airline.png").stat().st_size > 10_000
    # gait: LSTM 50 -> 14 without bias fills all 128 rows; the dense layer sits at columns 57..64
    chip = Chip.from_preset("li2019", crossbar.ArraySpec(count=1), seed=0)
    MappedMatrix(chip, "lstm", 50 + 14, 56, bias=False, corner=(0, 0, 0))
    MappedMatrix(chip, "dense", 14, 8, bias=False, corner=(0, 0, 56))
    blocks = chip.layout.blocks
    assert rows("lstm") == (0, 128) and cols("lstm") == (0, 56)
    assert rows("dense") == (0, 28) and cols("dense") == (56, 64)
    text = chip.layout.table()
    assert "57-64" in text and "1-128" not in text and "65-128" in text
    chip.save_layout(tmp_path / "gait.pdf", with_conductance=False)
    assert (tmp_path / "gait.pdf").exists()
    assert lstm.n_in == 16 and dense.n_out == 1


def test_too_big_for_the_arrays_says_how_many():
    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(count=2))
    with pytest.raises(ValueError, match="needs 5 arrays"):
        MappedMatrix(chip, "w", 100, 150, bias=True)
    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(count=1))
    MappedMatrix(chip, "a", 10, 10, corner=(0, 0, 0))
    with pytest.raises(ValueError, match="overlaps"):
        MappedMatrix(chip, "b", 10, 10, corner=(0, 5, 5))
    with pytest.raises(ValueError, match="outside"):
        MappedMatrix(chip, "c", 10, 10, corner=(0, 120, 0))


def test_bad_weights_and_inputs(rng):
    chip = Chip.from_preset("li2019", seed=0)
    m = MappedMatrix(chip, "w", 4, 3, bias=True, encoding=Encoding(scale="fixed"))
    good_b = np.zeros(3)
    for bad in (np.full((4, 3), np.nan), np.full((4, 3), np.inf)):
        with pytest.raises(ValueError, match="NaN or infinite"):
            m.program(bad, good_b)
    with pytest.raises(ValueError, match="shape"):
        m.program(np.zeros((3, 4)), good_b)
    with pytest.raises(ValueError, match="bias"):
        m.program(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"1 of 15 weights beyond \+-0.882"):
        m.program(np.full((4, 3), 0.1) + np.pad([[1.5]], ((0, 3), (0, 2))), good_b)
    report = MappedMatrix(Chip.from_preset("li2019", seed=0), "c", 4, 3, bias=True,
                          encoding=Encoding(scale="fixed", clip_weights=True)).program(np.full((4, 3), 2.0), good_b)
    assert report.range.n_outside == 12 and report.range.clipped
    m.program(rng.uniform(-0.5, 0.5, (4, 3)), good_b)
    with pytest.raises(ValueError, match="calibrate_adc"):
        m.matvec(np.zeros((1, 4)))
    m.calibrate_adc(rng.uniform(0, 1, (20, 4)))
    with pytest.raises(ValueError, match="beyond"):
        m.matvec(np.full((1, 4), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        m.matvec(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="shape"):
        m.matvec(np.zeros((1, 5)))


@pytest.mark.parametrize("field, value", [("scheme", "diagonal"), ("scale", "magic"), ("siemens_per_weight", 0.0),
                                          ("percentile", 0.0), ("v_read", -0.2), ("bias_input", 2.0),
                                          ("bias_rows", 0)])
def test_encoding_validation(field, value):
    with pytest.raises(ValueError, match=f"encoding.{field}"):
        Encoding(**{field: value})


def test_max_abs_scale_uses_the_whole_range(rng):
    chip = Chip(_quiet_li2019(), seed=0)
    m = MappedMatrix(chip, "w", 5, 4, bias=False, encoding=Encoding(scale="max_abs"))
    w = rng.uniform(-3, 3, (5, 4))
    report = m.program(w)
    low, high = chip.device.programmable_range
    assert m.scale == pytest.approx((high - low) / np.abs(w).max())
    assert report.range.n_outside == 0
    np.testing.assert_allclose(m.read_weights()[0], w, atol=1e-9)
    g = chip.arrays[0].conductance[:10, :4]
    assert g.max() == pytest.approx(high) and g.min() == pytest.approx(low)


def test_percentile_scale_clips_and_reports(rng):
    chip = Chip(_quiet_li2019(), seed=0)
    m = MappedMatrix(chip, "w", 50, 10, bias=False, encoding=Encoding(scale="percentile", percentile=90.0))
    report = m.program(rng.standard_normal((50, 10)))
    assert 30 <= report.range.n_outside <= 70 and report.range.clipped


def test_noisy_matvec_statistics_and_energy(rng):
    chip = Chip.from_preset("li2019", seed=1)
    m = MappedMatrix(chip, "w", 30, 20, bias=True)
    w = rng.uniform(-0.5, 0.5, (30, 20))
    b = rng.uniform(-0.5, 0.5, 20)
    m.program(w, b)
    x = rng.uniform(0, 1, (200, 30))
    m.calibrate_adc(x)
    w_held, b_held = m.read_weights()  # stuck devices included: what the product really uses
    m.counters.reset()
    y = m.matvec(x)
    held = x @ w_held + b_held
    # only read noise and the converters separate the product from the weights held
    assert np.corrcoef(y.ravel(), held.ravel())[0, 1] > 0.999
    lsb = m.adc.step / (m.encoding.v_read * m.scale)
    assert np.sqrt(np.mean((y - held) ** 2)) < 4 * lsb
    assert m.counters.adc_conversions == 200 * 20
    assert m.counters.input_vectors == 200
    assert m.energy() > 0 and m.latency() > 0



def test_fast_first_fit_agrees_with_the_plain_loop():
    """The summed-area first fit places every block where the cell-by-cell loop would."""
    from mapping.occupancy import Occupancy, first_fit_reference

    rng = np.random.default_rng(5)
    space = Occupancy(16, 8)
    grids = []
    for _ in range(300):
        h, w = int(rng.integers(1, 17)), int(rng.integers(1, 9))
        expected = first_fit_reference(grids, h, w)
        got = space.first_fit(h, w)
        assert got == expected, (h, w)
        if got is None:
            got = (space.add_array(), 0, 0)
            grids.append(np.zeros((16, 8), dtype=bool))
        k, r, c = got
        space.mark(k, r, c, h, w)
        grids[k][r:r + h, c:c + w] = True
        assert space.free_devices(k) == int((~grids[k]).sum())


def test_placing_thousands_of_arrays_builds_no_devices_and_gives_up_whole():
    import time

    from lstm.hardware import place_network
    from mapping import ChipSpec
    from lstm.network import NetworkConfig

    began = time.time()
    config = ChipSpec(preset="ideal")
    chip = config.build()
    place_network(chip, NetworkConfig(1024, (1024,), 10), config)
    # 32 x 64 full tiles of the LSTM, its bias rows in one more array, the dense head in a few
    assert 2048 < chip.n_allocated < 2060
    assert time.time() - began < 10
    assert chip.arrays_built == 0  # nothing built until used
    small = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(16, 8, count=2))
    with pytest.raises(ValueError, match="needs 3 arrays"):
        small.allocate("m", [(16, 8), (16, 8), (16, 8)])
    assert small.n_allocated == 0  # all or nothing
    small.allocate("m", [(16, 8), (8, 8)])
    assert small.n_allocated == 2 and len(small.arrays) == 2


def test_saved_chip_continues_and_keeps_its_space(tmp_path):
    chip = Chip.from_preset("li2019", crossbar.ArraySpec(32, 16), seed=3)
    m = MappedMatrix(chip, "w", 20, 10, encoding=Encoding(scale="max_abs"))
    m.program(np.random.default_rng(0).uniform(-1, 1, (20, 10)), np.zeros(10))
    path = str(tmp_path / "chip.npz")
    chip.save(path)
    loaded = Chip.load(path)
    v = np.full((3, 32), 0.1)
    for _ in range(5):
        for a, b in zip(chip.arrays, loaded.arrays):
            np.testing.assert_array_equal(a.mvm(v), b.mvm(v))
    assert loaded.layout.blocks == chip.layout.blocks
    # the next placement and the next array built are those of the original
    assert chip.allocate("x", [(32, 16), (8, 8)]) == loaded.allocate("x", [(32, 16), (8, 8)])
    np.testing.assert_array_equal(chip.arrays[-1].conductance, loaded.arrays[-1].conductance)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npz: damaged"):
        Chip.load(str(tmp_path / "junk.npz"))


def test_li2019_updates_move_more_than_asked():
    """Li et al.'s scheme: a SET keeps a device above its new target where it is, so a small change moves a
    weight more than asked on average, and updates of zero re-noise every device (README's measurements)."""
    def true_weights(m):
        t = m.tiles[0]
        a = m.chip.arrays[t.array]
        g, stuck = a.conductance[:2 * m.n_in, :m.n_out], a.stuck[:2 * m.n_in, :m.n_out]
        return (g[:m.n_in] - g[m.n_in:]) / m.scale, ~(stuck[:m.n_in] | stuck[m.n_in:])

    moved, spread = [], []
    for seed in range(3):
        chip = Chip.from_preset("li2019", crossbar.ArraySpec(count=1), seed=seed)
        m = MappedMatrix(chip, "w", 32, 60, bias=False, encoding=Encoding(scale="fixed"))
        w0 = np.random.default_rng(seed).uniform(-0.3, 0.3, (32, 60))
        m.program(w0)
        before, healthy = true_weights(m)
        m.apply_update(np.full((32, 60), 0.02))
        moved.append((true_weights(m)[0] - before)[healthy])
        for _ in range(30):
            m.apply_update(np.zeros((32, 60)))
        spread.append(((true_weights(m)[0] - w0)[healthy], (before - w0)[healthy]))
    moved = np.concatenate(moved)
    assert 0.027 < moved.mean() < 0.036  # asked 0.02
    after, programmed = (np.concatenate([s[k] for s in spread]) for k in (0, 1))
    assert 0.050 < programmed.std() < 0.064  # sqrt(2) 4 uS / 100 uS = 0.057
    # zero updates after the +0.02 one: the mean stays near that move, the spread more than triples
    assert after.std() > 3.0 * programmed.std() and abs(after.mean() - moved.mean()) < 0.02


def test_the_default_scale_is_li2019s_when_the_weights_fit():
    from mapping.encoding import choose_scale

    window = crossbar.preset("li2019").programmable_range
    fits = np.full((3, 2), 0.5)
    assert choose_scale(Encoding(), fits, window) == 100e-6  # Li et al.'s 100 uS per unit weight
    too_big = np.array([[1.0, -0.2]])
    assert choose_scale(Encoding(), too_big, window) == pytest.approx(window[1] - window[0])  # max_abs
    assert choose_scale(Encoding(scale="fixed"), too_big, window) == 100e-6
