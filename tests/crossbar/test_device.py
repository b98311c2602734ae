"""Device models: validation of every field, presets, derived quantities."""

import dataclasses

import numpy as np
import pytest

import crossbar
from crossbar import DeviceModel, PulseUpdateLaw, TwoPulseScheme


@pytest.mark.parametrize("field, value", [
    ("g_min", -1e-6),
    ("g_min", float("nan")),
    ("g_max", 0.0),            # g_min >= g_max
    ("g_max", float("inf")),
    ("n_levels", 1),
    ("n_levels", 2.5),
    ("program_noise_sigma", -1e-6),
    ("program_noise_sigma_relative", -0.1),
    ("read_noise_sigma_relative", -0.01),
    ("stuck_at_gmin_fraction", 1.5),
    ("stuck_at_gmax_fraction", -0.1),
    ("window_spread_sigma_relative", -0.2),
    ("drift_nu_sigma", -1.0),
    ("drift_t0", 0.0),
])
def test_invalid_device_field_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        DeviceModel(**{field: value})


def test_stuck_fractions_together_at_most_one():
    with pytest.raises(ValueError, match="stuck_at_gmin_fraction"):
        DeviceModel(stuck_at_gmin_fraction=0.6, stuck_at_gmax_fraction=0.6)


@pytest.mark.parametrize("field, value", [
    ("kind", "quadratic"), ("step_up", 0.0), ("step_down", -1e-6),
    ("nonlinearity", -1.0), ("cycle_noise_sigma_relative", -0.1)])
def test_invalid_pulse_law(field, value):
    with pytest.raises(ValueError, match=f"pulse_law.{field}"):
        PulseUpdateLaw(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("gate_slope", 0.0), ("gate_voltage_max", 0.5), ("initial_gate_voltage", 2.0),
    ("reset_conductance", -1e-6)])
def test_invalid_two_pulse(field, value):
    with pytest.raises(ValueError, match=f"two_pulse.{field}"):
        TwoPulseScheme(**{field: value})


def test_two_pulse_must_fit_window():
    with pytest.raises(ValueError, match="SET range"):
        DeviceModel(g_min=0.0, g_max=200e-6, two_pulse=TwoPulseScheme())


def test_li2019_gate_law():
    scheme = crossbar.preset("li2019").two_pulse
    assert scheme.set_conductance(1.0) == pytest.approx(218e-6)
    low, high = scheme.conductance_range
    assert low == pytest.approx(98e-6 * 0.7 + 120e-6)
    assert high == pytest.approx(98e-6 * 1.6 + 120e-6)
    assert scheme.gate_voltage_for(scheme.set_conductance(1.3)) == pytest.approx(1.3)


def test_presets_are_valid_and_distinct():
    names = crossbar.preset_names()
    assert {"ideal", "li2019", "hfo2_soft_bounds"} <= set(names)
    assert crossbar.preset("ideal").is_ideal
    assert not crossbar.preset("li2019").is_ideal
    assert crossbar.preset("hfo2_soft_bounds").pulse_law.kind == "soft_bounds"
    assert crossbar.preset("li2019").program_noise_sigma == pytest.approx(4e-6)
    for name in names:
        assert crossbar.preset(name).describe().startswith(name)
        assert len(crossbar.preset_doc(name)) > 40


def test_unknown_preset():
    with pytest.raises(ValueError, match="ideal"):
        crossbar.preset("nonesuch")


def test_replace_validates_again():
    d = crossbar.preset("li2019")
    assert d.replace(program_noise_sigma=5.6e-6).program_noise_sigma == 5.6e-6
    with pytest.raises(ValueError, match="program_noise_sigma"):
        d.replace(program_noise_sigma=-1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.g_max = 1.0


def test_program_sigma_combines_in_quadrature():
    d = DeviceModel(program_noise_sigma=3e-6, program_noise_sigma_relative=0.04)
    assert d.program_sigma(100e-6) == pytest.approx(5e-6)
    assert np.allclose(d.levels if d.levels is not None else [0], [0])
    assert np.allclose(DeviceModel(n_levels=5, g_min=0, g_max=4e-6).levels, [0, 1e-6, 2e-6, 3e-6, 4e-6])


@pytest.mark.parametrize("model", ["milo2021_hfo2", "wan2022_reram", "falcone2025_cmo_hfox"])
def test_published_programming_errors_have_their_sigma_against_g(model):
    from crossbar.devices.models import program_noise_model_sigma

    device = crossbar.DeviceModel(name="fit", g_min=0.0, g_max=300e-6, program_noise_model=model)
    for target in (20e-6, 100e-6):
        array = crossbar.CrossbarArray(200, 100, device, seed=1)
        array.program(np.full((200, 100), target))
        error = (array.conductance - target).ravel()
        sigma = float(program_noise_model_sigma(model, target))
        assert error.std() == pytest.approx(sigma, rel=0.05) and abs(error.mean()) < 0.05 * sigma
    # the fits in uS, G held inside each fit's range
    assert program_noise_model_sigma("milo2021_hfo2", 100e-6) == pytest.approx((4.782321 - 0.9107) * 1e-6)
    assert program_noise_model_sigma("milo2021_hfo2", 10e-6) == program_noise_model_sigma("milo2021_hfo2", 50e-6)
    assert program_noise_model_sigma("wan2022_reram", 0.0) == pytest.approx(1.053e-6)
    assert program_noise_model_sigma("falcone2025_cmo_hfox", 10e-6) == pytest.approx(0.12412124e-6)
    with pytest.raises(ValueError, match="program_noise_model"):
        crossbar.DeviceModel(program_noise_model="gaussian")
    with pytest.raises(ValueError, match="two-pulse device"):
        crossbar.preset("li2019").replace(program_noise_model="milo2021_hfo2")
