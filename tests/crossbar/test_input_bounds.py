"""The physical layer against counts, voltages and sizes it cannot honour: refused in one line, or bounded
with every pulse still counted (issue 27)."""

import numpy as np
import pytest

import crossbar
from crossbar.devices import pulse_kernels
from crossbar.numerics.random_streams import derive_seeds
from crossbar.validation import INT64_MAX, check_memory, check_pulse_counts


def soft_array(rows=3, cols=4, seed=0):
    array = crossbar.CrossbarArray(rows, cols, crossbar.preset("hfo2_soft_bounds"), seed=seed)
    array.initialize()
    return array


# ------------------------------------------------------------------ pulse counts
def test_a_count_near_the_int64_limit_is_counted_and_simulated_to_the_bound():
    """Was a segmentation fault: the kernel sized its noise buffer by the counts' sum."""
    array = soft_array()
    n = np.zeros(array.shape, dtype=np.int64)
    n[0, 0] = INT64_MAX - 10 ** 18
    n[1, 2] = -(10 ** 18)
    before, energy = array.counters.programming_pulses, array.energy()
    assert array.apply_pulses(n) == INT64_MAX
    assert array.counters.programming_pulses - before == INT64_MAX  # counted as asked
    costs = array.costs
    assert array.energy() - energy >= 0.99 * INT64_MAX * costs.pulse_voltage ** 2 * costs.pulse_conductance \
        * costs.pulse_time
    assert array.latency() >= (INT64_MAX - 10 ** 18) * costs.pulse_time
    g = array.conductance
    np.testing.assert_allclose(g[0, 0], array.g_high[0, 0], rtol=1e-12)  # at its bound
    np.testing.assert_allclose(g[1, 2], array.g_low[1, 2], rtol=1e-12)


@pytest.mark.parametrize("counts, match", [
    (1e20, r"n_pulses\[1, 1\] \(counted from 1\) = .*1e\+20"),  # was: 0 pulses applied, silently
    (np.nan, "whole numbers of pulses"),
    (np.inf, "whole numbers of pulses"),
    (2.5, "whole numbers of pulses"),
    (np.iinfo(np.int64).min, "whole numbers of pulses within"),
    (np.uint64(2 ** 64 - 1), "whole numbers of pulses within"),
    (2 ** 62, "pulses in all; a write can count at most"),  # 12 devices: the total overflows an int64
])
def test_counts_that_cannot_be_counted_are_refused_and_nothing_moves(counts, match):
    array = soft_array()
    before = array.conductance.copy()
    pulses = array.counters.programming_pulses
    with pytest.raises(ValueError, match=match):
        array.apply_pulses(np.full(array.shape, counts))
    np.testing.assert_array_equal(array.conductance, before)
    assert array.counters.programming_pulses == pulses
    with pytest.raises(ValueError, match="dtype bool"):
        array.apply_pulses(np.ones(array.shape, dtype=bool))


def test_counts_up_to_the_limit_give_every_pulse_bit_for_bit_and_beyond_it_the_same_device():
    array = soft_array(seed=4)
    up, down = array.pulse_limits()
    assert (up, down) == array.device.pulse_law.saturating_pulses(float((array.g_high - array.g_low).max()))
    assert 10_000 < up < 20_000 and 8_000 < down < 16_000  # 2 x 52 ln2 / -ln(1 - step / width)
    n = np.zeros(array.shape, dtype=np.int64)
    n[0, :] = [up, -down, 5, 0]
    n[2, 1] = up
    twin = crossbar.CrossbarArray(3, 4, array.device, seed=4)
    twin.initialize()
    g, law = twin._write_start(n != 0), array.device.pulse_law
    pulse_kernels.pulse_update(g, n, twin.g_low, twin.g_high, twin.stuck, law.kind_code, law.step_up, law.step_down,
                         law.nonlinearity, law.cycle_noise_sigma_relative,
                         crossbar.numerics.random_streams.stream_seeds(twin.rng, twin.rows))
    array.apply_pulses(n)
    np.testing.assert_array_equal(array.settled_conductance[n != 0], g[n != 0])  # every pulse, bit for bit
    more = soft_array(seed=4)
    steps = more.counters.row_pulse_steps
    far = np.where(np.abs(n) > 5, n * 10 ** 9, n)  # far past the limit: the same pulses simulated, all counted
    assert more.apply_pulses(far) == int(np.abs(far).sum())
    np.testing.assert_array_equal(more.conductance, array.conductance)
    assert more.counters.row_pulse_steps - steps == int(np.abs(far).max(axis=1).sum())


