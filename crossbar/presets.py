"""Named device technologies and the peripherals that usually go with them.

``preset(name)`` returns a :class:`~crossbar.devices.models.DeviceModel`;
``preset_peripherals(name)`` the DAC, ADC and wires to pair it with.
Change any field with ``preset(name).replace(field=value)``.
"""

from __future__ import annotations

import inspect
import math
from typing import Dict, Optional

from crossbar.circuits.peripherals import ADC, DAC, Peripherals
from crossbar.devices.models import DeviceModel, PulseUpdateLaw, TwoPulseScheme
from crossbar.devices.pulse_tables import GONG_WINDOW, gong_read_noise
from crossbar.devices.temporal_noise import TemporalReadNoise


def _ideal() -> DeviceModel:
    """No non-ideality at all: exact, continuous, noiseless, fault-free, no drift.

    Window 0..400 uS (wide enough for the same mappings as ``li2019``); in-situ
    updates use a noiseless linear step of 0.1 uS.
    """
    return DeviceModel(name="ideal", g_min=0.0, g_max=400e-6,
                       pulse_law=PulseUpdateLaw(kind="linear", step_up=0.1e-6, step_down=0.1e-6))


def _li2019() -> DeviceModel:
    """Ta/HfO2 1T1R cells of Li et al., Nature Machine Intelligence 1, 49 (2019).

    - RESET/SET programming, ``G_set(Vg) = 98 uS/V * Vg + 120 uS`` for
      ``Vg`` in 0.7..1.6 V (about 189..277 uS); RESET to 0 S; SET 2.5 V,
      RESET 1.7 V with the gate at 5 V (the paper and the authors' memNN code).
    - Gaussian noise of 4 uS on every pulse (1 % of 400 uS, the airline
      simulation; the gait simulation used 5.6 uS: ``replace(program_noise_sigma=5.6e-6)``).
    - Window 0..400 uS: the authors' simulator floors at 0 and states its noise
      relative to 400 uS.
    - Fresh devices uniformly in 50..100 uS, as the authors' simulator starts them.
    - 99.8 % device yield (Li et al., Nature Electronics 1, 52 (2018)), split
      evenly between stuck-low and stuck-high (the split is an assumption).
    - Read noise 0.1 % of G per read: an assumption (the authors' simulator has
      none); small beside the 4 uS programming noise.
    """
    return DeviceModel(
        name="li2019", g_min=0.0, g_max=400e-6, n_levels=None,
        program_noise_sigma=4e-6, read_noise_sigma_relative=1e-3,
        stuck_at_gmin_fraction=0.001, stuck_at_gmax_fraction=0.001,
        two_pulse=TwoPulseScheme(), initial_conductance_range=(50e-6, 100e-6),
        pulse_law=PulseUpdateLaw(kind="linear", step_up=1e-6, step_down=1e-6))


def _hfo2_soft_bounds() -> DeviceModel:
    """HfO2 ReRAM trained by identical pulses, with a soft-bounds response.

    The shape follows the HfO2 ReRAM measured by Gong et al., "Signal and noise
    extraction from analog memory elements for neuromorphic computing",
    Nature Communications 9, 2102 (2018), as IBM's aihwkit models it in its
    soft-bounds ReRAM preset: the step shrinks towards each bound, up and down
    steps differ, and the pulse-to-pulse spread is comparable to a third of the
    step. The numbers (10..100 uS, 0.5/0.6 uS steps at the far bound, i.e.
    about 180 pulses across the window) are representative round values, not
    a fit: replace them with your own measurements.
    """
    return DeviceModel(
        name="hfo2_soft_bounds", g_min=10e-6, g_max=100e-6,
        program_noise_sigma=1e-6, program_noise_sigma_relative=0.02, read_noise_sigma_relative=0.005,
        stuck_at_gmin_fraction=0.005, stuck_at_gmax_fraction=0.0,
        window_spread_sigma_relative=0.1, drift_nu=0.005, drift_nu_sigma=0.002, drift_t0=1.0,
        pulse_law=PulseUpdateLaw(kind="soft_bounds", step_up=0.5e-6, step_down=0.6e-6,
                                 cycle_noise_sigma_relative=0.3))


