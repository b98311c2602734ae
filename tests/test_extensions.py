"""The named extension points, through the public registry only: a toy of each kind (a 1-bit comparator
ADC, a linear-cubic cell, a constant-step pulse law, a programming scheme of whole pulses) added with
``crossbar.register_*``, run on arrays and in a network on a chip, and checked against hand physics."""

import numpy as np
import pytest

import crossbar
from lstm.hardware import HardwareNetwork, InSituTrainer
from lstm.network import make_network
from mapping import ChipSpec
from xbar.experiment import experiment_from_table, li2019
from xbar.runner import build_trainer, problem_of


class Comparator(crossbar.AdcArchitecture):
    """One comparator per column: the top code for a signal at or above 0, the bottom code below it (the
    output is +full_scale or -full_scale)."""

    def codes(self, x, weights, half_codes):
        top = half_codes - 1.0
        return np.where(x >= 0.0, top, -top)


class LinearCubic(crossbar.CellIV):
    """``I = G (V + a V^3)``."""

    a = 0.5  # 1/V^2

    def current_per_siemens(self, volts):
        v = np.asarray(volts, dtype=np.float64)
        return v + self.a * v ** 3

    def slope_per_siemens(self, volts):
        v = np.asarray(volts, dtype=np.float64)
        return 1.0 + 3.0 * self.a * v ** 2


class ConstantStep(crossbar.PulseLaw):
    """Every pulse moves G by ``+-c`` (clipped at the window)."""

    c = 2.0 ** -24  # S (a power of two: sums of it are exact)

    def step(self, g, up, g_low, g_high):
        return np.where(up, self.c, -self.c) + 0.0 * g


class NearestPulses(crossbar.ProgrammingScheme):
    """An open-loop write of whole pulses of the device's linear law: the count nearest the target."""

    def __init__(self, device):
        self.step = device.pulse_law.step_up

    def counts(self, delta):
        return np.rint(delta / self.step).astype(np.int64)

    def program_once(self, array, target, mask):
        return array.apply_pulses(np.where(mask, self.counts(array.gain * target - array.conductance), 0))

    def move(self, array, delta, rows, cols):
        n = np.zeros(array.shape, dtype=np.int64)
        n[rows, cols] = self.counts(delta)
        return array.apply_pulses(n), 0


TOYS = [(crossbar.register_adc_architecture, crossbar.ADC_ARCHITECTURES, "comparator", Comparator),
        (crossbar.register_cell_iv, crossbar.CELL_IV_MODELS, "linear_cubic", LinearCubic),
        (crossbar.register_pulse_law, crossbar.PULSE_LAWS, "constant_step", ConstantStep),
        (crossbar.register_programming_scheme, crossbar.PROGRAMMING_SCHEMES, "nearest_pulses", NearestPulses)]


@pytest.fixture
def toys():
    for register, _, name, cls in TOYS:
        register(name, cls)
    try:
        yield
    finally:
        for _, registry, name, _ in TOYS:
            registry.unregister(name)
    assert not any(name in registry.names() for _, registry, name, _ in TOYS)


def small_network():
    return make_network(3, [4], 2, seed=1, head="sigmoid")


def test_a_registry_refuses_what_it_cannot_hold():
    registry = crossbar.ADC_ARCHITECTURES
    with pytest.raises(ValueError, match="'Comparator'.*lower-case word"):
        crossbar.register_adc_architecture("Comparator", Comparator)
    with pytest.raises(ValueError, match="'sar' is already registered"):
        crossbar.register_adc_architecture("sar", Comparator)
    with pytest.raises(ValueError, match="subclass of crossbar.circuits.adc_architectures.AdcArchitecture"):
        crossbar.register_adc_architecture("comparator", LinearCubic)
    with pytest.raises(ValueError, match=r"'comparator' is not registered; choose one of \['uniform', 'sar', 'ramp'\]"):
        registry.lookup("comparator")
    with pytest.raises(ValueError, match="built in"):
        registry.unregister("sar")
    with pytest.raises(ValueError, match="adc.kind='comparator' is not allowed"):
        crossbar.AdcSpec(kind="comparator")
    with registry.registered("comparator", Comparator):
        assert crossbar.AdcSpec(kind="comparator").kind == "comparator"
        assert registry.names() == ("uniform", "sar", "ramp", "comparator")
    assert "comparator" not in registry


