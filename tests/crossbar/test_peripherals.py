"""DAC and ADC: resolution, range, saturation, calibration."""

import numpy as np
import pytest

import crossbar
from crossbar import ADC, DAC


def test_dac_levels_and_range():
    dac = DAC(bits=4, v_max=0.2)
    assert dac.max_code == 7
    out = dac.convert(np.linspace(-0.2, 0.2, 101))
    assert len(np.unique(out)) == 15
    assert np.max(np.abs(out - np.linspace(-0.2, 0.2, 101))) <= dac.step / 2 + 1e-15
    with pytest.raises(ValueError, match="DAC range"):
        dac.convert([0.3])
    np.testing.assert_allclose(DAC(bits=4, v_max=0.2, clip=True).convert([0.3, -5.0]), [0.2, -0.2])
    with pytest.raises(ValueError, match="dac.bits"):
        DAC(bits=1)
    with pytest.raises(ValueError, match="dac.v_max"):
        DAC(v_max=-0.1)


def test_adc_saturates_and_counts():
    adc = ADC(bits=8, full_scale=1e-4)
    out, saturated = adc.convert(np.array([5e-5, 2e-4, -3e-4, 1e-6]))
    assert saturated == 2
    assert out[1] == pytest.approx(1e-4) and out[2] == pytest.approx(-1e-4)
    assert abs(out[0] - 5e-5) <= adc.step / 2
    with pytest.raises(ValueError, match="adc.full_scale"):
        ADC(full_scale=0.0)


def test_adc_calibration(rng):
    currents = rng.normal(0, 1e-5, 10_000)
    full = ADC.calibrated(currents, bits=6)
    assert full.full_scale == pytest.approx(np.abs(currents).max())
    assert ADC.calibrated(currents, percentile=99.0).full_scale < full.full_scale
    with pytest.raises(ValueError, match="percentile"):
        ADC.calibrated(currents, percentile=0.0)
    with pytest.raises(ValueError, match="all zero"):
        ADC.calibrated(np.zeros(5))


def test_array_mvm_through_converters(rng):
    peripherals = crossbar.Peripherals(dac=DAC(bits=6, v_max=0.2), adc=ADC(bits=6, full_scale=2e-3))
    array = crossbar.CrossbarArray(16, 4, crossbar.preset("ideal"), seed=0, peripherals=peripherals)
    g = rng.uniform(0, 400e-6, (16, 4))
    array.program(g)
    v = rng.uniform(-0.2, 0.2, (20, 16))
    expected, _ = peripherals.adc.convert(peripherals.dac.convert(v) @ g)
    np.testing.assert_allclose(array.mvm(v), expected, rtol=1e-12, atol=1e-18)
    with pytest.raises(ValueError, match="DAC range"):
        array.mvm(np.full((1, 16), 0.25))
