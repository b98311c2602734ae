"""What a read plan is made of and how its reads are laid out for the kernels: :class:`Drive` and
:class:`Read` (one physical read of one array), the check of a read, the bands (reads of the same logical
inputs) and the kernel's tables (:class:`crossbar.read.kernels.ReadArrays`) built from them.

Conductances in siemens, voltages in volts, currents in amperes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from crossbar.circuits.conversion import float32_is_enough
from crossbar.read.chunks import _chunks
from crossbar.read.kernels import ReadArrays
from crossbar.read.state import ReadableArray
from crossbar.validation import check_int

LARGEST_DRIVE = float(np.finfo(np.float64).max)
"""The drive limit of a read without a refusing DAC: every finite voltage passes, infinities do not."""


@dataclass(frozen=True)
class Drive:
    """A run of rows of one array driven by consecutive logical inputs.

    Attributes
    ----------
    rows : (int, int)
        First and end physical row (half-open).
    first_input : int
        Logical input that drives ``rows[0]``; row ``rows[0] + i`` is driven by input ``first_input + i``.
    sign : int
        ``+1``: driven at ``+V``; ``-1``: at ``-V`` (the minus half of a row pair).
    """

    rows: Tuple[int, int]
    first_input: int
    sign: int = 1

    def __post_init__(self):
        r0, r1 = (int(v) for v in self.rows)
        if not 0 <= r0 < r1:
            raise ValueError(f"drive rows={self.rows!r}: a non-empty range (first, end) of rows is required")
        object.__setattr__(self, "rows", (r0, r1))
        check_int("drive first_input", self.first_input, 0)
        if self.sign not in (1, -1):
            raise ValueError(f"drive sign={self.sign!r} is not allowed; +1 or -1")


@dataclass(frozen=True)
class Read:
    """One physical read of one array: its driven rows, its sensed columns and where each column goes.

    Attributes
    ----------
    array : CrossbarArray
    drives : tuple of Drive
        The driven rows; rows not in a drive are held at 0 V. All drives of a
        read cover the same logical inputs' range between them (a band).
    cols : (int, int)
        First and end sensed column (half-open).
    outputs : tuple of (int, float)
        For each sensed column, the output it adds into and its digital weight:
        the sign (+1 or -1: a pair's minus column), or any other finite
        nonzero factor (the shift of a weight slice, ``+-2**(bits * s)``).
    """

    array: "ReadableArray"
    drives: Tuple[Drive, ...]
    cols: Tuple[int, int]
    outputs: Tuple[Tuple[int, int], ...]

    @property
    def inputs(self) -> Tuple[int, int]:
        """The logical inputs the read's drives cover, (first, end)."""
        return (min(d.first_input for d in self.drives),
                max(d.first_input + d.rows[1] - d.rows[0] for d in self.drives))


def check_read(k: int, r: Read, n_outputs: int) -> None:
    """Refuse a read that is not one (``ValueError`` naming read ``k`` and what is wrong)."""
    a = r.array
    if not isinstance(a, ReadableArray):
        raise ValueError(f"read {k}: array={a!r} is not a crossbar.CrossbarArray")
    if not r.drives or not all(isinstance(d, Drive) for d in r.drives):
        raise ValueError(f"read {k}: drives must be a non-empty tuple of crossbar.Drive")
    c0, c1 = (int(v) for v in r.cols)
    if not 0 <= c0 < c1 <= a.cols:
        raise ValueError(f"read {k}: cols={r.cols!r} is not a non-empty range of the array's {a.cols} columns")
    taken = np.zeros(a.rows, dtype=bool)
    inputs = set()
    for d in r.drives:
        if d.rows[1] > a.rows:
            raise ValueError(f"read {k}: drive rows {d.rows} beyond the array's {a.rows} rows")
        if taken[d.rows[0]:d.rows[1]].any():
            raise ValueError(f"read {k}: two drives share a row")
        taken[d.rows[0]:d.rows[1]] = True
        inputs.update(range(d.first_input, d.first_input + d.rows[1] - d.rows[0]))
    first, end = r.inputs
    if inputs != set(range(first, end)):
        raise ValueError(f"read {k}: its drives leave gaps in the logical inputs {first}..{end}")
    if len(r.outputs) != c1 - c0:
        raise ValueError(f"read {k}: {len(r.outputs)} outputs given for {c1 - c0} columns")
    for o, s in r.outputs:
        if (not 0 <= int(o) < n_outputs or isinstance(s, bool) or not isinstance(s, (int, float, np.number))
                or not np.isfinite(s) or s == 0):
            raise ValueError(f"read {k}: output ({o!r}, {s!r}) is not (0..{n_outputs - 1}, a finite "
                             "nonzero weight such as +1 or -1)")


def lay_out(plan, reads, arrays) -> dict:
    """The bands (the reads of the same logical inputs, by their first input; reads keep their order
    within) and where each read's columns go: the lists :func:`kernel_tables` turns into arrays. Sets
    the plan's ``reads`` (band-major) and ``n_logical``."""
    bands = {}
    for r in reads:
        bands.setdefault(r.inputs, []).append(r)
    starts = sorted(bands)
    for (a0, a1), (b0, b1) in zip(starts[:-1], starts[1:]):
        if b0 < a1:
            raise ValueError(f"reads cover overlapping logical inputs {a0}..{a1} and {b0}..{b1} without being "
                             "the same band; reads of one band cover the same inputs")
    # each array's converters when they are circuits, numbered array after array in the plan
    circuit = plan.adc is not None and not plan.adc.circuit.is_uniform
    banks, converter_base, base = {}, {}, 0
    if circuit:
        for a in arrays:
            banks[id(a)] = a.converters(plan.adc)
            converter_base[id(a)] = base
            base += banks[id(a)].n_converters
    out = {"circuit": circuit, "banks": banks, "column_converter": [], "band_starts": [], "band_widths": [],
           "band_runs": [0], "band_offsets": [0], "band_columns": [0], "runs": [], "run_output": [],
           "column_output": [], "column_sign": []}
    plan.reads: List[Read] = []
    for first, end in starts:
        p = 0
        for r in bands[(first, end)]:
            c0, c1 = r.cols
            out["runs"].append((len(out["band_starts"]), p, p + c1 - c0, c0))
            outputs = [o for o, _ in r.outputs]
            signs = [s for _, s in r.outputs]
            consecutive = (all(s == 1 for s in signs)
                           and outputs == list(range(outputs[0], outputs[0] + len(outputs))))
            out["run_output"].append(outputs[0] if consecutive else -1)
            out["column_output"] += outputs
            out["column_sign"] += signs
            if circuit:
                out["column_converter"] += (converter_base[id(r.array)]
                                            + banks[id(r.array)].column_converter[c0:c1]).tolist()
            p += c1 - c0
            plan.reads.append(r)
        out["band_starts"].append(first)
        out["band_widths"].append(p)
        out["band_runs"].append(len(out["runs"]))
        out["band_offsets"].append(out["band_offsets"][-1] + (end - first) * p)
        out["band_columns"].append(out["band_columns"][-1] + p)
    if out["band_starts"][0] != 0 or any(e != s for (_, e), (s, _) in zip(starts[:-1], starts[1:])):
        raise ValueError(f"the reads' logical inputs {starts} do not cover 0..{starts[-1][1]} without gaps")
    plan.n_logical = starts[-1][1]
    if plan.n_inputs > plan.n_logical:
        raise ValueError(f"n_inputs={plan.n_inputs} is more than the {plan.n_logical} logical inputs the "
                         "reads drive")
    out["band_starts"].append(plan.n_logical)
    return out


def kernel_tables(plan, layout: dict, arrays) -> ReadArrays:
    """The kernel's tables from :func:`lay_out`'s lists: the bands' storage (float32 only where its
    rounding hides under the read noise, see :func:`crossbar.circuits.conversion.float32_is_enough`; a floor or a
    table of the noise against G may leave some devices with little of it: float64), the settings and
    the converters."""
    dac, adc, device = plan.dac, plan.adc, plan.device
    noise = device.has_read_noise
    tallest = max(a.rows for a in arrays)
    dtype = (np.float32 if noise and device.read_noise_is_relative
             and float32_is_enough(device.read_noise_sigma_relative, tallest) else np.float64)
    size, circuit, banks = layout["band_offsets"][-1], layout["circuit"], layout["banks"]
    band_starts, band_widths = layout["band_starts"], layout["band_widths"]
    columns = layout["band_columns"][-1]
    ints = {name: np.array(layout[name], dtype=np.int64) for name in (
        "band_starts", "band_widths", "band_offsets", "band_runs", "run_output", "column_output",
        "band_columns", "column_converter")}
    return ReadArrays(
        signal=np.empty(size, dtype=dtype), variance=np.empty(size, dtype=np.float32),
        signal_rows=np.empty(size, dtype=dtype), variance_rows=np.empty(size, dtype=np.float32),
        runs=np.array(layout["runs"], dtype=np.int64).reshape(-1, 4),
        column_sign=np.array(layout["column_sign"], dtype=np.float64),
        chunks=_chunks(band_widths, layout["column_output"], layout["column_sign"], layout["band_columns"],
                       int(np.sum(np.diff(band_starts) * np.array(band_widths)))),
        n_out=plan.n_outputs, n_inputs=plan.n_inputs, constant_input=float(plan.constant_input),
        volts_per_input=float(plan.volts_per_input),
        dac_step=0.0 if dac is None else float(dac.step), dac_top=0.0 if dac is None else float(dac.max_code),
        v_limit=float(dac.v_max + 0.5 * dac.step) if (dac is not None and not dac.clip) else LARGEST_DRIVE,
        adc_step=0.0 if adc is None else float(adc.step), adc_top=0.0 if adc is None else float(adc.max_code),
        noise=noise, output_unit=1.0 if plan.output_units is not None else float(plan.output_unit),
        output_units=np.ones(plan.n_outputs) if plan.output_units is None else plan.output_units,
        per_output_unit=plan.output_units is not None, adc_circuit=circuit,
        converter_weights=(np.concatenate([banks[id(a)].weights for a in arrays]) if circuit
                           else np.ones((0, 1))),
        converter_offsets=(np.concatenate([banks[id(a)].offsets_lsb for a in arrays]) if circuit
                           else np.zeros(0)),
        adc_gain=adc.circuit.gain_factor if adc is not None else 1.0,
        input_planes=dac.cycles if dac is not None and dac.bit_serial else 0,
        input_cycle_bits=1 if dac is None else dac.bits_per_cycle,
        input_accumulate=dac is not None and dac.bit_serial and dac.conversion == "accumulate",
        input_sum_weights=(np.zeros(plan.n_outputs) if plan.input_sum_weights is None
                           else plan.input_sum_weights),
        input_sum=plan.input_sum_weights is not None, cell_nonlinearity=float(device.iv_nonlinearity_per_volt),
        cycle_gain=plan.extensions.cycle_gain(dac),
        bias=any(a.peripherals.read_scheme == "v_half" for a in arrays),
        column_bias=np.zeros(columns), column_bias_variance=np.zeros(columns, dtype=np.float32),
        output_bias=np.zeros(plan.n_outputs), **ints)