def test_the_comparator_gives_two_levels_of_the_right_sign(toys, rng):
    full_scale = 2e-5
    adc = crossbar.ADC(bits=4, full_scale=full_scale, circuit=crossbar.ADCCircuit("comparator"))
    array = crossbar.CrossbarArray(6, 5, crossbar.preset("ideal"), seed=2, peripherals=crossbar.Peripherals(adc=adc))
    low, high = array.device.programmable_range
    array.program(rng.uniform(low, high, array.shape))
    v = rng.uniform(-0.2, 0.2, (40, 6))
    out = array.mvm(v)
    exact = v @ array.conductance
    assert set(np.unique(out)) <= {-full_scale, full_scale}
    assert np.array_equal(np.sign(out), np.where(exact >= 0.0, 1.0, -1.0))
    assert np.array_equal(out, array.mvm(v, reference=True))  # the read takes the twin either way


def test_the_comparator_runs_in_a_network_from_an_experiment_file(toys, rng):
    exp = li2019("vowels").with_values({"adc.kind": "comparator", "adc.bits": 4})  # [adc] kind = "comparator"
    _, _, hw = build_trainer(exp, problem_of(exp), "in_situ")
    assert hw.chip.adc_circuit.kind == "comparator"
    net = small_network()
    hw = HardwareNetwork(net, ChipSpec(adc=crossbar.AdcSpec(kind="comparator", bits=4)), seed=0, compiled=False)
    hw.program()
    x = rng.uniform(-1, 1, (3, 5, 3))
    y = hw.predict(x)
    assert y.shape == (3, 5, 2) and np.all(np.isfinite(y))
    matrix = hw.matrices["layer0.W"]
    with pytest.raises(ValueError, match="'comparator' that has no compiled kernel"):
        matrix.plan().session(1)
    # each sensed column converts to one of two levels, so each output is a signed sum of a few of them
    products = matrix.matvec(rng.uniform(-1, 1, (50, 7)))
    assert len(np.unique(np.round(products, 12))) < 50 * products.shape[1] / 4


def test_an_experiment_file_names_the_toys(toys):
    data = li2019("vowels").to_dict()  # the file's tables, then [adc] kind, [device] cell_iv and programming
    data["adc"] = {**data.get("adc", {}), "kind": "comparator", "bits": 4}
    data["device"] = {**data.get("device", {}), "cell_iv": "linear_cubic", "programming": "nearest_pulses"}
    exp, _ = experiment_from_table(data, "toys.toml")
    device = exp.chip_spec().device
    assert (exp.adc.kind, device.cell_iv, device.programming) == ("comparator", "linear_cubic", "nearest_pulses")
    data["device"]["cell_iv"] = "cubic"
    with pytest.raises(ValueError, match=r"cell_iv='cubic' is not allowed; choose one of \['linear_cubic', 'sinh'\]"):
        experiment_from_table(data, "toys.toml")[0].chip_spec()


def test_a_linear_cubic_cell_reads_its_own_law(toys, rng):
    device = crossbar.DeviceModel(name="cubic", g_max=100e-6, cell_iv="linear_cubic")
    array = crossbar.CrossbarArray(4, 3, device, seed=1)
    array.program(rng.uniform(10e-6, 90e-6, array.shape))
    g = array.conductance
    v = rng.uniform(-0.8, 0.8, (6, 4))
    hand = np.einsum("bi,ij->bj", v + 0.5 * v ** 3, g)  # sum_i G_ij (V_i + a V_i^3)
    np.testing.assert_allclose(array.mvm(v), hand, rtol=1e-13, atol=0.0)
    assert not np.allclose(array.mvm(v), v @ g, rtol=1e-3)
    cell = crossbar.LawCell(crossbar.CELL_IV_MODELS.lookup("linear_cubic")(device))
    np.testing.assert_allclose(crossbar.solve_passive(g, v, 0.0, 0.0, cell=cell).output_currents, hand, rtol=1e-13)
    wired = crossbar.solve_passive(g, v, 1.0, 1.0, cell=cell).output_currents  # Newton on the law's slope
    np.testing.assert_allclose(wired, hand, rtol=0.0, atol=1e-2 * np.abs(hand).max())  # 1 ohm barely drops
    assert not np.allclose(wired, hand, rtol=1e-9)
    with pytest.raises(ValueError, match="k belongs to the sinh law"):
        device.replace(iv_nonlinearity_per_volt=2.0)


