"""An array's state as named arrays (no objects), its checks, and its taking back: what
:meth:`crossbar.CrossbarArray.state`, :meth:`~crossbar.CrossbarArray.check_state` and
:meth:`~crossbar.CrossbarArray.load_state` do.

The functions take the array and read or set its state: the base conductances (S), SET gate voltages (V),
fault map, window gains, drift exponents, each device's time of its last write and the clock (s), the
random generators, the counters, the converters, and the state of relaxation and of read noise with memory.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Dict

import numpy as np

from crossbar.array.device_draws import FAULT_NONE, FAULT_STUCK_HIGH, FAULT_STUCK_LOW
from crossbar.array.streams import fluctuation_state, table_choice
from crossbar.circuits.adc import ConverterBank
from crossbar.circuits.energy import OperationCounts
from crossbar.devices.models import DeviceModel
from crossbar.validation import as_float_array, check_range

ARRAY_STATE_FORMAT = "xbar-array/1"
"""Format of :meth:`CrossbarArray.state`."""


def array_state(array) -> Dict[str, np.ndarray]:
    """Everything that makes ``array`` this array now, as named arrays (see :meth:`CrossbarArray.state`)."""
    return {
        "format": np.array(ARRAY_STATE_FORMAT),
        "shape": np.array(array.shape, dtype=np.int64),
        "device": np.array(json.dumps(dataclasses.asdict(array.device), sort_keys=True, default=list)),
        "conductance_base": array._g0.copy(),
        "gate_voltage": array.gate_voltage.copy(),
        "faults": array.faults.copy(),
        "gain": array.gain.copy(),
        "drift_nu": np.zeros((0, 0)) if array.drift_nu is None else array.drift_nu.copy(),
        "programmed_at": array.programmed_at.copy(),
        "time": np.array(array.time),
        "rng": np.array(json.dumps(array.rng.bit_generator.state)),
        "counters": np.array(json.dumps(array.counters.to_dict())),
        "converter_seed": np.array(json.dumps(array._converter_seed)),
        "converter_banks": np.array(len(array._converters)),
        **({} if array.fluctuation is None else array.fluctuation.state("fluctuation.")),
        **({} if array.relaxation_z is None else {
            "relaxation_z": array.relaxation_z.copy(),
            "relaxation_rng": np.array(json.dumps(array._relaxation_rng.bit_generator.state))}),
        **{name: value for k, bank in enumerate(array._converters.values())
           for name, value in bank.state(f"converters{k}.").items()},
    }


def float_grid(name: str, values: np.ndarray, shape: tuple) -> np.ndarray:
    """A float64 array of ``shape`` whose values are finite or NaN (NaN: never set); else ``ValueError``."""
    out = np.array(values, dtype=np.float64)
    if out.shape != shape or np.isinf(out).any():
        raise ValueError(f"{name}: shape {shape} of finite values (or NaN) is required; got shape {out.shape}")
    return out


def _entry(state: Dict[str, np.ndarray], name: str, source: str) -> np.ndarray:
    """The state's entry ``name``, or ``ValueError`` naming ``source`` when it has none."""
    if name not in state:
        raise ValueError(f"{source}: no {name!r} entry; not an array state of format {ARRAY_STATE_FORMAT}")
    return np.asarray(state[name])


def _check_kind(array, state, source: str) -> None:
    """The state's format, shape and device model against ``array``'s."""
    if str(_entry(state, "format", source)) != ARRAY_STATE_FORMAT:
        raise ValueError(f"{source}: array state format {str(_entry(state, 'format', source))!r} is not known; "
                         f"{ARRAY_STATE_FORMAT!r} is required")
    shape = tuple(int(v) for v in _entry(state, "shape", source))
    if shape != array.shape:
        raise ValueError(f"{source}: an array of {shape} devices; this one is {array.shape}")
    try:  # as a model, so that fields added since the state was saved take their defaults
        saved = DeviceModel.from_dict(json.loads(str(_entry(state, "device", source))), f"{source}.device")
    except (json.JSONDecodeError, TypeError, ValueError):
        saved = None
    if saved != array.device:
        raise ValueError(f"{source}: saved with another device model than {array.device.name!r}")


