"""Read noise with memory: 1/f (flicker) and random telegraph noise on the array's clock.

A device's conductance fluctuates: ``G(t) = G_true + dG_flicker(t) +
dG_telegraph(t)``. Every read and every device read sees the fluctuating
value; the white ``read_noise_sigma_relative`` is drawn on top of it at each
read. The fluctuations move with the array's simulated clock
(:attr:`crossbar.CrossbarArray.time`), which advances by the peripherals'
``seconds_per_read`` at every read and ``seconds_per_write`` at every write,
and by :meth:`crossbar.CrossbarArray.advance_time`.

1/f noise
---------
A sum of ``N = flicker_sources`` Ornstein-Uhlenbeck processes (Lorentzian
spectra) per device, with corner frequencies spread log-uniformly over
``[f_lo, f_hi]``: evenly spaced in ``ln f``, one in each of N equal slices,
the whole comb shifted by a random fraction of a slice for each device (so
each corner is log-uniform in its slice, and one device's spectrum is
already within a few per cent of ``1/f``; independent random corners leave
bumps of +-15 % in the slope of a single device's spectrum). A
Lorentzian of variance ``v`` and time constant ``tau`` has the one-sided
power spectral density ``4 v tau / (1 + (2 pi f tau)^2)``; ``N`` of them with
``v = A ln(f_hi / f_lo) / N`` sum to ``S(f) = A / f`` between the corners
(McWhorter's model). ``A`` is the *flicker density*: the variance the noise
puts into each e-fold of frequency, so the variance of reads over a window of
duration ``T`` grows as ``A ln(T)``. Each source moves exactly between
reads: ``x <- x rho + sqrt(v (1 - rho^2)) z`` with ``rho = exp(-2 pi f dt)``.

``A`` is relative to ``G^2`` (``flicker_density_relative``) or given in
siemens^2 by a published fit (``flicker_density_model``):

- ``falcone2025_cmo_hfox``: CMO/HfOx ReRAM read noise, Falcone et al.,
  arXiv:2502.04524 (Lombardo et al., DRC 2024): ``sigma(t) = 0.02773
  log10(G) sqrt(ln((t + t_r) / (2 t_r)))`` uS (G in uS, ``t_r`` = 1 us), the
  spread of reads over ``t`` seconds: 1/f noise of ``A = (0.02773 log10
  G)^2`` uS^2.

Random telegraph noise
----------------------
``telegraph_traps`` two-state traps per device, each moving the device by
``telegraph_amplitude_relative * G`` when occupied, with exponential dwell
times whose means (one for each state) are drawn log-uniformly from
``[telegraph_dwell_min_s, telegraph_dwell_max_s]``. Between reads a trap
moves by the exact transition probabilities of the two-state Markov chain.
The traps' mean occupancy is taken off, so the fluctuation has zero mean.

Randomness: the corners, dwell means and the noise's own draws come from
streams of the array's seed kept apart from its generator, so turning the
noise on moves no other draw, and the numbers do not depend on threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Optional

import numba
import numpy as np

from crossbar.numerics.random_streams import fill_normals, standard_normals, stream_seeds
from crossbar.settings import setting
from crossbar.validation import as_float_array, check_choice, check_int, check_range

FLICKER_DENSITY_MODELS = ("falcone2025_cmo_hfox",)
"""Published fits of the 1/f read noise's density against G (:class:`TemporalReadNoise`)."""


def flicker_density_model(model: str, conductance) -> np.ndarray:
    """The 1/f density ``A`` of a published fit at ``conductance``, S^2 (conductance in S; see the module
    text). ``falcone2025_cmo_hfox``: ``(0.02773 log10(G / 1 uS))^2`` uS^2, 0 below 1 uS where the fit's
    logarithm turns negative."""
    if model != "falcone2025_cmo_hfox":
        raise ValueError(f"flicker_density_model={model!r} is not known; choose one of {list(FLICKER_DENSITY_MODELS)}")
    g = np.maximum(np.asarray(conductance, dtype=np.float64) * 1e6, 1.0)
    return (0.02773e-6 * np.log10(g)) ** 2


