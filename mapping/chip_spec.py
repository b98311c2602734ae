"""What a chip is, as an experiment file describes it: its device, arrays, converters, wires, and how the
weights go onto it (encoding, slicing, placement, the ADCs' ranging).

:class:`ChipSpec` holds the description tree's specs themselves (:class:`crossbar.ArraySpec`,
:class:`crossbar.AdcSpec`, :class:`crossbar.DacSpec`, :class:`crossbar.WiresSpec`,
:class:`mapping.SlicingSpec`, :class:`mapping.Encoding`, the device), not copies of their fields, and builds
the chip from them (:meth:`ChipSpec.build`, the one way from a description to a :class:`mapping.Chip`, which
takes the parts themselves). How the weights go on, :attr:`ChipSpec.mapping`, is one
:class:`mapping.MappingSpec` gathered from the encoding, the slicing, the corners and the ``[adc]`` section's
ranging (``range``, ``range_by``). An experiment gives its own with
:meth:`xbar.experiment.Experiment.chip_spec`. Saved chips written before the tree stored a flat record of
25 fields; :meth:`ChipSpec.from_record` reads those too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import crossbar
from crossbar.validation import check_choice, config_from_dict, config_to_dict

from mapping.chip import Chip
from mapping.encoding import Encoding
from mapping.periphery import periphery_names, periphery_preset
from mapping.specs import MappingSpec, SlicingSpec


@dataclass(frozen=True)
class ChipSpec:
    """A chip's description (validated when built).

    Parameters
    ----------
    preset : str
        Device technology (:func:`crossbar.preset_names`); its converters are the chip's unless
        ``ideal_converters``, with the bits of ``adc`` and ``dac`` where they give them.
    device : crossbar.DeviceModel, optional
        The device (an experiment's preset with its ``[device]`` overrides); None: the preset's.
    ideal_converters : bool
        Leave out the DACs and ADCs even when the preset has them.
    periphery : str, optional
        A periphery preset (:func:`mapping.periphery_names`) whose converter energy and time the chip counts
        with; None: :class:`crossbar.EnergyCosts` defaults. Its arrays, converters and slices are set by
        :meth:`for_periphery` (or an experiment's ``hardware.periphery``), not by this field.
    array, adc, dac, wires : crossbar.ArraySpec, crossbar.AdcSpec, crossbar.DacSpec, crossbar.WiresSpec
        The arrays (size, count, read, write and device-read schemes, clocks), the column converters (bits,
        circuit, full scale and how it is set), the row drivers and the wires.
    slicing : mapping.SlicingSpec
        Weights as integers in bit slices (``weight_bits`` None: analog pairs).
    encoding : mapping.Encoding
        The weight-to-conductance encoding.
    corners : dict, optional
        Matrix name -> (array, row, col) corner; default first fit.
    """

    preset: str = "li2019"
    device: Optional[crossbar.DeviceModel] = None
    ideal_converters: bool = False
    periphery: Optional[str] = None
    array: crossbar.ArraySpec = field(default_factory=crossbar.ArraySpec)
    adc: crossbar.AdcSpec = field(default_factory=crossbar.AdcSpec)
    dac: crossbar.DacSpec = field(default_factory=crossbar.DacSpec)
    wires: crossbar.WiresSpec = field(default_factory=crossbar.WiresSpec)
    slicing: SlicingSpec = field(default_factory=SlicingSpec)
    encoding: Encoding = field(default_factory=Encoding)
    corners: Optional[Dict[str, Tuple[int, int, int]]] = None

    def __post_init__(self):
        check_choice("hardware.preset", self.preset, crossbar.preset_names())
        if self.device is not None and not isinstance(self.device, crossbar.DeviceModel):
            raise ValueError(f"device={self.device!r} is not allowed; a crossbar.DeviceModel or None")
        if not isinstance(self.ideal_converters, bool):
            raise ValueError(f"hardware.ideal_converters={self.ideal_converters!r} is not allowed; true or false")
        if self.periphery is not None:
            check_choice("hardware.periphery", self.periphery, periphery_names())
        for name, cls in (("array", crossbar.ArraySpec), ("adc", crossbar.AdcSpec), ("dac", crossbar.DacSpec),
                          ("wires", crossbar.WiresSpec), ("slicing", SlicingSpec), ("encoding", Encoding)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; a {cls.__module__.split('.')[0]}."
                                 f"{cls.__name__}")
        self._check_together()

    def _check_together(self) -> None:
        """The checks that span specs: the slicing with the ADC's ranging and the corners, the device with the
        schemes and wires, the converters the schemes and circuits need."""
        self.mapping  # validates the encoding, slicing, corners and ranging together
        device = self.device_model()
        if self.array.device_read_scheme != "grounded" and device.two_pulse is not None:
            raise ValueError(f"array.device_read_scheme={self.array.device_read_scheme!r} with device "
                             f"{device.name!r}: two-pulse cells sit behind access transistors, which "
                             "shut out the unselected cells of a device read; leave it 'grounded'")
        if self.array.write_scheme is not None and device.two_pulse is not None:
            raise ValueError(f"array.write_scheme with device {device.name!r}: two-pulse writes go through "
                             "access transistors (1T1R); leave it out")
        bend = device.iv_nonlinearity_per_volt
        wires = self.wires.resistance()
        if bend != 0.0 and (wires is not None or self.array.read_scheme == "floating"):
            path = "through wires" if wires else "through floating lines"
            raise ValueError(f"device {device.name!r} has cells that bend (iv_nonlinearity_per_volt="
                             f"{bend:g} /V) and the reads go {path}: each cell's voltage would depend on the "
                             "others, a solve per input vector; use "
                             "ideal wires and a grounded, 1t1r or v_half read scheme, or linear cells")
        dac = self.dac_design()
        if self.array.read_scheme == "v_half" and dac is None:
            raise ValueError(f"array.read_scheme='v_half' holds the unused lines at half the DAC's v_max, and this "
                             f"chip has no DAC (hardware.ideal_converters={self.ideal_converters}, preset "
                             f"{self.preset!r}); give dac.bits or choose another read scheme")
        if self.dac.bit_serial and dac is None:
            raise ValueError(f"dac.inputs='bit_serial' needs row DACs, and this chip has none "
                             f"(hardware.ideal_converters={self.ideal_converters}, preset {self.preset!r}); "
                             "give dac.bits")
        if self.adc.kind != "uniform" and self.chip_adc() is None:
            raise ValueError(f"adc.kind={self.adc.kind!r} needs column ADCs, and this chip has "
                             f"none (hardware.ideal_converters={self.ideal_converters}, preset {self.preset!r} "
                             "without ADC and no adc.bits); give adc.bits or leave the kind 'uniform'")

    # ---------------------------------------------------------------- the parts
    def device_model(self) -> crossbar.DeviceModel:
        """The device: the given one, else the preset's."""
        return self.device if self.device is not None else crossbar.preset(self.preset)

    def dac_design(self) -> Optional[crossbar.DAC]:
        """The row DAC: none with ``ideal_converters``, else the preset's with the bits, inputs and
        conversion of ``dac`` (its ``v_max`` and clipping the preset's; 0.2 V, no clipping without one)."""
        if self.ideal_converters:
            return None
        dac = crossbar.preset_peripherals(self.preset).dac
        if self.dac.bits is not None or (dac is not None and self.dac.bit_serial):
            dac = crossbar.DAC(bits=self.dac.bits if self.dac.bits is not None else dac.bits,
                               v_max=dac.v_max if dac else 0.2, clip=dac.clip if dac else False,
                               bit_serial=self.dac.bit_serial, conversion=self.dac.conversion,
                               bits_per_cycle=self.dac.bits_per_cycle)
        return dac

    def chip_adc(self) -> Optional[crossbar.AdcSpec]:
        """The column ADCs the chip has (:class:`mapping.Chip`'s ``adc``): ``adc`` with its bits, the preset's
        where it gives none; None with ``ideal_converters`` or when neither the preset nor ``adc`` has bits."""
        if self.ideal_converters:
            return None
        found = crossbar.preset_peripherals(self.preset).adc
        if self.adc.bits is not None:
            return self.adc
        return None if found is None else dataclasses.replace(self.adc, bits=found.bits)

    @property
    def mapping(self) -> MappingSpec:
        """How the weights go onto the chip: encoding, slicing, the placement's corners and the ADCs' ranging
        (``adc.range`` and ``adc.range_by``), in one spec (:class:`mapping.MappingSpec`)."""
        return MappingSpec(encoding=self.encoding, slicing=self.slicing, corners=self.corners,
                           adc_range=self.adc.range, adc_range_by=self.adc.range_by)

    def energy_costs(self) -> crossbar.EnergyCosts:
        """Per-operation costs of this chip: the periphery preset's (or the defaults) for its ADC."""
        costs = crossbar.EnergyCosts() if self.periphery is None else periphery_preset(self.periphery).costs
        adc = self.chip_adc()
        return costs if adc is None else costs.for_adc(adc.circuit(), adc.bits, self.array.cols)

    def build(self, seed=0) -> Chip:
        """An empty chip of this technology, converters, arrays and wires (arrays come as blocks need them)."""
        return Chip(self.device_model(), self.array, dac=self.dac_design(), adc=self.chip_adc(), wires=self.wires,
                    seed=seed, costs=self.energy_costs())

    @classmethod
    def for_periphery(cls, name: str, **changes) -> "ChipSpec":
        """A chip with a periphery preset's arrays, converters, slices and costs (:mod:`mapping.periphery`);
        ``changes`` set any field after them."""
        p = periphery_preset(name)
        c, d, s = p.adc_circuit, p.dac, p.slicing
        fields = dict(periphery=name, array=crossbar.ArraySpec(p.array_rows, p.array_cols),
                      dac=crossbar.DacSpec(d.bits, "bit_serial" if d.bit_serial else "parallel", d.conversion,
                                           d.bits_per_cycle),
                      adc=crossbar.AdcSpec(p.adc_bits, range_by=p.adc_range_by, kind=c.kind,
                                           capacitor_mismatch_sigma=c.capacitor_mismatch_sigma,
                                           comparator_offset_sigma_lsb=c.comparator_offset_sigma_lsb,
                                           amplifier_gain=c.amplifier_gain,
                                           columns_per_converter=c.columns_per_converter),
                      slicing=SlicingSpec(s.weight_bits, s.bits_per_slice, s.encoding))
        return cls(**{**fields, **changes})

    # ---------------------------------------------------------------- records
    def to_dict(self) -> dict:
        """Every field as JSON-ready values, a table per spec (SI units; the device in full)."""
        return config_to_dict(dataclasses.replace(self, device=self.device_model()))

    @classmethod
    def from_dict(cls, data: dict, source: str = "chip") -> "ChipSpec":
        """A chip from :meth:`to_dict`'s values, or from the flat record saved chips held before the tree
        (:meth:`from_record`); ``ValueError`` naming ``source`` otherwise."""
        if isinstance(data, dict) and "array_rows" in data:
            return cls.from_record(data, source)
        nested = {"device": crossbar.DeviceModel.from_dict,
                  "corners": lambda d, s: {str(k): tuple(int(x) for x in v) for k, v in d.items()}}
        for name, spec in (("array", crossbar.ArraySpec), ("adc", crossbar.AdcSpec), ("dac", crossbar.DacSpec),
                           ("wires", crossbar.WiresSpec), ("slicing", SlicingSpec), ("encoding", Encoding)):
            nested[name] = lambda d, s, spec=spec: config_from_dict(spec, d, s)
        return config_from_dict(cls, data, source, nested=nested)

    @classmethod
    def from_record(cls, record: dict, source: str = "chip") -> "ChipSpec":
        """A chip from the flat record of 25 fields that saved chips held before the description tree (the old
        ``HardwareConfig.to_dict()``: ``array_rows``, ``adc_bits``, ``adc_circuit``, ``dac_bit_serial``, ...)."""
        r = dict(record)
        known = {"preset", "device", "ideal_converters", "array_rows", "array_cols", "n_arrays", "corners",
                 "encoding", "adc_range", "wires", "dac_bits", "adc_bits", "adc_range_by", "adc_circuit", "slicing",
                 "dac_bit_serial", "dac_conversion", "read_scheme", "write_scheme", "dac_bits_per_cycle", "periphery",
                 "device_read_scheme", "device_read_voltage", "seconds_per_read", "seconds_per_write"}
        unknown = sorted(set(r) - known)
        if unknown:
            raise ValueError(f"{source}: key(s) {', '.join(unknown)} not known in a chip record")
        write = r.get("write_scheme") or {}
        wires = r.get("wires") or {}
        slicing = r.get("slicing") or {}
        try:
            tree = {
                "array": {"rows": r.get("array_rows", 128), "cols": r.get("array_cols", 64),
                          "count": r.get("n_arrays"), "read_scheme": r.get("read_scheme", "grounded"),
                          "write_scheme": write.get("kind"), "write_voltage": write.get("write_voltage", 2.0),
                          "switching_voltage": write.get("switching_voltage", 0.25),
                          "device_read_scheme": r.get("device_read_scheme", "grounded"),
                          "device_read_voltage": r.get("device_read_voltage", 0.2),
                          "seconds_per_read": r.get("seconds_per_read", 0.0),
                          "seconds_per_write": r.get("seconds_per_write", 0.0)},
                "adc": {"bits": r.get("adc_bits"), "range": r.get("adc_range", 6.0),
                        "range_by": r.get("adc_range_by", "outputs"), **(r.get("adc_circuit") or {})},
                "dac": {"bits": r.get("dac_bits"), "inputs": "bit_serial" if r.get("dac_bit_serial") else "parallel",
                        "conversion": r.get("dac_conversion", "per_bit"),
                        "bits_per_cycle": r.get("dac_bits_per_cycle", 1)},
                "wires": {"row_segment_ohms": wires.get("row_segment_ohms", 0.0),
                          "col_segment_ohms": wires.get("col_segment_ohms", 0.0),
                          **{k: wires[k] for k in ("solver", "tolerance", "max_iterations") if k in wires}},
                "slicing": {"weight_bits": slicing.get("weight_bits"),
                            "bits_per_slice": slicing.get("bits_per_slice", 2),
                            "encoding": slicing.get("encoding", "differential")},
            }
        except AttributeError:
            raise ValueError(f"{source}: a table is required for write_scheme, wires, adc_circuit and "
                             "slicing") from None
        tree = {k: {n: v for n, v in table.items() if v is not None} for k, table in tree.items()}
        for name in ("preset", "device", "ideal_converters", "periphery", "encoding", "corners"):
            if r.get(name) is not None:
                tree[name] = r[name]
        return cls.from_dict(tree, source)
