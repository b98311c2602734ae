"""White read noise that depends on G through a floor and a measured table (``DeviceModel.read_noise_sigma``,
``read_noise_table``): its statistics in products and device reads, the relative-only path unchanged bit for
bit, and bad tables refused."""

import numpy as np
import pytest

import crossbar
from crossbar import CrossbarArray

TABLE = ((10e-6, 0.5e-6), (50e-6, 3e-6), (100e-6, 1e-6))


def _device(**changes):
    return crossbar.preset("ideal").replace(g_min=0.0, g_max=120e-6, **changes)


def test_sigma_of_g_is_the_floor_the_relative_part_and_the_table_in_quadrature():
    device = _device(read_noise_sigma=0.4e-6, read_noise_sigma_relative=0.02, read_noise_table=TABLE)
    g = np.array([5e-6, 30e-6, 75e-6, 110e-6])
    table = np.interp(g, [10e-6, 50e-6, 100e-6], [0.5e-6, 3e-6, 1e-6])  # held at the ends
    np.testing.assert_allclose(device.read_noise_sigma_at(g), np.sqrt(0.4e-6 ** 2 + (0.02 * g) ** 2 + table ** 2),
                               rtol=1e-15)
    relative = _device(read_noise_sigma_relative=0.02)
    assert relative.read_noise_is_relative and not device.read_noise_is_relative
    np.testing.assert_array_equal(relative.read_noise_sigma_at(g), 0.02 * g)
    assert device.has_read_noise and not _device().has_read_noise and not _device().read_noise_sigma_at(g).any()
    assert "read noise table" in device.describe() and not device.is_ideal


def test_products_draw_each_cells_own_sigma_of_g(rng):
    """A column's current has the variance sum_i (V_i sigma(G_ij))^2 with sigma(G) from the table: the
    cells low in the window are quiet, those in the middle loud (within 5 % over 20 000 reads)."""
    device = _device(read_noise_table=TABLE)
    array = CrossbarArray(16, 4, device, seed=0)
    g = np.stack([np.full(16, 10e-6), np.full(16, 50e-6), rng.uniform(10e-6, 100e-6, 16),
                  np.full(16, 100e-6)], axis=1)
    array.program(g)
    v = np.full((20000, 16), 0.2)
    currents = array.mvm(v)
    expected_sd = np.sqrt((0.2 ** 2 * device.read_noise_sigma_at(array.conductance) ** 2).sum(axis=0))
    np.testing.assert_allclose(currents.mean(axis=0), 0.2 * array.conductance.sum(axis=0), rtol=1e-3)
    np.testing.assert_allclose(currents.std(axis=0), expected_sd, rtol=0.05)
    assert currents[:, 1].std() > 5 * currents[:, 0].std()


def test_device_reads_draw_sigma_of_g():
    device = _device(read_noise_sigma=0.3e-6, read_noise_table=TABLE)
    array = CrossbarArray(200, 50, device, seed=3)
    target = np.where(np.arange(50) < 25, 10e-6, 50e-6)[None, :].repeat(200, axis=0)
    array.program(target)
    measured = np.array([array.read_conductance(slice(None), slice(None)) for _ in range(4)])
    error = measured - array.conductance[None]
    for columns, g in ((slice(0, 25), 10e-6), (slice(25, 50), 50e-6)):
        assert error[:, :, columns].std() == pytest.approx(float(device.read_noise_sigma_at(g)), rel=0.05)


def test_write_verify_guards_by_sigma_of_g():
    """Write-and-verify accepts a noisy read within the tolerance less 2 sigma(G) of the target: with the read
    noise in a table (1 uS, 5 uS tolerance) the guard takes the share of devices truly within tolerance from
    about 96 % (no guard) to 99.5 % and more; a guard computed from the relative part alone (0) would not."""
    device = crossbar.preset("li2019").replace(read_noise_sigma_relative=0.0,
                                               read_noise_table=((180e-6, 1e-6), (300e-6, 1e-6)))
    target = np.random.default_rng(1).uniform(195e-6, 270e-6, (64, 32))
    within = {}
    for margin in (0.0, 2.0):
        array = CrossbarArray(64, 32, device, seed=2)
        array.program(target, method="write_verify", tolerance=5e-6, max_rounds=40, verify_margin_sigmas=margin)
        within[margin] = np.mean(np.abs(array.conductance - target)[~array.stuck] <= 5e-6)
    assert within[0.0] < 0.975 and within[2.0] >= 0.995, within


def test_relative_noise_alone_keeps_its_numbers():
    """A device whose noise is relative alone reads as before: a floor of 0 and no table change nothing."""
    a = CrossbarArray(8, 6, _device(read_noise_sigma_relative=0.03), seed=4)
    b = CrossbarArray(8, 6, _device(read_noise_sigma_relative=0.03, read_noise_sigma=0.0), seed=4)
    g = np.random.default_rng(0).uniform(10e-6, 100e-6, (8, 6))
    a.program(g)
    b.program(g)
    v = np.random.default_rng(1).uniform(-0.2, 0.2, (5, 8))
    np.testing.assert_array_equal(a.mvm(v), b.mvm(v))
    np.testing.assert_array_equal(a.read_conductance(slice(None), slice(None)),
                                  b.read_conductance(slice(None), slice(None)))


@pytest.mark.parametrize("table, message", [
    (((10e-6, 1e-6),), "at least 2"),
    (((10e-6, 1e-6), (10e-6, 2e-6)), "increase strictly"),
    (((10e-6, 1e-6), (20e-6, -2e-6)), "non-negative"),
    (((10e-6, 1e-6), (20e-6, float("nan"))), "finite"),
    ((10e-6, 1e-6), "pairs"),
])
def test_bad_read_noise_tables_are_refused(table, message):
    with pytest.raises(ValueError, match=f"read_noise_table.*{message}"):
        _device(read_noise_table=table)
    with pytest.raises(ValueError, match="read_noise_sigma"):
        _device(read_noise_sigma=-1e-6)


def test_an_experiment_sets_the_noise_table_from_toml(tmp_path):
    from xbar.experiment import Experiment, parameter, read_experiment_file

    path = tmp_path / "e.toml"
    path.write_text('[data]\ntask = "vowels"\n\n[device]\nread_noise_sigma = 2e-7\n'
                    'read_noise_table = [[10e-6, 0.5e-6], [100e-6, 1e-6]]\n')
    exp, _ = read_experiment_file(str(path))
    device = exp.device_model()
    assert device.read_noise_sigma == 2e-7 and device.read_noise_table == ((10e-6, 0.5e-6), (100e-6, 1e-6))
    assert parameter("device.read_noise_sigma").unit == "S"
    assert Experiment.from_dict(exp.to_dict()).device_model() == device