@dataclass(frozen=True)
class TemporalReadNoise:
    """Time-correlated read noise of a device: 1/f and random telegraph noise (see the module text).

    All off by default. Every field can be swept (``device.temporal_noise.*``).

    Parameters
    ----------
    flicker_density_relative : float
        ``A`` of the 1/f spectrum ``S(f) = A G^2 / f`` (dimensionless; the
        relative variance per e-fold of frequency; 0: none).
    flicker_density_model : str, optional
        A published fit of ``A`` against G in S^2 instead
        (:data:`FLICKER_DENSITY_MODELS`); not with ``flicker_density_relative``.
    flicker_sources : int
        Lorentzian sources per device (1..64); about one per decade of
        ``[flicker_corner_min_hz, flicker_corner_max_hz]`` or more keeps the
        spectrum within a few per cent of ``1/f``. Each costs 16 bytes per
        device.
    flicker_corner_min_hz, flicker_corner_max_hz : float
        The band of the 1/f spectrum, Hz (``0 < min < max``).
    telegraph_traps : int
        Two-state traps per device (0..16).
    telegraph_amplitude_relative : float
        Conductance change of an occupied trap, relative to G (0..1).
    telegraph_dwell_min_s, telegraph_dwell_max_s : float
        Range of the traps' mean dwell times, seconds (``0 < min <= max``).
    """

    flicker_density_relative: float = setting(0.0, unit="1", doc="1/f read noise: A of S(f) = A G^2 / f (0: none)")
    flicker_density_model: Optional[str] = setting(
        None, choices=FLICKER_DENSITY_MODELS, doc="a published fit of the 1/f density against G (omit: none)")
    flicker_sources: int = setting(12, unit="sources", doc="Lorentzian sources per device of the 1/f noise")
    flicker_corner_min_hz: float = setting(1e-4, unit="Hz", doc="lowest corner frequency of the 1/f noise")
    flicker_corner_max_hz: float = setting(1e6, unit="Hz", doc="highest corner frequency of the 1/f noise")
    telegraph_traps: int = setting(0, unit="traps", doc="random telegraph traps per device")
    telegraph_amplitude_relative: float = setting(
        0.0, unit="1", doc="conductance change of an occupied trap, relative to G")
    telegraph_dwell_min_s: float = setting(1e-4, unit="s", doc="shortest mean dwell time of a trap")
    telegraph_dwell_max_s: float = setting(1.0, unit="s", doc="longest mean dwell time of a trap")

    def __post_init__(self):
        check_range("temporal_noise.flicker_density_relative", self.flicker_density_relative, 0.0, 1.0)
        if self.flicker_density_model is not None:
            check_choice("temporal_noise.flicker_density_model", self.flicker_density_model, FLICKER_DENSITY_MODELS)
            if self.flicker_density_relative != 0.0:
                raise ValueError(f"temporal_noise.flicker_density_relative={self.flicker_density_relative!r} with "
                                 f"flicker_density_model={self.flicker_density_model!r}: the model gives the "
                                 "density; leave the relative one at 0")
        check_int("temporal_noise.flicker_sources", self.flicker_sources, 1, 64)
        low = check_range("temporal_noise.flicker_corner_min_hz", self.flicker_corner_min_hz, 0.0, low_open=True,
                          unit="Hz")
        check_range("temporal_noise.flicker_corner_max_hz", self.flicker_corner_max_hz, low, 1e12, low_open=True,
                    unit="Hz")
        check_int("temporal_noise.telegraph_traps", self.telegraph_traps, 0, 16)
        check_range("temporal_noise.telegraph_amplitude_relative", self.telegraph_amplitude_relative, 0.0, 1.0)
        low = check_range("temporal_noise.telegraph_dwell_min_s", self.telegraph_dwell_min_s, 0.0, low_open=True,
                          unit="s")
        check_range("temporal_noise.telegraph_dwell_max_s", self.telegraph_dwell_max_s, low, unit="s")

    @property
    def has_flicker(self) -> bool:
        return self.flicker_density_relative > 0.0 or self.flicker_density_model is not None

    @property
    def has_telegraph(self) -> bool:
        return self.telegraph_traps > 0 and self.telegraph_amplitude_relative > 0.0

    @property
    def is_on(self) -> bool:
        """Whether the device's conductance fluctuates at all."""
        return self.has_flicker or self.has_telegraph

    @property
    def source_variance(self) -> float:
        """Variance of each Lorentzian source for ``A = 1``: ``ln(f_hi / f_lo) / N``."""
        return float(np.log(self.flicker_corner_max_hz / self.flicker_corner_min_hz) / self.flicker_sources)

    def flicker_amplitude(self, conductance: np.ndarray) -> np.ndarray:
        """``sqrt(A)`` in siemens at each device's conductance (S): what multiplies the unit-density sum."""
        if self.flicker_density_model is not None:
            return np.sqrt(flicker_density_model(self.flicker_density_model, conductance))
        return np.sqrt(self.flicker_density_relative) * np.asarray(conductance)

    def describe(self) -> str:
        """One line for people."""
        parts = []
        if self.has_flicker:
            density = (self.flicker_density_model if self.flicker_density_model is not None
                       else f"A = {self.flicker_density_relative:.3g} G^2")
            parts.append(f"1/f {density} over {self.flicker_corner_min_hz:g}..{self.flicker_corner_max_hz:g} Hz "
                         f"({self.flicker_sources} sources)")
        if self.has_telegraph:
            parts.append(f"{self.telegraph_traps} telegraph trap(s) of {self.telegraph_amplitude_relative * 100:.2g} "
                         f"% G, dwells {self.telegraph_dwell_min_s:g}..{self.telegraph_dwell_max_s:g} s")
        return "; ".join(parts) if parts else "none"


