"""Configuration of one memristor technology: window, levels, noise, faults,
drift and the way the device is programmed.

Every quantity is SI: conductances in siemens (S), voltages in volts (V),
times in seconds (s). Relative quantities are dimensionless fractions.
``DeviceModel.describe()`` prints the friendlier microsiemens.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

import numpy as np

from crossbar.devices.cells import cell_iv_names
from crossbar.devices.programming import programming_scheme_names
from crossbar.devices.pulse_laws import PULSE_LAWS, pulse_law_names
from crossbar.devices.pulse_tables import load_table
from crossbar.devices.relaxation import FALCONE_PROGRAM_NOISE_AT_02PCT, RELAXATION_MODELS
from crossbar.devices.temporal_noise import TemporalReadNoise
from crossbar.settings import setting
from crossbar.validation import check_choice, check_finite, check_int, check_range, config_from_dict, config_to_dict

PULSE_LAW_KINDS = ("linear", "soft_bounds", "exponential", "table")
"""The built-in pulse laws (a law of one's own: :func:`crossbar.register_pulse_law`)."""

PROGRAM_NOISE_MODELS = ("milo2021_hfo2", "wan2022_reram", "falcone2025_cmo_hfox", "falcone2025_cmo_hfox_0.2pct")
"""Published fits of the programming error against G (see :class:`DeviceModel` ``program_noise_model``)."""


def program_noise_model_sigma(model: str, conductance) -> np.ndarray:
    """Sigma of a published programming-error fit at conductances ``conductance``, siemens (both in S; the
    fits are in uS, G held inside each fit's range)."""
    g = np.asarray(conductance, dtype=np.float64) * 1e6
    if model == "milo2021_hfo2":
        g = np.clip(g, 50.0, 225.0)
        sigma = np.maximum(4.782321 - 0.009107 * g, 0.0)
    elif model == "wan2022_reram":
        g = np.clip(g, 0.0, 39.3)
        sigma = np.maximum(1.536e-4 * g ** 3 - 1.167e-2 * g ** 2 + 0.2374 * g + 1.053, 0.0)
    elif model == "falcone2025_cmo_hfox":
        sigma = 0.01121854 + 0.01129027 * np.maximum(g, 0.0)
    elif model == "falcone2025_cmo_hfox_0.2pct":
        intercept, slope = FALCONE_PROGRAM_NOISE_AT_02PCT
        sigma = intercept + slope * np.maximum(g, 0.0)
    else:
        raise ValueError(f"program_noise_model={model!r} is not known; choose one of {list(PROGRAM_NOISE_MODELS)}")
    return sigma * 1e-6


@dataclass(frozen=True)
class PulseUpdateLaw:
    """Conductance change of one identical programming pulse, as a function of G.

    Used by in-situ training on devices that are nudged by pulses rather than
    set by a compliance current. With ``w = (G - g_min_dev) / (g_max_dev - g_min_dev)``
    the normalised state of a device and ``dG`` the change of one pulse:

    - ``linear``: ``dG_up = step_up``, ``dG_down = -step_down`` (hard bounds at
      the window edges);
    - ``soft_bounds``: ``dG_up = step_up * (1 - w)``, ``dG_down = -step_down * w``
      (the step shrinks linearly towards the bound it approaches);
    - ``exponential``: ``dG_up = step_up * exp(-nonlinearity * w)``,
      ``dG_down = -step_down * exp(-nonlinearity * (1 - w))``.

    Each pulse is multiplied by ``1 + cycle_noise_sigma_relative * N(0, 1)``
    (cycle-to-cycle noise), and the device never leaves its own window.

    - ``table``: the change of each pulse is drawn from a measured table over
      G and its spread (:class:`crossbar.devices.pulse_tables.PulseTable`, named by
      ``table``: a shipped table or an ``.npz`` path); ``step_up`` and
      ``step_down`` then only size a pulse count where the table's mean step
      is not used, and ``cycle_noise_sigma_relative`` must be 0 (the spread is
      the table's).

    Parameters
    ----------
    kind : str
        ``"linear"``, ``"soft_bounds"``, ``"exponential"``, ``"table"`` or a law registered in
        :data:`crossbar.PULSE_LAWS` (:mod:`crossbar.devices.pulse_laws`), stepped in numpy.
    step_up : float
        Potentiation step at the bottom of the window, siemens per pulse (> 0).
    step_down : float
        Depression step at the top of the window, siemens per pulse (> 0).
        ``step_up != step_down`` models up/down asymmetry.
    nonlinearity : float
        Exponent of the ``exponential`` law (>= 0, dimensionless).
    cycle_noise_sigma_relative : float
        Standard deviation of the pulse-to-pulse spread, relative to the step (>= 0).
    table : str, optional
        With ``kind="table"``: a shipped table (:func:`crossbar.devices.pulse_tables.shipped_table_names`)
        or the path of a table's ``.npz`` (:meth:`crossbar.devices.pulse_tables.PulseTable.save`).
    """

    kind: str = setting("linear", choices=pulse_law_names, doc="pulse law")
    step_up: float = setting(1e-6, unit="S", doc="potentiation step per pulse")
    step_down: float = setting(1e-6, unit="S", doc="depression step per pulse")
    nonlinearity: float = setting(0.0, unit="1", doc="exponent of the exponential pulse law")
    cycle_noise_sigma_relative: float = setting(0.0, unit="1", doc="pulse-to-pulse spread relative to the step")
    table: Optional[str] = setting(None, kind="text",
                                   doc="the table of a table device: a shipped name or an .npz path")

    def __post_init__(self):
        check_choice("pulse_law.kind", self.kind, pulse_law_names())
        check_range("pulse_law.step_up", self.step_up, 0.0, low_open=True, unit="S")
        check_range("pulse_law.step_down", self.step_down, 0.0, low_open=True, unit="S")
        check_range("pulse_law.nonlinearity", self.nonlinearity, 0.0)
        check_range("pulse_law.cycle_noise_sigma_relative", self.cycle_noise_sigma_relative, 0.0)
        if self.kind == "table":
            if not isinstance(self.table, str) or not self.table:
                raise ValueError(f"pulse_law.table={self.table!r} is not allowed with kind='table'; a shipped "
                                 "table's name or an .npz path is required")
            if self.cycle_noise_sigma_relative != 0.0:
                raise ValueError(f"pulse_law.cycle_noise_sigma_relative={self.cycle_noise_sigma_relative!r} with "
                                 "kind='table': a table holds its own spread; 0 is required")
            self.pulse_table()
        elif self.table is not None:
            raise ValueError(f"pulse_law.table={self.table!r} is not allowed with kind={self.kind!r}; only "
                             "kind='table' reads a table")

    def pulse_table(self):
        """The :class:`crossbar.devices.pulse_tables.PulseTable` of a ``table`` law (``ValueError`` for other kinds)."""
        if self.kind != "table":
            raise ValueError(f"pulse_law.kind={self.kind!r} has no table")
        return load_table(self.table)

    @property
    def kind_code(self) -> int:
        """Integer code of ``kind`` used by the Numba kernels (``ValueError`` for a registered law that has
        none: its pulses go through :func:`crossbar.devices.pulse_laws.apply_law_pulses`)."""
        code = PULSE_LAWS.lookup(self.kind).kernel_code
        if code is None:
            raise ValueError(f"pulse_law.kind={self.kind!r} has no compiled kernel; its pulses are stepped by "
                             "crossbar.devices.pulse_laws.apply_law_pulses (and write schemes' disturb, which "
                             "needs a kernel, is not allowed with it)")
        return code

    def saturating_pulses(self, width: float) -> Tuple[int, int]:
        """Pulses up and down after which more pulses of one write leave a device where it is.

        ``SATURATION_MARGIN`` (2) times the noise-free pulses that carry a
        device of window ``width`` (siemens) from one bound to the other:
        ``width / step`` for ``linear``; ``width / (step exp(-nonlinearity))``
        for ``exponential`` (its smallest step); for ``soft_bounds`` the pulses
        that bring the distance to the bound approached below ``2^-52`` of the
        window (``52 ln 2 / -ln(1 - step / width)``: a step then falls below the
        resolution of a float and the device stops moving);
        ``table`` laws, whose mean step may vanish or change sign inside the
        window, :data:`TABLE_SATURATING_PULSES`. Beyond that a device sits at its
        bound (or, with cycle noise, in the bound's own spread), so
        :meth:`crossbar.CrossbarArray.apply_pulses` simulates at most this many
        pulses a device and write, and counts every pulse asked for.

        Returns
        -------
        (int, int)
            Pulses up, pulses down; each at least 1.
        """
        width = check_range("width", width, 0.0, low_open=True, unit="S")
        if self.kind == "table":
            return TABLE_SATURATING_PULSES, TABLE_SATURATING_PULSES
        if not PULSE_LAWS.is_builtin(self.kind):
            return PULSE_LAWS.lookup(self.kind)(self).saturating_pulses(width)
        out = []
        for step in (self.step_up, self.step_down):
            if self.kind == "linear":
                cross = width / step
            elif self.kind == "exponential":
                cross = width / step * math.exp(min(self.nonlinearity, 700.0))
            else:  # soft bounds: 1 - w shrinks by (1 - step / width) a pulse
                fraction = step / width
                cross = 1.0 if fraction >= 1.0 else 52.0 * math.log(2.0) / -math.log1p(-fraction)
            out.append(int(min(math.ceil(SATURATION_MARGIN * cross), 2 ** 62)))
        return out[0], out[1]


SATURATION_MARGIN = 2
"""How many window crossings :meth:`PulseUpdateLaw.saturating_pulses` allows before a device counts as saturated."""

TABLE_SATURATING_PULSES = 2 ** 14
"""Pulses of one write a table device is simulated for at most (16 384; about 2 300 cross the shipped
``gong2018_hfo2`` table's window at its smallest mean step): more are counted, not simulated."""


@dataclass(frozen=True)
class TwoPulseScheme:
    """Li et al. (2019) RESET-then-SET programming of a 1T1R cell.

    The SET pulse's transistor gate voltage ``Vg`` limits the current and so
    fixes the final conductance, ``G_set(Vg) = gate_slope * Vg + gate_intercept``.
    A RESET sends the device to ``reset_conductance``. A SET on a device whose
    conductance is already above ``G_set(Vg)`` leaves it where it is, so to lower
    a conductance the cell is RESET first. Every pulse adds Gaussian noise of
    the device's ``program_noise_sigma``; conductance cannot go below zero.

    Parameters
    ----------
    gate_slope : float
        Conductance per volt of SET gate voltage, S/V (Li: 98 uS/V).
    gate_intercept : float
        Conductance at zero gate voltage of the linear fit, S (Li: 120 uS).
    gate_voltage_min, gate_voltage_max : float
        Usable SET gate voltages, V (Li: 0.7 to 1.6 V).
    set_voltage : float
        Amplitude of the SET pulse, V (Li: 2.5 V). Used for energy estimates.
    reset_voltage : float
        Amplitude of the RESET pulse, V (Li: 1.7 V).
    reset_gate_voltage : float
        Gate voltage during RESET, V (Li: 5 V).
    reset_conductance : float
        Conductance after a RESET before noise, S (the authors' simulator: 0).
    initial_gate_voltage : float
        Gate voltage of the RESET+SET that initialises an array, V (Li: 1.0 V).
    """

    gate_slope: float = setting(98e-6, unit="S/V", doc="SET conductance per volt of gate voltage")
    gate_intercept: float = setting(120e-6, unit="S", doc="SET conductance at 0 V gate voltage")
    gate_voltage_min: float = setting(0.7, unit="V", doc="lowest SET gate voltage")
    gate_voltage_max: float = setting(1.6, unit="V", doc="highest SET gate voltage")
    set_voltage: float = setting(2.5, unit="V", doc="SET pulse amplitude")
    reset_voltage: float = setting(1.7, unit="V", doc="RESET pulse amplitude")
    reset_gate_voltage: float = setting(5.0, unit="V", doc="gate voltage during RESET")
    reset_conductance: float = setting(0.0, unit="S", doc="conductance after a RESET")
    initial_gate_voltage: float = setting(1.0, unit="V", doc="gate voltage of the in-situ start")

    def __post_init__(self):
        check_range("two_pulse.gate_slope", self.gate_slope, 0.0, low_open=True, unit="S/V")
        check_finite("two_pulse.gate_intercept", self.gate_intercept)
        check_range("two_pulse.gate_voltage_min", self.gate_voltage_min, 0.0, unit="V")
        check_range("two_pulse.gate_voltage_max", self.gate_voltage_max, self.gate_voltage_min,
                    low_open=True, unit="V")
        check_range("two_pulse.set_voltage", self.set_voltage, 0.0, low_open=True, unit="V")
        check_range("two_pulse.reset_voltage", self.reset_voltage, 0.0, low_open=True, unit="V")
        check_range("two_pulse.reset_gate_voltage", self.reset_gate_voltage, 0.0, low_open=True, unit="V")
        check_range("two_pulse.reset_conductance", self.reset_conductance, 0.0, unit="S")
        check_range("two_pulse.initial_gate_voltage", self.initial_gate_voltage,
                    self.gate_voltage_min, self.gate_voltage_max, unit="V")
        if self.set_conductance(self.gate_voltage_min) <= self.reset_conductance:
            raise ValueError(
                f"two_pulse.gate_intercept={self.gate_intercept!r} makes G_set(gate_voltage_min) = "
                f"{self.set_conductance(self.gate_voltage_min):g} S, not above reset_conductance="
                f"{self.reset_conductance:g} S; SET must reach above the RESET state")

    def set_conductance(self, gate_voltage):
        """Conductance a SET pulse gives at ``gate_voltage`` (V), in siemens."""
        return self.gate_slope * np.asarray(gate_voltage, dtype=np.float64) + self.gate_intercept

    def gate_voltage_for(self, conductance):
        """Gate voltage (V) whose SET gives ``conductance`` (S); no range check."""
        return (np.asarray(conductance, dtype=np.float64) - self.gate_intercept) / self.gate_slope

    @property
    def conductance_range(self) -> Tuple[float, float]:
        """Lowest and highest conductance a SET can give, siemens."""
        return (float(self.set_conductance(self.gate_voltage_min)),
                float(self.set_conductance(self.gate_voltage_max)))


def _read_noise_table(table) -> Tuple[Tuple[float, float], ...]:
    """``read_noise_table`` as a tuple of float pairs, validated: at least two finite pairs (G, sigma) in
    siemens, G non-negative and strictly increasing, sigma non-negative."""
    try:
        pairs = tuple((float(g), float(sigma)) for g, sigma in table)
    except (TypeError, ValueError):
        raise ValueError(f"read_noise_table={table!r} is not allowed; pairs (G, sigma) in siemens, such as "
                         "((10e-6, 0.2e-6), (100e-6, 1e-6)), are required") from None
    if len(pairs) < 2:
        raise ValueError(f"read_noise_table={table!r} has {len(pairs)} pair(s); at least 2 (G, sigma) pairs are "
                         "required")
    values = np.array(pairs)
    if not np.all(np.isfinite(values)) or np.any(values < 0.0):
        raise ValueError(f"read_noise_table={table!r} is not allowed; finite, non-negative G and sigma (S) are "
                         "required")
    if np.any(np.diff(values[:, 0]) <= 0.0):
        raise ValueError(f"read_noise_table={table!r} is not allowed; G must increase strictly from pair to pair")
    return pairs


@dataclass(frozen=True)
class DeviceModel:
    """One memristor technology, validated when built. SI units throughout.

    Parameters
    ----------
    name : str
        Label used in reports.
    g_min, g_max : float
        Conductance window of a nominal device, siemens (``0 <= g_min < g_max``).
    n_levels : int or None
        Number of programmable conductance levels, evenly spaced over the
        window (>= 2); ``None`` for a continuous device.
    program_noise_sigma : float
        Absolute standard deviation of the programmed conductance, siemens.
        For a two-pulse device it is the noise of every RESET and SET pulse.
    program_noise_sigma_relative : float
        Standard deviation relative to the target conductance (dimensionless);
        combined with the absolute part in quadrature.
    read_noise_sigma_relative : float
        Standard deviation of each read, relative to the true conductance,
        drawn afresh at every read (dimensionless).
    read_noise_sigma : float
        Absolute part of the white read noise, siemens (>= 0): a floor that
        does not scale with G.
    read_noise_table : tuple of (float, float) pairs, optional
        Read noise against G from a measurement: ``((G_0, sigma_0), (G_1,
        sigma_1), ...)`` in siemens, G strictly increasing, interpolated
        linearly in G and held at the ends. The three parts add in quadrature:
        ``sigma(G)^2 = read_noise_sigma^2 + (read_noise_sigma_relative G)^2 +
        table(G)^2`` (:meth:`read_noise_sigma_at`).
    stuck_at_gmin_fraction, stuck_at_gmax_fraction : float
        Probability that a device is stuck at its own g_min (g_max) and ignores
        programming. Each in [0, 1], together at most 1.
    window_spread_sigma_relative : float
        Device-to-device spread of the window: each device's window is the
        nominal window times ``exp(window_spread_sigma_relative * N(0, 1))``.
    drift_nu : float
        Mean drift exponent: ``G(t) = G0 * (t / drift_t0)^(-nu)`` for time ``t``
        after programming, ``t >= drift_t0`` (before it ``G = G0``).
    drift_nu_sigma : float
        Device-to-device standard deviation of ``nu`` (>= 0).
    drift_t0 : float
        Reference time of the drift law, seconds (> 0).
    pulse_law : PulseUpdateLaw
        Response to identical update pulses (in-situ training).
    two_pulse : TwoPulseScheme or None
        If given, the device is programmed by Li et al.'s RESET/SET scheme, for
        both one-shot programming and in-situ updates.
    initial_conductance_range : tuple of float or None
        ``(low, high)`` in siemens: fresh devices start uniformly in this range;
        ``None`` starts them at ``g_min``.
    program_noise_model : str, optional
        A published fit of the programming error's sigma against G, added in
        quadrature to the two parts above (:data:`PROGRAM_NOISE_MODELS`; G is
        held inside the fit's range): ``milo2021_hfo2`` (HfO2 1T1R after
        write-verify, Milo et al., IRPS 2021: ``max(4.782321 - 0.009107 G,
        0)`` uS for G in 50..225 uS), ``wan2022_reram`` (ReRAM at 1 s, Wan et
        al., Nature 608, 504 (2022), Ext. Data Fig. 3: ``max(1.536e-4 G^3 -
        1.167e-2 G^2 + 0.2374 G + 1.053, 0)`` uS for G up to 39.3 uS) or
        ``falcone2025_cmo_hfox`` (CMO/HfOx ReRAM at 2 % acceptance, Falcone et
        al., arXiv:2502.04524: ``0.01121854 + 0.01129027 G`` uS) or
        ``falcone2025_cmo_hfox_0.2pct`` (the same at 0.2 % acceptance:
        ``0.00081107 + 0.00106879 G`` uS), G in uS.
        For pulse-law devices' one-shot programming (two-pulse and table
        devices refuse it).
    iv_nonlinearity_per_volt : float
        ``k`` of the cells' read current ``I = G sinh(k V) / k`` (1/V, 0..50;
        0: linear, ``I = G V``; :class:`crossbar.SinhCell`). Products read
        each cell at its row's drive: the compiled read passes every drive
        through ``sinh(k V) / k`` (exact for grounded and 1T1R reads without
        wire resistance; other read schemes need a solve per input vector and
        are refused). Device reads (verify, read-back) report ``G``: a verify
        circuit's reference is set for the cell's I-V.
    temporal_noise : TemporalReadNoise
        Read noise with memory: 1/f and random telegraph fluctuations of the
        conductance on the array's clock (:mod:`crossbar.devices.temporal_noise`);
        off by default. The white ``read_noise_sigma_relative`` adds to it.
    relaxation_model : str, optional
        A published fit of the conductance's relaxation after each write, as
        a function of each device's time since it (:mod:`crossbar.devices.relaxation`:
        ``falcone2025_cmo_hfox``); None: none. Adds to drift.
    cell_iv : str
        The cells' read I-V law ``I = G f(V)``, a name registered in
        :data:`crossbar.CELL_IV_MODELS` (``"sinh"``, the default, is ``G sinh(k V) / k``
        with ``k`` above; a registered law needs ``iv_nonlinearity_per_volt`` 0).
    programming : str, optional
        A programming scheme registered in :data:`crossbar.PROGRAMMING_SCHEMES`; ``None``:
        the two-pulse scheme when ``two_pulse`` is given, else the pulse law's.
    """

    SECTION: ClassVar[str] = "device"

    name: str = setting("custom", doc="the device's name", listed=False)
    g_min: float = setting(0.0, unit="S", doc="lower end of the nominal conductance window")
    g_max: float = setting(100e-6, unit="S", doc="upper end of the nominal conductance window")
    n_levels: Optional[int] = setting(None, unit="levels", doc="programmable conductance levels (omit for continuous)")
    program_noise_sigma: float = setting(0.0, unit="S", doc="programming noise, absolute standard deviation")
    program_noise_sigma_relative: float = setting(0.0, unit="1", doc="programming noise relative to the target")
    read_noise_sigma_relative: float = setting(0.0, unit="1", doc="read noise relative to G, at every read")
    read_noise_sigma: float = setting(0.0, unit="S", doc="read noise floor (absolute), at every read")
    read_noise_table: Optional[Tuple[Tuple[float, float], ...]] = setting(
        None, unit="S", doc="read noise sigma against G, (G, sigma) pairs", listed=False)
    stuck_at_gmin_fraction: float = setting(0.0, unit="1", doc="fraction of devices stuck at g_min")
    stuck_at_gmax_fraction: float = setting(0.0, unit="1", doc="fraction of devices stuck at g_max")
    window_spread_sigma_relative: float = setting(
        0.0, unit="1", doc="device-to-device spread of the window (log-normal sigma)")
    drift_nu: float = setting(0.0, unit="1", doc="drift exponent, G = G0 (t/t0)^-nu")
    drift_nu_sigma: float = setting(0.0, unit="1", doc="device-to-device spread of nu")
    drift_t0: float = setting(1.0, unit="s", doc="drift reference time")
    pulse_law: PulseUpdateLaw = setting(default_factory=PulseUpdateLaw, doc="the change per programming pulse")
    two_pulse: Optional[TwoPulseScheme] = setting(None, doc="the SET/RESET of a 1T1R two-pulse device")
    initial_conductance_range: Optional[Tuple[float, float]] = setting(
        None, unit="S", doc="range of the as-fabricated conductances", listed=False)
    iv_nonlinearity_per_volt: float = setting(
        0.0, unit="1/V", doc="k of the cells' read current G sinh(kV)/k (0: linear)")
    program_noise_model: Optional[str] = setting(
        None, choices=PROGRAM_NOISE_MODELS, doc="a published fit of the programming error against G (omit: none)")
    temporal_noise: TemporalReadNoise = setting(default_factory=TemporalReadNoise, doc="read noise with memory")
    relaxation_model: Optional[str] = setting(
        None, choices=RELAXATION_MODELS, doc="a published fit of the relaxation after each write (omit: none)")
    # not dotted parameters (listed=False): a results record carries every listed parameter's value, and
    # these were added after results were first written; a [device] table names them all the same
    cell_iv: str = setting("sinh", choices=cell_iv_names, written_at_default=False, listed=False,
                           doc="the cells' read I-V I = G f(V), a registered law (sinh: G sinh(kV)/k)")
    programming: Optional[str] = setting(None, choices=programming_scheme_names, written_at_default=False,
                                         listed=False,
                                         doc="a registered programming scheme (omit: two_pulse or pulse_law)")

    NEW_FIELDS_AT_DEFAULT: ClassVar[dict] = {"cell_iv": "sinh", "programming": None}
    """Fields :meth:`to_dict` (:func:`crossbar.validation.config_to_dict`) leaves out at these defaults: added
    after device files were first written, so that those files and the identities made of them keep their bytes."""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r} is not allowed; a non-empty string is required")
        check_range("g_min", self.g_min, 0.0, unit="S")
        g_max = check_finite("g_max", self.g_max)
        if g_max <= self.g_min:
            raise ValueError(f"g_max={self.g_max!r} is not above g_min={self.g_min!r}; "
                             "g_min < g_max is required (siemens)")
        if self.n_levels is not None:
            check_int("n_levels", self.n_levels, low=2)
        check_range("program_noise_sigma", self.program_noise_sigma, 0.0, unit="S")
        check_range("program_noise_sigma_relative", self.program_noise_sigma_relative, 0.0)
        check_range("read_noise_sigma_relative", self.read_noise_sigma_relative, 0.0)
        check_range("read_noise_sigma", self.read_noise_sigma, 0.0, unit="S")
        if self.read_noise_table is not None:
            object.__setattr__(self, "read_noise_table", _read_noise_table(self.read_noise_table))
        check_range("stuck_at_gmin_fraction", self.stuck_at_gmin_fraction, 0.0, 1.0)
        check_range("stuck_at_gmax_fraction", self.stuck_at_gmax_fraction, 0.0, 1.0)
        if self.stuck_at_gmin_fraction + self.stuck_at_gmax_fraction > 1.0:
            raise ValueError(
                f"stuck_at_gmin_fraction + stuck_at_gmax_fraction = "
                f"{self.stuck_at_gmin_fraction + self.stuck_at_gmax_fraction!r}; at most 1 is allowed")
        check_range("window_spread_sigma_relative", self.window_spread_sigma_relative, 0.0, 1.0)
        check_finite("drift_nu", self.drift_nu)
        check_range("drift_nu_sigma", self.drift_nu_sigma, 0.0)
        check_range("drift_t0", self.drift_t0, 0.0, low_open=True, unit="s")
        check_range("iv_nonlinearity_per_volt", self.iv_nonlinearity_per_volt, 0.0, 50.0, unit="1/V")
        if self.program_noise_model is not None:
            check_choice("program_noise_model", self.program_noise_model, PROGRAM_NOISE_MODELS)
            if self.two_pulse is not None or self.pulse_law.kind == "table":
                raise ValueError(f"program_noise_model={self.program_noise_model!r} is not allowed for a "
                                 f"{'two-pulse' if self.two_pulse is not None else 'table'} device: its "
                                 "programming is its pulses' (program_noise_sigma, or the table)")
        if self.relaxation_model is not None:
            check_choice("relaxation_model", self.relaxation_model, RELAXATION_MODELS)
        check_choice("cell_iv", self.cell_iv, cell_iv_names())
        if self.cell_iv != "sinh" and self.iv_nonlinearity_per_volt != 0.0:
            raise ValueError(f"iv_nonlinearity_per_volt={self.iv_nonlinearity_per_volt!r} is not allowed with "
                             f"cell_iv={self.cell_iv!r}: k belongs to the sinh law; 0 is required")
        if self.programming is not None:
            check_choice("programming", self.programming, programming_scheme_names())
        if not isinstance(self.temporal_noise, TemporalReadNoise):
            raise ValueError(f"temporal_noise={self.temporal_noise!r} is not allowed; a "
                             "crossbar.TemporalReadNoise is required")
        if not isinstance(self.pulse_law, PulseUpdateLaw):
            raise ValueError(f"pulse_law={self.pulse_law!r} is not allowed; a PulseUpdateLaw is required")
        if self.two_pulse is not None and not isinstance(self.two_pulse, TwoPulseScheme):
            raise ValueError(f"two_pulse={self.two_pulse!r} is not allowed; a TwoPulseScheme or None is required")
        if self.two_pulse is not None:
            lo, hi = self.two_pulse.conductance_range
            if lo < self.g_min or hi > self.g_max:
                raise ValueError(
                    f"two_pulse SET range {lo:g}..{hi:g} S lies outside the window g_min={self.g_min!r}.."
                    f"g_max={self.g_max!r} S; widen the window or narrow the gate voltages")
        if self.initial_conductance_range is not None:
            try:
                low, high = (float(v) for v in self.initial_conductance_range)
            except (TypeError, ValueError):
                raise ValueError(f"initial_conductance_range={self.initial_conductance_range!r} is not allowed; "
                                 "a pair (low, high) in siemens or None is required") from None
            check_range("initial_conductance_range[0]", low, self.g_min, self.g_max, unit="S")
            check_range("initial_conductance_range[1]", high, low, self.g_max, unit="S")

    # ------------------------------------------------------------------ derived
    @property
    def read_noise_is_relative(self) -> bool:
        """True when the white read noise is ``read_noise_sigma_relative * G`` alone (no floor, no table)."""
        return self.read_noise_sigma == 0.0 and self.read_noise_table is None

    @property
    def has_read_noise(self) -> bool:
        """True when reads draw white noise at all."""
        return (self.read_noise_sigma_relative > 0.0 or self.read_noise_sigma > 0.0
                or (self.read_noise_table is not None and any(sigma > 0.0 for _, sigma in self.read_noise_table)))

    def read_noise_sigma_at(self, g) -> np.ndarray:
        """Standard deviation of one read of devices at conductances ``g`` (S), siemens, same shape: the
        floor, the relative part and the table in quadrature (exactly ``read_noise_sigma_relative * |g|``
        when the noise is relative alone)."""
        g = np.asarray(g, dtype=np.float64)
        if self.read_noise_is_relative:
            return self.read_noise_sigma_relative * np.abs(g)
        variance = self.read_noise_sigma ** 2 + (self.read_noise_sigma_relative * g) ** 2
        if self.read_noise_table is not None:
            points = np.array(self.read_noise_table)
            variance = variance + np.interp(g, points[:, 0], points[:, 1]) ** 2
        return np.sqrt(variance)

    @property
    def programmable_range(self) -> Tuple[float, float]:
        """Conductances a one-shot program can target, siemens.

        The SET range of the two-pulse scheme, otherwise the whole window.
        """
        if self.two_pulse is not None:
            return self.two_pulse.conductance_range
        return (float(self.g_min), float(self.g_max))

    @property
    def starting_conductance(self) -> float:
        """Where in-situ training starts every device, siemens: a two-pulse device RESET and SET at its
        ``initial_gate_voltage`` (Li et al.: 1.0 V, about 218 uS), others the middle of the programmable range."""
        if self.two_pulse is not None:
            return float(self.two_pulse.set_conductance(self.two_pulse.initial_gate_voltage))
        low, high = self.programmable_range
        return 0.5 * (low + high)

    @property
    def levels(self) -> Optional[np.ndarray]:
        """The allowed conductances of a nominal multi-level device, siemens, or None."""
        if self.n_levels is None:
            return None
        return np.linspace(self.g_min, self.g_max, self.n_levels)

    def program_sigma(self, target) -> np.ndarray:
        """Standard deviation (S) of one-shot programming to ``target`` (S)."""
        target = np.asarray(target, dtype=np.float64)
        variance = self.program_noise_sigma ** 2 + (self.program_noise_sigma_relative * target) ** 2
        if self.program_noise_model is not None:
            variance = variance + program_noise_model_sigma(self.program_noise_model, target) ** 2
        return np.sqrt(variance)

    @property
    def is_ideal(self) -> bool:
        """True when no non-ideality at all is configured."""
        return (self.n_levels is None and self.program_noise_sigma == 0.0
                and self.program_noise_sigma_relative == 0.0 and not self.has_read_noise
                and self.stuck_at_gmin_fraction == 0.0 and self.stuck_at_gmax_fraction == 0.0
                and self.window_spread_sigma_relative == 0.0 and self.drift_nu == 0.0
                and self.drift_nu_sigma == 0.0 and self.pulse_law.cycle_noise_sigma_relative == 0.0
                and self.iv_nonlinearity_per_volt == 0.0 and self.cell_iv == "sinh" and not self.temporal_noise.is_on
                and self.relaxation_model is None)

    def replace(self, **changes) -> "DeviceModel":
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field as JSON-ready values, SI units (nested laws as tables); the fields of
        :attr:`NEW_FIELDS_AT_DEFAULT` only where they differ from it."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "device") -> "DeviceModel":
        """A device model from :meth:`to_dict`'s values, validated; ``ValueError`` naming ``source`` otherwise."""
        return config_from_dict(cls, data, source, nested={
            "pulse_law": lambda d, s: config_from_dict(PulseUpdateLaw, d, s),
            "two_pulse": lambda d, s: config_from_dict(TwoPulseScheme, d, s),
            "temporal_noise": lambda d, s: config_from_dict(TemporalReadNoise, d, s)})

    def describe(self) -> str:
        """A few human-readable lines, conductances in microsiemens."""
        us = 1e6
        lines = [f"{self.name}: window {self.g_min * us:.1f}..{self.g_max * us:.1f} uS, "
                 + ("continuous" if self.n_levels is None else f"{self.n_levels} levels")]
        lines.append(f"  programming noise {self.program_noise_sigma * us:.2f} uS"
                     f" + {self.program_noise_sigma_relative * 100:.2f} % of target;"
                     f" read noise {self.read_noise_sigma_relative * 100:.2f} %"
                     + (f" + {self.read_noise_sigma * us:.3g} uS" if self.read_noise_sigma else ""))
        if self.read_noise_table is not None:
            points = ", ".join(f"{g * us:.3g}: {sigma * us:.3g}" for g, sigma in self.read_noise_table)
            lines.append(f"  read noise table (uS: sigma uS) {points}")
        lines.append(f"  stuck at g_min {self.stuck_at_gmin_fraction * 100:.2f} %,"
                     f" at g_max {self.stuck_at_gmax_fraction * 100:.2f} %;"
                     f" window spread {self.window_spread_sigma_relative * 100:.1f} %")
        lines.append(f"  drift nu {self.drift_nu:g} +- {self.drift_nu_sigma:g} (t0 {self.drift_t0:g} s)")
        if self.relaxation_model:
            lines.append(f"  relaxation after each write: {self.relaxation_model}")
        if self.temporal_noise.is_on:
            lines.append(f"  read noise with memory: {self.temporal_noise.describe()}")
        if self.iv_nonlinearity_per_volt:
            lines.append(f"  cell I-V G sinh(kV)/k, k = {self.iv_nonlinearity_per_volt:g} /V")
        if self.cell_iv != "sinh":
            lines.append(f"  cell I-V: the registered law {self.cell_iv!r}")
        if self.programming is not None:
            lines.append(f"  programming: the registered scheme {self.programming!r}")
        if self.program_noise_model:
            middle = 0.5 * (self.g_min + self.g_max)
            lines.append(f"  programming error {self.program_noise_model}: sigma "
                         f"{program_noise_model_sigma(self.program_noise_model, middle) * us:.3g} uS at "
                         f"{middle * us:.3g} uS")
        if self.two_pulse is not None:
            lo, hi = self.two_pulse.conductance_range
            lines.append(f"  two-pulse RESET/SET: G_set = {self.two_pulse.gate_slope * us:g} uS/V * Vg"
                         f" + {self.two_pulse.gate_intercept * us:g} uS, Vg {self.two_pulse.gate_voltage_min:g}.."
                         f"{self.two_pulse.gate_voltage_max:g} V ({lo * us:.1f}..{hi * us:.1f} uS)")
        elif self.pulse_law.kind == "table":
            table = self.pulse_law.pulse_table()
            middle = np.array([0.5 * (self.g_min + self.g_max)])
            up, down = table.mean_step(middle, True)[0], table.mean_step(middle, False)[0]
            lines.append(f"  pulse table {self.pulse_law.table!r} ({table.n_tables} table(s), "
                         f"{table.g_bins.shape[1]} bins x {table.quantiles.size} quantiles): mean step at "
                         f"{middle[0] * us:.3g} uS +{up * us:.3g} / {down * us:.3g} uS per pulse")
        else:
            law = self.pulse_law
            lines.append(f"  pulse law {law.kind}: +{law.step_up * us:.3g} / -{law.step_down * us:.3g} uS per pulse,"
                         f" cycle noise {law.cycle_noise_sigma_relative * 100:.0f} %")
        return "\n".join(lines)