def _gong2018_hfo2() -> DeviceModel:
    """HfO2 ReRAM defined by its measured pulse response: Gong et al., "Signal and noise extraction from
    analog memory elements for neuromorphic computing", Nat. Commun. 9, 2102 (2018),
    doi:10.1038/s41467-018-04485-1.

    - The change of each pulse is drawn from a table fitted to the paper's
      1000 potentiating and 1000 depressing pulses (as shipped in IBM aihwkit,
      MIT licence): 20 conductance bins, 21 quantiles of the step, up and down
      (``crossbar.devices.pulse_tables``, ``crossbar.fitting.device_fit``).
    - The data are normalised; this preset maps their range onto 10..100 uS
      (a stated window, not a measurement): change it by fitting the file
      again with another window (``xbar device fit ... --window``).
    - The reads of the traces are noisy (about 5 uS of fluctuation beside a
      mean step of 0.06 uS): each bin's mean step is the rate at which the
      ramp's monotone path crosses it, not the mean of steps binned by noisy
      reads (``crossbar.fitting.device_fit.mean_steps``), and the table holds the
      pulses' own spread: the observed one (its 0 and 1 quantiles from the
      tails' means, not single extremes) less the reads' share
      (``crossbar.fitting.device_fit.reads_variance``: here the part that does not
      add up over 10 pulses, 27.5 uS^2, larger than the white noise's 25.4).
    - Read noise: consecutive steps anti-correlate; their lag-1 covariance,
      each step less the mean step where the ramp's monotone path stands
      (``crossbar.fitting.device_fit.estimate_read_noise``, unbiased for white noise),
      gives 3.56 uS on that window (3.20 uS before, from steps binned by
      their noisy reads, which reads low): the preset's read noise is that
      relative to the window's middle, 55 uS: 6.48 % (5.82 % before). No
      faults or drift.
    - Held against its one ramp a direction (``xbar device show
      gong2018_hfo2 --traces ... --window 10e-6:100e-6``; docs/physics.md
      gives the table): step-variance ratios 0.79..0.90 and KS p >= 0.04 in
      every range, but the mean of 20 simulated ramps lies inside the 5..95 %
      band of the reads in windows of 50 pulses in only 33..100 % of a
      range's windows: one noisy ramp a direction is one realisation, not a
      spread across ramps.
    """
    middle = 0.5 * (GONG_WINDOW[0] + GONG_WINDOW[1])
    return DeviceModel(name="gong2018_hfo2", g_min=GONG_WINDOW[0], g_max=GONG_WINDOW[1],
                       read_noise_sigma_relative=round(gong_read_noise() / middle, 4),
                       pulse_law=PulseUpdateLaw(kind="table", table="gong2018_hfo2"))


def _taox_lut() -> DeviceModel:
    """TaOx ReRAM from measured lookup tables of 10 devices (device-to-device spread): Sandia
    cross-sim-data ``lookup_tables/TaOx_all`` (BSD-3), which attributes the data to Agarwal et al.,
    VLSI Technology 2017.

    - Each device of an array follows one of the 10 measured devices' tables
      (drawn once from the array's seed): the change of each pulse at its
      conductance and a quantile drawn afresh, up and down (51 bins, 51
      quantiles: every 10th of the source's 501).
    - Each device stays within its own measured range, its table's lowest
      to highest bin (5.4..102.7 uS for the narrowest, 18.6..118.6 to
      8.0..161.3 uS for the others; ``PulseTable.own_range``): the source
      tabulates nothing beyond, and a device's up steps near its top bin are
      about 0 (it saturates there). Before, devices were held only by the
      window and took their end bins' steps beyond their data: after one up
      pulse from the bottom 66 % sat above their own top bin, and 43 % still
      did after 20 down pulses; now none does. A fresh device starts at
      5 uS and enters its own range at its first pulse.
    - Window 5..165 uS, the tables' union (what weights are mapped onto; a
      target beyond a device's own range is reached only as far as its
      range). The up steps are abrupt (100 uS and more a pulse low in the
      window), as the source's data are.
    - The lowest bin's median down step is positive in 9 of the 10 source
      tables (+0.05 to +1.73 uS): a device at its floor cannot go lower, and
      a table binned by noisy reads puts a read that came out low at the
      floor, so the next read comes out higher (the errors-in-variables
      effect ``crossbar.fitting.device_fit.monotone_path`` describes). Kept as
      measured: a down pulse at the floor moves a device by at most a few uS
      above it, and the next bins' medians are negative again.
    - Read noise 0.5 % (an assumption); no faults or drift.
    """
    return DeviceModel(name="taox_lut", g_min=5e-6, g_max=165e-6, read_noise_sigma_relative=0.005,
                       pulse_law=PulseUpdateLaw(kind="table", table="taox_lut"))