def test_a_linear_cubic_cell_runs_in_a_network(toys, rng):
    x = rng.uniform(-1, 1, (3, 5, 3))
    outputs = {}
    for law in ("sinh", "linear_cubic"):
        device = crossbar.preset("ideal").replace(cell_iv=law)
        hw = HardwareNetwork(small_network(), ChipSpec(device=device), seed=0, compiled=False)
        hw.program()
        outputs[law] = hw.predict(x)
    assert np.all(np.isfinite(outputs["linear_cubic"]))
    assert not np.allclose(outputs["linear_cubic"], outputs["sinh"], rtol=1e-6)  # the cells bend the products


def test_constant_step_pulses_move_by_whole_steps_within_the_window(toys):
    c = ConstantStep.c
    g = np.full((2, 3), 512 * c)
    n = np.array([[3, -7, 0], [600, -600, 1]])
    low, high = np.zeros(g.shape), np.full(g.shape, 1024 * c)
    law = crossbar.PulseUpdateLaw(kind="constant_step")
    pulses = crossbar.apply_law_pulses(g, n, low, high, np.zeros(g.shape, dtype=bool), law, np.zeros(2, np.uint64))
    assert pulses == int(np.abs(n).sum())
    assert np.array_equal(g, np.clip(512 * c + n * c, 0.0, 1024 * c))  # exactly n c, clipped at the window
    with pytest.raises(ValueError, match="no compiled kernel"):
        law.kind_code
    with pytest.raises(ValueError, match="cycle_noise_sigma_relative"):
        crossbar.apply_law_pulses(g, n, low, high, np.zeros(g.shape, dtype=bool),
                                  crossbar.PulseUpdateLaw(kind="constant_step", cycle_noise_sigma_relative=0.1),
                                  np.zeros(2, np.uint64))


def test_constant_step_pulses_on_an_array_and_in_a_network(toys, rng):
    c = ConstantStep.c
    device = crossbar.DeviceModel(name="steps", g_max=100e-6, pulse_law=crossbar.PulseUpdateLaw(kind="constant_step"))
    array = crossbar.CrossbarArray(3, 4, device, seed=0)
    array.program(np.full(array.shape, 50e-6))  # mid-window: no pulse reaches a bound
    before = array.conductance.copy()
    n = rng.integers(-20, 21, array.shape)
    array.apply_pulses(n)
    np.testing.assert_allclose(array.conductance - before, n * c, rtol=1e-9, atol=1e-18)
    hw = HardwareNetwork(small_network(), ChipSpec(device=device), seed=0, compiled=False)
    hw.initialize()
    trainer = InSituTrainer(hw)
    trainer.apply({name: np.full(w.shape, 1e-3) for name, w in hw.read_weights().items()})
    assert np.all(np.isfinite(hw.predict(rng.uniform(-1, 1, (2, 4, 3)))))


def test_a_programming_scheme_writes_where_it_says(toys, rng):
    step = 1e-7
    device = crossbar.DeviceModel(name="pulsed", g_max=100e-6, programming="nearest_pulses",
                                  pulse_law=crossbar.PulseUpdateLaw(step_up=step, step_down=step))
    array = crossbar.CrossbarArray(5, 4, device, seed=3)
    target = rng.uniform(10e-6, 90e-6, array.shape)
    start = array.conductance.copy()
    report = array.program(target)
    pulses = np.rint((target - start) / step)
    np.testing.assert_allclose(array.conductance, start + pulses * step, rtol=0.0, atol=1e-15)
    assert np.all(np.abs(array.conductance - target) <= step / 2 + 1e-15)
    assert report.pulses == int(np.abs(pulses).sum())
    hw = HardwareNetwork(small_network(), ChipSpec(device=device), seed=0)
    hw.program()
    for a in hw.chip.arrays:  # every device a whole number of pulses from its start
        whole = (a.conductance - device.starting_conductance) / step
        np.testing.assert_allclose(whole, np.rint(whole), atol=1e-6)
