"""An array's random streams kept apart from its generator: the seed they derive from, and what is drawn
from them (converters' mismatch, the table each device of a table device follows, relaxation, read noise
with memory).

Each stream is the array's seed sequence with keys appended to its spawn key, so turning one of them on
moves no other draw, and a reloaded array draws the same.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional, Tuple

import numpy as np

from crossbar.devices.models import DeviceModel
from crossbar.devices.pulse_tables import draw_table_index

TABLE_STREAM = 0x7AB
"""Spawn-key entry of the seed of a table device's choice of table per device."""

CONVERTER_STREAM = 0xADC
"""Spawn-key entry of the seed of an array's converters (beyond any child an array's seed could spawn)."""


def converter_seed(rng: np.random.Generator) -> Tuple[int, list]:
    """(entropy, spawn key) of the seed sequence an array's converters derive from: its generator's own
    seed sequence, or, for a generator without one, a hash of the generator's state (nothing is drawn)."""
    sequence = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(sequence, np.random.SeedSequence):
        return int(sequence.entropy), [int(v) for v in sequence.spawn_key]
    digest = hashlib.sha256(json.dumps(rng.bit_generator.state, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:16], "little"), []


def stream_sequence(seed: Tuple[int, list], *keys: int) -> np.random.SeedSequence:
    """The seed sequence of one of an array's streams kept apart from its generator: its seed sequence
    (``seed``, see :func:`converter_seed`) with ``keys`` appended to the spawn key."""
    entropy, spawn_key = seed
    return np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key) + tuple(keys))


def fluctuation_state(device: DeviceModel, shape, seed):
    """The 1/f sources and telegraph traps of an array of ``device`` with read noise with memory, from
    their stream of the array's seed (:class:`crossbar.devices.temporal_noise.FluctuationState`); None without."""
    if not device.temporal_noise.is_on:
        return None
    from crossbar.devices.temporal_noise import NOISE_STREAM, FluctuationState

    return FluctuationState(device.temporal_noise, shape, stream_sequence(seed, NOISE_STREAM))


def relaxation_generator(device: DeviceModel, seed) -> Optional[np.random.Generator]:
    """The generator of the relaxation draws (a stream of the array's seed of its own, so turning
    relaxation on moves no other draw); None without relaxation."""
    if device.relaxation_model is None:
        return None
    from crossbar.devices.relaxation import RELAXATION_STREAM

    return np.random.default_rng(stream_sequence(seed, RELAXATION_STREAM))


def table_choice(device: DeviceModel, shape, seed) -> Optional[np.ndarray]:
    """Which table of a table device's pulse law each device follows (device-to-device spread), from its
    stream of the array's seed; None for other devices."""
    law = device.pulse_law
    if law.kind != "table" or device.two_pulse is not None:
        return None
    return draw_table_index(stream_sequence(seed, TABLE_STREAM), shape, law.pulse_table().n_tables)