NOISE_STREAM = 0xF1F
"""Spawn-key entry of the seeds of an array's time-correlated read noise."""


class FluctuationState:
    """The 1/f sources and telegraph traps of every device of one array, and their draws.

    Parameters
    ----------
    config : TemporalReadNoise
    shape : (int, int)
        The array's (rows, cols).
    seed : numpy.random.SeedSequence
        The stream of the array's seed kept for this noise (:data:`NOISE_STREAM`):
        the corners and dwell means come from one child of it, the draws from another.
    """

    def __init__(self, config: TemporalReadNoise, shape, seed: np.random.SeedSequence):
        self.config = config
        self.shape = tuple(int(v) for v in shape)
        fixed, draws = (np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k,)) for k in (0, 1))
        fixed = np.random.default_rng(fixed)
        self.rng = np.random.default_rng(draws)
        n = config.flicker_sources if config.has_flicker else 0
        m = config.telegraph_traps if config.has_telegraph else 0
        # corners: one per equal slice of ln f, the comb shifted by one random fraction per device, hertz,
        # shape (n, rows, cols)
        span = np.log(config.flicker_corner_max_hz / config.flicker_corner_min_hz)
        slices = (np.arange(n)[:, None, None] + fixed.random((1,) + self.shape)) / max(n, 1)
        self.corner_hz = config.flicker_corner_min_hz * np.exp(span * slices)
        self.variance = config.source_variance
        self.flicker = np.sqrt(self.variance) * self.rng.standard_normal((n,) + self.shape)  # stationary start
        # traps: the mean dwell in each state, seconds, shape (m, rows, cols)
        low, high = np.log(config.telegraph_dwell_min_s), np.log(config.telegraph_dwell_max_s)
        self.dwell_empty_s = np.exp(fixed.uniform(low, high, (m,) + self.shape))
        self.dwell_occupied_s = np.exp(fixed.uniform(low, high, (m,) + self.shape))
        self.occupancy = self.dwell_occupied_s / (self.dwell_empty_s + self.dwell_occupied_s)
        self.occupied = self.rng.random((m,) + self.shape) < self.occupancy  # stationary start
        self._steps: Dict[float, tuple] = {}  # seconds -> (rho, innovation sigma, P(0->1), P(1->0))

    def _step(self, seconds: float) -> tuple:
        found = self._steps.get(seconds)
        if found is None:
            rho = np.exp(-2.0 * np.pi * self.corner_hz * seconds)
            innovation = np.sqrt(self.variance * (1.0 - rho * rho))
            rate_in, rate_out = 1.0 / self.dwell_empty_s, 1.0 / self.dwell_occupied_s
            moved = -np.expm1(-(rate_in + rate_out) * seconds) / (rate_in + rate_out)
            found = (rho, innovation, rate_in * moved, rate_out * moved)
            if len(self._steps) < 4:  # a run's read and write steps; arbitrary advances are not kept
                self._steps[seconds] = found
        return found

    def advance(self, seconds: float) -> None:
        """Move every source and trap on by ``seconds`` (s, >= 0) with their exact transition laws."""
        if seconds <= 0.0:
            return
        rho, innovation, p_in, p_out = self._step(float(seconds))
        if self.flicker.size:
            n, rows, cols = self.flicker.shape
            # one counter-based normal stream a row of sources (crossbar.numerics.random_streams), drawn and applied in one pass
            advance_sources(self.flicker.reshape(n * rows, cols), rho.reshape(n * rows, cols),
                            innovation.reshape(n * rows, cols), stream_seeds(self.rng, n * rows))
        if self.occupied.size:
            u = self.rng.random(self.occupied.shape)
            self.occupied = np.where(self.occupied, u >= p_out, u < p_in)

    def unit_flicker(self) -> np.ndarray:
        """The sum of each device's sources for ``A = 1``, shape (rows, cols) (dimensionless)."""
        return self.flicker.sum(axis=0) if self.flicker.size else np.zeros(self.shape)

    def deviation(self, conductance: np.ndarray) -> np.ndarray:
        """Each device's fluctuation now at its conductance ``conductance`` (S), siemens, shape (rows, cols)."""
        out = np.zeros(self.shape)
        if self.flicker.size:
            out += self.config.flicker_amplitude(conductance) * self.unit_flicker()
        if self.occupied.size:
            traps = (self.occupied - self.occupancy).sum(axis=0)
            out += self.config.telegraph_amplitude_relative * np.asarray(conductance) * traps
        return out

    @property
    def nbytes(self) -> int:
        return int(sum(v.nbytes for v in (self.corner_hz, self.flicker, self.dwell_empty_s, self.dwell_occupied_s,
                                          self.occupancy, self.occupied)))

    def state(self, prefix: str) -> Dict[str, np.ndarray]:
        """What moves (the sources, the traps, the draws' generator) as named arrays; the corners and dwell
        means come again from the seed."""
        return {f"{prefix}flicker": self.flicker.copy(), f"{prefix}occupied": self.occupied.copy(),
                f"{prefix}rng": np.array(json.dumps(self.rng.bit_generator.state))}

    def load_state(self, state: Dict[str, np.ndarray], prefix: str, source: str) -> None:
        """Take :meth:`state`'s values (checked: ``ValueError`` naming ``source`` and the entry)."""
        for name in ("flicker", "occupied", "rng"):
            if prefix + name not in state:
                raise ValueError(f"{source}: no {prefix + name!r} entry; saved without this device's "
                                 "time-correlated read noise")
        if self.flicker.size:
            flicker = as_float_array(f"{source}.{prefix}flicker", state[prefix + "flicker"], shape=self.flicker.shape)
        else:  # telegraph traps without 1/f sources: nothing to check but the (empty) shape
            flicker = np.asarray(state[prefix + "flicker"], dtype=np.float64)
            if flicker.shape != self.flicker.shape:
                raise ValueError(f"{source}.{prefix}flicker has shape {flicker.shape}; shape {self.flicker.shape} "
                                 "required (no 1/f sources)")
        occupied = np.asarray(state[prefix + "occupied"])
        if occupied.shape != self.occupied.shape or occupied.dtype != bool:
            raise ValueError(f"{source}.{prefix}occupied: booleans of shape {self.occupied.shape} are required")
        try:
            generator = np.random.Generator(type(self.rng.bit_generator)())
            generator.bit_generator.state = json.loads(str(state[prefix + "rng"]))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
            raise ValueError(f"{source}.{prefix}rng cannot be read ({error})") from None
        self.flicker, self.occupied, self.rng = flicker, occupied.copy(), generator