@pytest.mark.parametrize("kind", ["linear", "exponential"])
def test_past_the_limit_a_noise_free_device_is_exactly_where_every_pulse_would_leave_it(kind):
    law = crossbar.PulseUpdateLaw(kind=kind, step_up=2e-6, step_down=3e-6, nonlinearity=1.5)
    device = crossbar.DeviceModel(name="plain", g_min=10e-6, g_max=100e-6, pulse_law=law)
    array = crossbar.CrossbarArray(2, 2, device, seed=0)
    array.initialize()
    up, down = array.pulse_limits()
    assert up == int(np.ceil(2 * 90e-6 / 2e-6 * (np.exp(1.5) if kind == "exponential" else 1.0)))
    n = np.array([[3 * up, -3 * down], [10 ** 15, -(10 ** 15)]])
    g = array._write_start(n != 0)
    pulse_kernels.pulse_update(g, n[:1].repeat(2, axis=0), array.g_low, array.g_high, array.stuck, law.kind_code,
                         law.step_up, law.step_down, law.nonlinearity, 0.0, np.zeros(2, dtype=np.uint64))
    array.apply_pulses(n)
    np.testing.assert_array_equal(array.conductance, g)  # every pulse of 3x the limit simulated: the same
    np.testing.assert_array_equal(array.conductance[:, 0], array.g_high[:, 0])
    np.testing.assert_array_equal(array.conductance[:, 1], array.g_low[:, 1])


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_the_kernel_and_its_twin_agree_at_the_limit_and_refuse_a_row_beyond_2_to_the_31(kind):
    rng = np.random.default_rng(7)
    shape = (3, 5)
    g0 = rng.uniform(20e-6, 80e-6, shape)
    low, high = np.full(shape, 10e-6), np.full(shape, 100e-6)
    law = crossbar.PulseUpdateLaw(kind=crossbar.devices.models.PULSE_LAW_KINDS[kind], step_up=2e-6, step_down=3e-6,
                                  nonlinearity=2.0, cycle_noise_sigma_relative=0.3)
    up, down = law.saturating_pulses(90e-6)
    n = rng.choice([up, -down, 0, 7], size=shape).astype(np.int64)
    frozen = np.zeros(shape, dtype=bool)
    seeds = derive_seeds(np.uint64(9), shape[0])
    a, b = g0.copy(), g0.copy()
    assert (pulse_kernels.pulse_update(a, n, low, high, frozen, kind, 2e-6, 3e-6, 2.0, 0.3, seeds)
            == pulse_kernels.pulse_update_reference(b, n, low, high, frozen, kind, 2e-6, 3e-6, 2.0, 0.3, seeds))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    huge = np.full(shape, 2 ** 40, dtype=np.int64)
    for update in (pulse_kernels.pulse_update, pulse_kernels.pulse_update_reference):
        with pytest.raises(ValueError, match="more than 2\\^31 normals"):
            update(g0.copy(), huge, low, high, frozen, kind, 2e-6, 3e-6, 2.0, 0.3, seeds)


def test_table_devices_are_bounded_too():
    array = crossbar.CrossbarArray(2, 3, crossbar.preset("gong2018_hfo2"), seed=1)
    array.initialize()
    assert array.pulse_limits() == (crossbar.devices.models.TABLE_SATURATING_PULSES,) * 2
    assert array.apply_pulses(np.full(array.shape, 10 ** 17)) == 6 * 10 ** 17
    np.testing.assert_allclose(array.conductance, array.g_high, rtol=1e-6)


def test_an_in_situ_update_whose_pulses_cannot_be_counted_is_refused_naming_the_learning_rate():
    """Was: learning_rate 1e18 killed ``xbar run`` with a segmentation fault (1e9, 1e15: MemoryError)."""
    from xbar.experiment import li2019
    from xbar.runner import build_trainer, problem_of

    exp = li2019("vowels", 1).with_values({"hardware.preset": "hfo2_soft_bounds"})
    _, _, hw = build_trainer(exp, problem_of(exp), "in_situ")
    hw.program()
    mm = hw.matrices["head.W"]
    before = hw.chip.arrays[0].conductance.copy()
    with pytest.raises(ValueError, match=r"head: a change of .* asks for 1e\+20 pulses.*lower learning rate") as error:
        mm.apply_update(np.full((mm.n_in, mm.n_out), 1e18))
    assert "initialize()" not in str(error.value)
    np.testing.assert_array_equal(hw.chip.arrays[0].conductance, before)
    counted = hw.chip.arrays[0].counters.programming_pulses
    report = mm.apply_update(np.full((mm.n_in, mm.n_out), 1e6))  # 1e6: was memory past 1.2 GB
    assert report.pulses > 10 ** 10
    assert hw.chip.arrays[0].counters.programming_pulses - counted == report.pulses