def _falcone2025_cmo_hfox() -> DeviceModel:
    """CMO/HfOx ReRAM from published fits: Falcone et al., "All-in-one analog AI hardware: on-chip training and
    inference with conductive-metal-oxide/HfOx ReRAM devices", arXiv:2502.04524 (2025), and Lombardo et al.,
    DRC 2024 (the numbers as collected in ``crossbar/data/devices/README.md`` and as IBM aihwkit's
    ``ReRamCMONoiseModel`` carries them). G in uS below.

    - Programming error after their write-and-verify at 0.2 % acceptance:
      ``sigma = 0.00081107 + 0.00106879 G`` (``program_noise_model =
      "falcone2025_cmo_hfox_0.2pct"``; one-shot programming draws it, so
      ``ex_situ_one_shot`` is their whole write-and-verify). The paper's
      array is programmed at 0.2 % for its relaxation and inference study
      (its Fig. 3b; "programming noise down to 10 nS", 0.012 uS at 10 uS).
      The 2 % fit (``0.01121854 + 0.01129027 G``, aihwkit's default) stays
      available as ``program_noise_model = "falcone2025_cmo_hfox"``.
    - Relaxation after each write (``relaxation_model``,
      :mod:`crossbar.devices.relaxation`): the fitted spread ``0.04201 ln(t/1 s) +
      0.41183`` is the whole spread at time ``t`` of the paper's 50 uS state,
      its programming error included, so relaxation adds what the spread
      grows beyond the programming error: 0.412 uS at 1 s and 0.509 uS at
      10 s at 50 uS (before: programming error and relaxation in quadrature
      at 2 %, 0.707 and 0.769 uS). The mean moves by ``-0.0762 - 0.08900
      ln(t/1 s)`` at every G: the paper finds the relaxation independent of
      G, so the fit's intercept (49.92 uS for 50 uS) is read as an offset
      (aihwkit scales the target by 49.92/50: the same at 50 uS, at most
      0.06 uS apart over 10..90 uS).
    - Read noise: the spread of reads over ``t`` seconds, ``0.02773 log10(G)
      sqrt(ln((t + t_r) / (2 t_r)))`` with ``t_r`` = 1 us, is 1/f noise of
      density ``(0.02773 log10 G)^2`` uS^2 (``temporal_noise``): 16 sources with
      corners from 1e-7 Hz (four months) to ``1 / (2 pi t_r)``, 159 kHz. No
      white read noise besides.
    - Window 10..90 uS: the range the fits are quoted over (read noise at 10
      and 88 uS), not a published window. No faults or drift beyond the
      relaxation.
    - In-situ pulses are not published: soft-bounds steps of 0.5 uS up and
      down (an assumption, for in-situ runs only).
    """
    return DeviceModel(name="falcone2025_cmo_hfox", g_min=10e-6, g_max=90e-6,
                       program_noise_model="falcone2025_cmo_hfox_0.2pct", relaxation_model="falcone2025_cmo_hfox",
                       temporal_noise=TemporalReadNoise(flicker_density_model="falcone2025_cmo_hfox",
                                                        flicker_sources=16, flicker_corner_min_hz=1e-7,
                                                        flicker_corner_max_hz=1.0 / (2.0 * math.pi * 1e-6)),
                       pulse_law=PulseUpdateLaw(kind="soft_bounds", step_up=0.5e-6, step_down=0.5e-6))


_PRESETS = {"ideal": _ideal, "li2019": _li2019, "hfo2_soft_bounds": _hfo2_soft_bounds,
            "gong2018_hfo2": _gong2018_hfo2, "taox_lut": _taox_lut,
            "falcone2025_cmo_hfox": _falcone2025_cmo_hfox}


def preset_names() -> list:
    """Names accepted by :func:`preset`."""
    return sorted(_PRESETS)


def preset(name: str) -> DeviceModel:
    """The device model of a named technology (see :func:`preset_names`)."""
    if name not in _PRESETS:
        raise ValueError(f"preset name={name!r} is not known; choose one of {preset_names()}")
    return _PRESETS[name]()


def preset_doc(name: str) -> str:
    """The provenance text of a preset."""
    preset(name)
    return inspect.cleandoc(_PRESETS[name].__doc__ or "")


def preset_peripherals(name: str, adc_full_scale: Optional[float] = None) -> Peripherals:
    """Peripherals that go with a preset.

    ``ideal``: none. Hardware presets: 8-bit DAC over +-0.2 V (Li et al.'s read
    voltage) and an 8-bit ADC (Li et al. report 5 to 8 bits of output
    precision). The ADC's full scale depends on what is mapped; pass it, or
    calibrate with :meth:`crossbar.ADC.calibrated`. Default 100 uA.

    Parameters
    ----------
    name : str
    adc_full_scale : float, optional
        Amperes.
    """
    preset(name)
    if name == "ideal":
        return Peripherals()
    full_scale = 100e-6 if adc_full_scale is None else adc_full_scale
    return Peripherals(dac=DAC(bits=8, v_max=0.2), adc=ADC(bits=8, full_scale=full_scale))


def all_presets() -> Dict[str, DeviceModel]:
    """Every preset by name."""
    return {name: preset(name) for name in preset_names()}