def _device_values(array, state, source: str) -> dict:
    """The per-device grids of the state (conductances, windows, faults, drift, times) and its clock, checked."""
    shape = array.shape
    values = {}
    for name in ("conductance_base", "gain", "programmed_at"):
        values[name] = as_float_array(f"{source}.{name}", _entry(state, name, source), shape=shape)
    for name, positive in (("conductance_base", False), ("gain", True)):
        bad = values[name] <= 0.0 if positive else values[name] < 0.0
        if bad.any():
            allowed = "window gains are > 0" if positive else "conductances are >= 0 S"
            raise ValueError(f"{source}.{name} holds {int(np.count_nonzero(bad))} value(s) "
                             f"{'<= 0' if positive else 'below 0'} (the least {values[name].min():.3g}); "
                             f"{allowed}")
    values["gate_voltage"] = float_grid(f"{source}.gate_voltage", _entry(state, "gate_voltage", source), shape)
    faults = _entry(state, "faults", source)
    if faults.shape != shape or not np.isin(faults, (FAULT_NONE, FAULT_STUCK_LOW, FAULT_STUCK_HIGH)).all():
        raise ValueError(f"{source}.faults: shape {shape} with codes 0, 1, 2 is required")
    values["faults"] = faults.astype(np.int8)
    drift_nu = _entry(state, "drift_nu", source)
    if (drift_nu.size == 0) != (array.drift_nu is None):
        raise ValueError(f"{source}.drift_nu: drift exponents do not match the device's drift setting")
    values["drift_nu"] = None if drift_nu.size == 0 else as_float_array(f"{source}.drift_nu", drift_nu, shape=shape)
    values["time"] = check_range(f"{source}.time", float(_entry(state, "time", source)), 0.0, unit="s")
    return values


def _generator(like: np.random.Generator, saved: np.ndarray) -> np.random.Generator:
    """A generator of ``like``'s kind in the state ``saved`` (its JSON); the reading's errors pass through."""
    generator = np.random.Generator(type(like.bit_generator)())
    generator.bit_generator.state = json.loads(str(saved))
    return generator


def _counts_and_converters(array, state, source: str) -> dict:
    """The state's counters, generator, converters' seed and converters, checked."""
    values = {}
    try:
        counters = json.loads(str(_entry(state, "counters", source)))
        values["rng"] = _generator(array.rng, _entry(state, "rng", source))
    except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
        raise ValueError(f"{source}: the random generator's state cannot be read ({error})") from None
    values["counters"] = OperationCounts.from_dict(counters, f"{source}.counters")
    # converters (absent from states saved before the ADC circuits: none were built then)
    values["converter_seed"] = array._converter_seed
    if "converter_seed" in state:
        try:
            entropy, spawn_key = json.loads(str(_entry(state, "converter_seed", source)))
            values["converter_seed"] = (int(entropy), [int(v) for v in spawn_key])
        except (json.JSONDecodeError, TypeError, ValueError) as error:
            raise ValueError(f"{source}.converter_seed cannot be read ({error})") from None
    banks = {}
    for k in range(int(state["converter_banks"]) if "converter_banks" in state else 0):
        bank = ConverterBank.from_state(state, f"converters{k}.", f"{source}.converters{k}")
        if bank.cols != array.cols:
            raise ValueError(f"{source}.converters{k}: converters of {bank.cols} columns; the array has "
                             f"{array.cols}")
        banks[(bank.circuit, bank.bits)] = bank
    values["converters"] = banks
    return values


def _relaxation_and_fluctuation(array, state, source: str, converter_seed) -> dict:
    """The state of relaxation (each device's normal and the generator) and of read noise with memory."""
    values = {"relaxation": (None, None)}
    if array.device.relaxation_model is not None:
        z = float_grid(f"{source}.relaxation_z", _entry(state, "relaxation_z", source), array.shape)
        try:
            relax_rng = _generator(array._relaxation_rng, _entry(state, "relaxation_rng", source))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as error:
            raise ValueError(f"{source}.relaxation_rng cannot be read ({error})") from None
        values["relaxation"] = (z, relax_rng)
    values["fluctuation"] = fluctuation_state(array.device, array.shape, converter_seed)
    if values["fluctuation"] is not None:
        values["fluctuation"].load_state(state, "fluctuation.", source)
    return values


def check_array_state(array, state: Dict[str, np.ndarray], source: str = "state") -> dict:
    """Check a state of :func:`array_state` against ``array``; return its values, or ``ValueError`` naming
    ``source`` and the entry that does not fit. Changes nothing."""
    _check_kind(array, state, source)
    values = _device_values(array, state, source)
    values.update(_counts_and_converters(array, state, source))
    values.update(_relaxation_and_fluctuation(array, state, source, values["converter_seed"]))
    return values


def load_array_state(array, state: Dict[str, np.ndarray], source: str = "state") -> None:
    """Give ``array`` the state of :func:`array_state` (checked first; nothing changes on an error)."""
    values = array.check_state(state, source)
    array._g0 = values["conductance_base"]
    array.gate_voltage = values["gate_voltage"]
    array.gain = values["gain"]
    array.g_low = array.device.g_min * array.gain
    array.g_high = array.device.g_max * array.gain
    array.faults = values["faults"]
    array.stuck = array.faults != FAULT_NONE
    array.drift_nu = values["drift_nu"]
    array.programmed_at = values["programmed_at"]
    array.time = values["time"]
    array.rng = values["rng"]
    array.counters = values["counters"]
    array._converter_seed = values["converter_seed"]
    array._converters = values["converters"]
    array.table_index = table_choice(array.device, array.shape, array._converter_seed)
    array.fluctuation = values["fluctuation"]
    array.relaxation_z, array._relaxation_rng = values["relaxation"]
    array._refresh()