def test_check_pulse_counts_returns_the_exact_total():
    n, total = check_pulse_counts("n", np.array([[INT64_MAX // 2, -(INT64_MAX // 2)], [1, 0]]), (2, 2))
    assert n.dtype == np.int64 and total == 2 * (INT64_MAX // 2) + 1
    with pytest.raises(ValueError, match=r"n has shape \(2,\); shape \(2, 2\) required"):
        check_pulse_counts("n", [1, 2], (2, 2))


# ------------------------------------------------------------------ reads
@pytest.mark.parametrize("dac", [None, crossbar.DAC(8, 0.3, clip=True)])
@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_read_of_infinite_voltages_is_refused_like_nan(dac, reference, value):
    """Was: ``mvm`` of an infinite voltage returned NaN currents (NaN itself was refused)."""
    array = crossbar.CrossbarArray(4, 3, crossbar.preset("ideal"), seed=0, peripherals=crossbar.Peripherals(dac=dac))
    array.program(np.full((4, 3), 50e-6))
    v = np.full((2, 4), 0.2)
    v[1, 2] = value
    with pytest.raises(ValueError, match=r"voltages holds 1 NaN or infinite value\(s\); all values must be finite"):
        array.mvm(v, reference=reference)
    assert np.isfinite(array.mvm(np.full((1, 4), 1e300 if dac else 0.2), reference=reference)).all()


@pytest.mark.parametrize("preset", ["li2019"])  # its read noise squares the volts
@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("volts", [1e20, 1e300])
def test_a_read_whose_currents_overflow_is_refused(preset, reference, volts):
    """Was: finite voltages of 1e20 V returned -inf currents and 1e300 V NaN, without a word."""
    array = crossbar.CrossbarArray(4, 4, crossbar.preset(preset), seed=0)
    low, high = array.device.programmable_range
    array.program(np.full((4, 4), 0.5 * (low + high)))
    v = np.zeros((1, 4))
    v[0, 0] = volts
    with pytest.raises(ValueError, match=r"voltages up to .* V give column currents beyond the range of float64"):
        array.mvm(v, reference=reference)
    assert np.isfinite(array.mvm(np.full((1, 4), 1e3), reference=reference)).all()  # large but finite: read


# ------------------------------------------------------------------ sizes against memory
@pytest.fixture
def sixteen_gigabytes(monkeypatch):
    """The memory available fixed at 16 GB, whatever the machine."""
    monkeypatch.setattr(crossbar.validation, "available_memory_bytes", lambda: 16_000_000_000)


def test_the_available_memory_is_read():
    available = crossbar.validation.available_memory_bytes()
    assert available is None or 0 < available < 2 ** 50


def test_an_array_beyond_memory_is_refused_before_anything_is_allocated(sixteen_gigabytes):
    import time

    began = time.time()
    with pytest.raises(ValueError, match=r"^an array of 50000 x 50000 devices \(2,500,000,000 devices of ideal\) "
                                         r"needs about 480 GB of memory; 16 GB is available"):
        crossbar.CrossbarArray(50000, 50000, crossbar.preset("ideal"))
    assert time.time() - began < 2
    assert crossbar.CrossbarArray(50000, 64, crossbar.preset("ideal")).shape == (50000, 64)  # 0.6 GB: built


def test_a_chip_checks_all_its_arrays_before_building_the_first(sixteen_gigabytes):
    from mapping import Chip

    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(1024, 1024))
    for k in range(100):
        chip.allocate(f"m{k}", [(1024, 1024)])  # a block a whole array
    with pytest.raises(ValueError, match=r"100 array\(s\) of 1024 x 1024 devices .* needs about 20.1 GB"):
        chip.arrays
    assert chip.arrays_built == 0


def test_a_placement_grid_beyond_memory_is_refused(sixteen_gigabytes):
    from mapping import Chip

    chip = Chip(crossbar.preset("ideal"), crossbar.ArraySpec(100_000, 100_000))
    with pytest.raises(ValueError, match=r"placing blocks on an array of 100000 x 100000 devices needs about 140 GB"):
        chip.allocate("m", [(10, 10)])


def test_solve_passive_beyond_memory_is_refused_and_superlu_failures_name_the_size(sixteen_gigabytes, monkeypatch):
    import scipy.sparse.linalg as spla

    with pytest.raises(ValueError, match=r"solve_passive of a 3000 x 3000 array for 4 input\(s\) needs about 59.8 GB"):
        crossbar.solve_passive(np.full((3000, 3000), 5e-5), np.full((4, 3000), 0.2), 1.0, 1.0)

    def out_of_memory(matrix):
        raise SystemError("<built-in function gstrf> returned NULL without setting an exception")

    monkeypatch.setattr(spla, "splu", out_of_memory)  # was: that SystemError as a traceback
    with pytest.raises(ValueError, match=r"the sparse solve of 32 nodes ran out of memory"):
        crossbar.solve_passive(np.full((4, 4), 5e-5), np.full((1, 4), 0.2), 1.0, 1.0)


def test_a_network_and_a_chip_beyond_memory_are_refused_before_their_weights(sixteen_gigabytes):
    import crossbar
    from lstm.hardware import HardwareNetwork
    from mapping import ChipSpec
    from lstm.network import Network, NetworkConfig

    with pytest.raises(ValueError, match=r"a network of hidden=\[30000\] \(3.6e\+09 weights\) needs about 230 GB"):
        Network(NetworkConfig(4, (30000,), 1))
    small = Network(NetworkConfig(4, (8,), 1))
    big = ChipSpec(array=crossbar.ArraySpec(rows=128, cols=64))
    object.__setattr__(small.config, "hidden", (5000,))  # a chip of 24 440 arrays, without its 100 M weights
    with pytest.raises(ValueError, match=r"a chip for hidden=\[5000\] \(about 24,440 arrays of 128 x 64 devices\) "
                                         r"needs about 39 GB of memory; 16 GB is available"):
        HardwareNetwork(small, big)