@numba.njit(cache=True, nogil=True, parallel=True)
def advance_sources(flicker, rho, innovation, seeds):
    """Move Ornstein-Uhlenbeck sources on in place: ``flicker[r, j] = rho[r, j] flicker[r, j] +
    innovation[r, j] z_rj``, ``z_rj`` the ``j``-th normal of stream ``seeds[r]`` (:func:`crossbar.numerics.random_streams.counter_normal`).

    Parameters
    ----------
    flicker, rho, innovation : ndarray, shape (streams, n), float64
        The sources (dimensionless), their decay over the step and the sigma of their innovation.
    seeds : ndarray of uint64, shape (streams,)

    The streams run on Numba's threads; each one's normals are its own, so
    the numbers do not depend on the threads.
    """
    streams, n = flicker.shape
    for r in numba.prange(streams):
        row = np.empty(n, dtype=np.float32)
        fill_normals(seeds[r], np.int64(0), row)
        for j in range(n):
            flicker[r, j] = rho[r, j] * flicker[r, j] + innovation[r, j] * np.float64(row[j])


def advance_sources_reference(flicker, rho, innovation, seeds) -> None:
    """The numpy twin of :func:`advance_sources` (the same bits)."""
    normals = standard_normals(seeds, flicker.shape[1])
    flicker *= rho
    flicker += innovation * normals


def window_variance(corner_hz: np.ndarray, source_variance: float, samples: int, seconds: float) -> float:
    """Expected variance (the ``1/n`` sample variance) of ``samples`` reads ``seconds`` apart of one device's
    unit-density 1/f sum with corners ``corner_hz`` (Hz, shape (sources,)): the closed form
    ``sum_k v (1 - (1/n^2) sum_ij rho_k^|i-j|)``, ``rho_k = exp(-2 pi f_k dt)``."""
    n = check_int("samples", samples, 1)
    rho = np.exp(-2.0 * np.pi * np.asarray(corner_hz, dtype=np.float64) * seconds)
    lags = np.arange(1, n)
    # sum_ij rho^|i-j| = n + 2 sum_{l=1}^{n-1} (n - l) rho^l
    total = n + 2.0 * ((n - lags)[None, :] * rho[:, None] ** lags[None, :]).sum(axis=1)
    return float(np.sum(source_variance * (1.0 - total / n ** 2)))
