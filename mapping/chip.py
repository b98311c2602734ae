"""A chip: equal crossbar arrays sharing one technology, and the space on them."""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import crossbar
from crossbar import AdcSpec, ArraySpec, CrossbarArray, DeviceModel, EnergyCosts, WiresSpec
from crossbar.array.crossbar_array import check_array_memory
from crossbar.validation import check_int, config_from_dict, config_to_dict

from mapping.layout import Block, Layout
from mapping.occupancy import Occupancy

CHIP_FORMAT = "xbar-mapping-chip/1"
"""Format of :meth:`Chip.save` files."""


class Chip:
    """Arrays of ``array.rows x array.cols`` devices, created as blocks need them.

    A chip is built from the description tree's parts: :meth:`mapping.ChipSpec.build` gives an experiment's
    (the preset's converters resolved there); :meth:`from_preset` a preset technology's.

    Parameters
    ----------
    device : DeviceModel
        The technology of every array.
    array : crossbar.ArraySpec, optional
        Size of each array (Li et al.: 128 x 64), how many there are (``count`` None: as many as needed; a
        placement that needs more raises ``ValueError`` saying how many it needs), the read, write and
        device-read schemes and the simulated seconds each read and write lets pass on an array's clock
        (:class:`crossbar.Peripherals`). Default ``ArraySpec()``.
    dac : crossbar.DAC, optional
        Row drivers (shared by all arrays); ``None`` for ideal sources.
    adc : crossbar.AdcSpec, optional
        The column ADCs' resolution and circuit (kind and non-idealities, :meth:`crossbar.AdcSpec.circuit`);
        ``None``, or ``bits`` None, for ideal sensing. The chip designs its converter once
        (:meth:`adc_design`); each matrix sets its full scale (``MappedMatrix.set_adc_full_scale``,
        ``MappedMatrix.calibrate_adc``: the ranging is the mapping's, :class:`mapping.MappingSpec`, so the
        spec's ``range`` and ``range_by`` are not the chip's). Each array's converters are built with the
        array, their mismatch drawn from its seed (:meth:`crossbar.CrossbarArray.converters`).
    wires : crossbar.WiresSpec, optional
        Wire resistance per segment, ohms (default ideal wires).
    seed : int or None
        Root of every array's random numbers: array ``k`` gets the ``k``-th
        child of ``SeedSequence(seed)``, so the chip is the same on every run.
    costs : crossbar.EnergyCosts, optional
    """

    def __init__(self, device: DeviceModel, array: Optional[ArraySpec] = None, dac: Optional[crossbar.DAC] = None,
                 adc: Optional[AdcSpec] = None, wires: Optional[WiresSpec] = None, seed=None,
                 costs: Optional[EnergyCosts] = None):
        array = ArraySpec() if array is None else array
        wires = WiresSpec() if wires is None else wires
        for name, value, cls in (("device", device, DeviceModel), ("array", array, ArraySpec),
                                 ("wires", wires, WiresSpec)):
            if not isinstance(value, cls):
                raise ValueError(f"{name}={value!r} is not allowed; a crossbar.{cls.__name__} is required")
        if adc is not None and not isinstance(adc, AdcSpec):
            raise ValueError(f"adc={adc!r} is not allowed; a crossbar.AdcSpec or None")
        if adc is not None and adc.bits is None and adc.kind != "uniform":
            raise ValueError(f"adc.kind={adc.kind!r} needs ADCs; give adc.bits")
        self.device = device
        self.array_rows, self.array_cols, self.n_arrays = array.rows, array.cols, array.count
        self.adc_bits = None if adc is None else adc.bits
        self.adc_circuit = crossbar.ADCCircuit() if adc is None else adc.circuit()
        self.peripherals = array.peripherals(dac=dac, wires=wires.resistance())  # validates them together
        self.costs = EnergyCosts() if costs is None else costs
        self._seeds = np.random.SeedSequence(seed)
        self._arrays: List[CrossbarArray] = []
        self._space = Occupancy(self.array_rows, self.array_cols)
        self.layout = Layout(self.array_rows, self.array_cols)

    @classmethod
    def from_preset(cls, name: str, array: Optional[ArraySpec] = None, **kwargs) -> "Chip":
        """A chip of a preset technology with that preset's DAC and ADC resolution (``kwargs``: the other
        parameters of :class:`Chip`, ``dac`` and ``adc`` to replace the preset's)."""
        peripherals = crossbar.preset_peripherals(name)
        kwargs.setdefault("dac", peripherals.dac)
        kwargs.setdefault("adc", None if peripherals.adc is None else AdcSpec(bits=peripherals.adc.bits))
        return cls(crossbar.preset(name), array, **kwargs)

    @property
    def dac(self) -> Optional[crossbar.DAC]:
        return self.peripherals.dac

    @property
    def n_allocated(self) -> int:
        """Arrays that hold at least one block (or were named by a corner)."""
        return self._space.n_arrays

    @property
    def arrays_built(self) -> int:
        """Arrays whose devices exist yet (see :attr:`arrays`)."""
        return len(self._arrays)

    @property
    def arrays(self) -> List[CrossbarArray]:
        """The chip's arrays, built on first use: placing blocks (a layout) needs no devices.

        Array ``k`` is seeded by the ``k``-th child of ``SeedSequence(seed)`` whenever it is built.
        """
        missing = self._space.n_arrays - len(self._arrays)
        if missing > 0:  # all of them checked against the memory before the first is built
            check_array_memory(self.array_rows, self.array_cols, self.device, missing)
        while len(self._arrays) < self._space.n_arrays:
            seed = self._seeds.spawn(1)[0]
            array = CrossbarArray(self.array_rows, self.array_cols, self.device, seed=seed,
                                  peripherals=self.peripherals, costs=self.costs)
            if not self.adc_circuit.is_uniform:  # the converters are built with the array
                array.converters(self.adc_design(1.0))
            self._arrays.append(array)
        return self._arrays

    def adc_design(self, full_scale: float) -> crossbar.ADC:
        """The chip's column ADC with a full scale (A): its bits and circuit (``ValueError`` without ADCs)."""
        if self.adc_bits is None:
            raise ValueError("the chip has no ADCs (adc_bits=None)")
        return crossbar.ADC(bits=self.adc_bits, full_scale=full_scale, circuit=self.adc_circuit)

    def allocate(self, name: str, shapes: Sequence[Tuple[int, int]],
                 corner: Optional[Tuple[int, int, int]] = None) -> List[Tuple[int, int, int]]:
        """Reserve rectangles of (rows, cols) devices; all of them or none.

        First fit: arrays in order, then columns left to right, then rows; a
        new array when none has room. Time grows with the number of arrays
        that still have room, not with all arrays (see :class:`Occupancy`).

        Parameters
        ----------
        name : str
            Matrix the rectangles belong to (for messages).
        shapes : sequence of (int, int)
        corner : (array, row, col), optional
            0-based top-left corner of a single rectangle; otherwise first fit.

        Raises
        ------
        ValueError
            If a rectangle is larger than an array, the corner is taken or
            outside, or more arrays are needed than the chip has.
        """
        for height, width in shapes:
            if height > self.array_rows or width > self.array_cols:
                raise ValueError(f"{name}: a block of {height}x{width} devices is larger than one "
                                 f"{self.array_rows}x{self.array_cols} array")
        space = self._space
        if corner is not None:
            if len(shapes) != 1:
                raise ValueError(f"{name}: corner={corner!r} needs a matrix that fits one array; "
                                 f"this one takes {len(shapes)} tiles")
            k, r, c = (int(v) for v in corner)
            height, width = shapes[0]
            if k < 0 or r < 0 or c < 0 or r + height > self.array_rows or c + width > self.array_cols:
                raise ValueError(f"{name}: corner={corner!r} puts a {height}x{width} block outside a "
                                 f"{self.array_rows}x{self.array_cols} array")
            if self.n_arrays is not None and k >= self.n_arrays:
                raise ValueError(f"{name}: corner={corner!r} names array {k}; the chip has {self.n_arrays}")
            if k < space.n_arrays and not space.is_free(k, r, c, height, width):
                raise ValueError(f"{name}: corner={corner!r} overlaps a block already placed")
            while space.n_arrays <= k:
                space.add_array()
            space.mark(k, r, c, height, width)
            return [(k, r, c)]
        before = space.n_arrays
        where, marks = [], []
        for height, width in shapes:
            spot = space.first_fit(height, width)
            if spot is None:
                spot = (space.add_array(), 0, 0)
            space.mark(*spot, height, width)
            marks.append((*spot, height, width))
            where.append(spot)
        if self.n_arrays is not None and space.n_arrays > self.n_arrays:
            needed = space.n_arrays
            for mark in reversed(marks):  # all or nothing
                space.unmark(*mark)
            space.truncate(before)
            raise ValueError(f"{name}: needs {needed} arrays of {self.array_rows}x{self.array_cols} in all; "
                             f"the chip has {self.n_arrays}")
        return where

    def add_block(self, block: Block) -> None:
        self.layout.add(block)

    def memory_bytes(self) -> int:
        """Bytes of the per-device state of every array built so far (see
        :attr:`crossbar.CrossbarArray.memory_bytes`)."""
        return sum(a.memory_bytes for a in self.arrays)

    def counters(self) -> crossbar.OperationCounts:
        """All work done on all arrays."""
        total = crossbar.OperationCounts()
        for a in self.arrays:
            total = total.add(a.counters)
        return total

    def state(self) -> Dict[str, np.ndarray]:
        """Every array's :meth:`crossbar.CrossbarArray.state`, keys prefixed ``array<k>.``, and the seed
        sequence that seeds arrays built later."""
        seeds = self._seeds
        out = {"arrays": np.array(len(self.arrays)),
               "seed_sequence": np.array(json.dumps({"entropy": seeds.entropy, "spawn_key": list(seeds.spawn_key),
                                                     "pool_size": seeds.pool_size,
                                                     "n_children_spawned": seeds.n_children_spawned}))}
        for k, a in enumerate(self.arrays):
            out.update({f"array{k}.{name}": v for name, v in a.state().items()})
        return out

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state` of a chip with as many arrays; ``ValueError`` naming ``source`` otherwise.

        Every array is checked before any changes.
        """
        got = _saved_count(state.get("arrays"), f"{source}: arrays")
        if got != len(self.arrays):
            raise ValueError(f"{source}: {got} arrays saved; this chip has {len(self.arrays)}")
        parts = [{name[len(f"array{k}."):]: v for name, v in state.items() if name.startswith(f"array{k}.")}
                 for k in range(len(self.arrays))]
        for k, (a, part) in enumerate(zip(self.arrays, parts)):  # check all before touching one
            a.check_state(part, f"{source}: array{k}")
        try:
            seeds = json.loads(str(state["seed_sequence"]))
            sequence = np.random.SeedSequence(seeds["entropy"], spawn_key=tuple(seeds["spawn_key"]),
                                              pool_size=seeds["pool_size"],
                                              n_children_spawned=seeds["n_children_spawned"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: the chip's seed sequence cannot be read ({error})") from None
        for k, (a, part) in enumerate(zip(self.arrays, parts)):
            a.load_state(part, f"{source}: array{k}")
        self._seeds = sequence

    def save(self, path: str) -> None:
        """Write the chip to ``path`` (``.npz``, no pickles), atomically: its configuration, the space taken
        and the layout, and every array's state (:meth:`state`). :meth:`load` continues it bit for bit.

        Mapped matrices are not part of a chip; :meth:`lstm.hardware.HardwareNetwork.save` keeps a
        network with its chip.
        """
        from crossbar.files import save_arrays

        meta = {"format": CHIP_FORMAT, "device": self.device.to_dict(), "array_rows": self.array_rows,
                "array_cols": self.array_cols, "n_arrays": self.n_arrays, "adc_bits": self.adc_bits,
                "adc_circuit": config_to_dict(self.adc_circuit), "read_scheme": self.peripherals.read_scheme,
                "write_scheme": (None if self.peripherals.write_scheme is None
                                 else config_to_dict(self.peripherals.write_scheme)),
                "device_read_scheme": self.peripherals.device_read_scheme,
                "device_read_voltage": self.peripherals.device_read_voltage,
                "seconds_per_read": self.peripherals.seconds_per_read,
                "seconds_per_write": self.peripherals.seconds_per_write,
                "dac": None if self.dac is None else config_to_dict(self.dac),
                "wires": None if self.peripherals.wires is None else config_to_dict(self.peripherals.wires),
                "costs": config_to_dict(self.costs),
                "blocks": [[b.matrix, b.part, b.array, list(b.rows), list(b.cols)] for b in self.layout.blocks]}
        arrays = {f"chip.{k}": v for k, v in self.state().items()}
        arrays["taken"] = np.packbits(self._space.taken(), axis=None)
        save_arrays(path, meta, arrays)

    @classmethod
    def load(cls, path: str) -> "Chip":
        """A chip saved by :meth:`save`; ``ValueError`` naming the file for a damaged, foreign or unknown one."""
        from crossbar.files import load_arrays

        meta, arrays = load_arrays(path, CHIP_FORMAT, path, "a saved chip")
        if "taken" not in arrays:
            raise ValueError(f"{path}: not a chip saved by mapping.Chip.save (no 'taken' entry)")
        taken = arrays.pop("taken")
        try:
            chip = cls(**_saved_parts(meta, path))
            n = _saved_count(arrays.get("chip.arrays"), f"{path}: chip.arrays")
            devices = n * chip.array_rows * chip.array_cols
            if taken.dtype != np.uint8 or taken.ndim != 1 or taken.size != -(-devices // 8):
                raise ValueError(f"{path}: taken holds {taken.size} byte(s) of {taken.dtype}; {n} array(s) of "
                                 f"{chip.array_rows} x {chip.array_cols} devices need {-(-devices // 8)} of uint8")
            check_array_memory(chip.array_rows, chip.array_cols, chip.device, max(n, 1))
            grid = np.unpackbits(taken, count=devices).astype(bool).reshape(n, chip.array_rows, chip.array_cols)
            chip._space = Occupancy.from_taken(grid)
            if not isinstance(meta["blocks"], list):
                raise ValueError(f"{path}: blocks={meta['blocks']!r} is not allowed; a list of blocks is required")
            for i, entry in enumerate(meta["blocks"]):
                chip.layout.add(_saved_block(entry, grid, f"{path}: blocks[{i}]"))
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path}: its record is damaged ({type(error).__name__}: {error})") from None
        except ValueError as error:
            raise named(path, error) from None
        chip.load_state({k[len("chip."):]: v for k, v in arrays.items() if k.startswith("chip.")}, path)
        return chip

    def conductances(self) -> List[np.ndarray]:
        """True conductance of each array, siemens."""
        return [a.conductance.copy() for a in self.arrays]

    def save_layout(self, path, with_conductance: bool = True) -> None:
        """Draw the layout (over the conductances, its stuck devices marked) to ``path``."""
        drawn = with_conductance and self.arrays
        self.layout.save(path, self.conductances() if drawn else None,
                         [a.faults.copy() for a in self.arrays] if drawn else None)


def named(path: str, error: ValueError) -> ValueError:
    """``error`` as a ``ValueError`` whose message starts with the file ``path`` (as it is when it does)."""
    text = str(error)
    return ValueError(text if text.startswith(str(path)) else f"{path}: {text}")


def _saved_parts(meta: dict, path: str) -> dict:
    """The arguments of :class:`Chip` from a saved record's flat fields (:meth:`Chip.save`; the fields added
    later at their defaults when an older record lacks them)."""
    write = meta.get("write_scheme") or {}
    array = ArraySpec(rows=check_int("array_rows", meta["array_rows"], 2),
                      cols=check_int("array_cols", meta["array_cols"], 2), count=meta["n_arrays"],
                      read_scheme=meta.get("read_scheme", "grounded"), write_scheme=write.get("kind"),
                      write_voltage=write.get("write_voltage", 2.0),
                      switching_voltage=write.get("switching_voltage", 0.25),
                      device_read_scheme=meta.get("device_read_scheme", "grounded"),
                      device_read_voltage=meta.get("device_read_voltage", 0.2),
                      seconds_per_read=meta.get("seconds_per_read", 0.0),
                      seconds_per_write=meta.get("seconds_per_write", 0.0))
    circuit = config_from_dict(crossbar.ADCCircuit, meta.get("adc_circuit", {}), f"{path}: adc_circuit")
    adc = None if meta["adc_bits"] is None else AdcSpec(
        bits=meta["adc_bits"], kind=circuit.kind, capacitor_mismatch_sigma=circuit.capacitor_mismatch_sigma,
        comparator_offset_sigma_lsb=circuit.comparator_offset_sigma_lsb, amplifier_gain=circuit.amplifier_gain,
        columns_per_converter=circuit.columns_per_converter)
    return {"device": DeviceModel.from_dict(meta["device"], f"{path}: device"), "array": array, "adc": adc,
            "dac": None if meta["dac"] is None else config_from_dict(crossbar.DAC, meta["dac"], f"{path}: dac"),
            "wires": None if meta["wires"] is None else config_from_dict(WiresSpec, meta["wires"], f"{path}: wires"),
            "costs": config_from_dict(EnergyCosts, meta["costs"], f"{path}: costs")}


def _saved_count(value, name: str) -> int:
    """A count of a saved record (a 0-d integer entry, >= 0); ``ValueError`` naming ``name`` otherwise."""
    if value is None:
        raise ValueError(f"{name}: no such entry; the number of arrays is required")
    count = np.asarray(value)
    if count.ndim != 0 or not np.issubdtype(count.dtype, np.integer) or int(count) < 0:
        raise ValueError(f"{name}={count!r} is not allowed; a whole number of arrays (>= 0) is required")
    return int(count)


def _saved_block(entry, taken: np.ndarray, name: str) -> Block:
    """A block of a saved record, ``[matrix, part, array, [row start, stop], [column start, stop]]`` (0-based,
    half-open), checked against the saved arrays and their taken devices."""
    if not isinstance(entry, list) or len(entry) != 5:
        raise ValueError(f"{name}={entry!r}: [matrix, part, array, [row start, stop], [column start, stop]] is "
                         "required")
    matrix, part, k, rows, cols = entry
    n, height, width = taken.shape
    spans = [rows, cols]
    if (not isinstance(matrix, str) or not isinstance(part, str) or isinstance(k, bool) or not isinstance(k, int)
            or not all(isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                     for x in v) for v in spans)):
        raise ValueError(f"{name}={entry!r}: [matrix, part, array, [row start, stop], [column start, stop]] is "
                         "required")
    if not (0 <= k < n and 0 <= rows[0] < rows[1] <= height and 0 <= cols[0] < cols[1] <= width):
        raise ValueError(f"{name}={entry!r} lies outside the {n} saved array(s) of {height} x {width} devices")
    if not taken[k, rows[0]:rows[1], cols[0]:cols[1]].all():
        raise ValueError(f"{name}={entry!r} holds devices the record does not mark as taken")
    return Block(matrix, part, k, (rows[0], rows[1]), (cols[0], cols[1]))
