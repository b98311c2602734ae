"""The read engine: one compiled read of regions of arrays, owned by the physical layer.

A :class:`ReadPlan` is built from :class:`Read` s. A read is one physical read of
one array: some of its rows are driven by logical inputs (each run of rows a
:class:`Drive`, with its sign: a row pair driven at ``+V`` and ``-V`` is two
drives), a range of its columns is sensed, each column converted by the ADC,
and each converted current added, with a sign, into an output (the digital
combine that a layer above defines: row tiles of a matrix add up, a column
pair is plus minus minus). :meth:`CrossbarArray.mvm` is a plan of one read of
the whole array.

The plan owns everything a read needs and nothing above it does:

- the conductance snapshot (the true conductances, or the effective ones of
  a linear wire network, see :func:`crossbar.circuits.wires.effective_conductance`) and
  the arrays' versions it was taken at; :meth:`ReadPlan.refresh` takes the
  new values in place after a write;
- the noise seeds: each array's generator gives one 64-bit word per read it
  holds and per call, in read order (:meth:`ReadPlan.draw_seeds`), and each
  batch row of a read draws its normals from its own stream at the array's
  physical column numbers;
- DAC, products, read noise, ADC and the digital combine, in one Numba kernel
  (:func:`crossbar.read.kernels.read_product`) with a numpy twin
  (:func:`crossbar.read.kernels.read_product_reference`) that gives the same
  bits;
- counting: every array's products, input vectors, DAC and ADC conversions,
  ADC saturations and the cells' read energy (``read_time sum_i V_i^2 sum_j
  G_ij``: a driven row dissipates in every cell it touches), held on the plan
  and written onto the arrays' counters when they are next read (the same
  counts, the energy to the bit, as writing them at every call);
- the ideal read (:meth:`ReadPlan.ideal_read`): each read's column currents
  as its converters take them in, without read noise, for the calibration
  of an ADC's range (the DAC, the cells' I-V, wires and held lines of the
  read itself);
- sessions (:meth:`ReadPlan.session`, :class:`ReadSession`): consecutive
  reads made by a caller's compiled loop (a network layer's whole sequence)
  through :func:`crossbar.read.kernels.session_read`, counted as
  :meth:`ReadPlan.read` counts (which is a session of one call).

Conductances in siemens, voltages in volts, currents in amperes, inputs and
outputs in the units the plan is given (``volts_per_input``, ``output_unit``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numba
import numpy as np

from crossbar.circuits.conversion import dac_reference, float32_is_enough
from crossbar.circuits.device_reads import cell_current_per_siemens
from crossbar.circuits.energy import OperationCounts
from crossbar.circuits.peripherals import ADC, DAC
from crossbar.numerics.random_streams import draw_words, word_sources
from crossbar.read import state as _state
from crossbar.read.kernels import (PARALLEL_WORK, CompiledReads, ReadArrays, fill_read_values, product_buffers,
                                   read_product, read_product_reference)
from crossbar.read.state import ReadableArray
from crossbar.validation import as_float_array, check_int, check_range


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


CHUNK_COLUMNS = 24
"""Fewest columns a parallel chunk of a read takes (a multiple of the AVX2 and AVX-512 blocks' rows)."""
CHUNKS = 64
"""Chunks a read is cut into at most; the numbers do not depend on the count."""
CHUNKS_PER_THREAD = 4
"""Chunks a read is cut into for each thread of Numba's pool (``NUMBA_NUM_THREADS``, the cores by
default): enough to even out the threads, few enough that a chunk's fixed costs (its views of every band,
the starts of its noise streams) stay small beside its products."""
CHUNK_WORK = PARALLEL_WORK
"""Multiply-adds of one input vector (both products) below which a read stays one chunk: it would run its
chunks on one thread anyway, and each chunk costs a start of its noise streams."""

_LARGEST = float(np.finfo(np.float64).max)
"""The drive limit of a read without a refusing DAC: every finite voltage passes, infinities do not."""


def chunk_count() -> int:
    """Chunks a large read is cut into on this machine (:data:`CHUNKS_PER_THREAD` a thread, at most
    :data:`CHUNKS`)."""
    return max(1, min(CHUNKS, CHUNKS_PER_THREAD * numba.config.NUMBA_NUM_THREADS))


def _chunks(band_widths, column_output, column_sign, band_columns, multiply_adds) -> np.ndarray:
    """Column ranges a read can be computed in, in parallel: cut only where no output spans the cut.

    A chunk takes every band, so the bands must map their columns alike (as the
    row tiles of a matrix do); otherwise the read is one chunk, as is a read of
    less than :data:`CHUNK_WORK` multiply-adds a vector.
    """
    width = max(band_widths)
    if 2 * multiply_adds < CHUNK_WORK:
        return np.array([0, width], dtype=np.int64)
    outputs = [tuple(column_output[band_columns[a]:band_columns[a + 1]]) for a in range(len(band_widths))]
    signs = [tuple(column_sign[band_columns[a]:band_columns[a + 1]]) for a in range(len(band_widths))]
    if len(set(band_widths)) != 1 or len(set(outputs)) != 1 or len(set(signs)) != 1:
        return np.array([0, width], dtype=np.int64)
    mapping = outputs[0]
    # a column may start a chunk where no output of the columns before it comes again
    last_use = {}
    for p, o in enumerate(mapping):
        last_use[o] = p
    allowed, reach = [], 0
    for p in range(1, width):
        reach = max(reach, last_use[mapping[p - 1]])
        if reach < p:
            allowed.append(p)
    size = max(CHUNK_COLUMNS, -(-width // chunk_count()))
    cuts, last = [0], 0
    for p in allowed:
        if p - last >= size and width - p >= size // 2:
            cuts.append(p)
            last = p
    return np.array(cuts + [width], dtype=np.int64)


class ReadPlan:
    """A compiled read of several :class:`Read` s (see the module text).

    Parameters
    ----------
    reads : sequence of Read
        Reads of the same logical inputs form a band (one product); the
        digital sums run in band order (bands by their first input), then
        read order.
    n_inputs : int
        Logical inputs taken from ``x``; inputs from here to the end of the
        last band are held at ``constant_input`` (bias rows).
    n_outputs : int
    volts_per_input : float
        Volts of an input of 1 (``> 0``).
    constant_input : float
        Dimensionless drive of the constant inputs.
    output_unit : float
        Amperes of an output of 1 (``> 0``): outputs are the combined currents over it.
    dac : DAC, optional
        Row drivers; ``None`` for ideal sources.
    adc : ADC, optional
        Column converters; ``None`` for ideal sensing.
    input_sum_weights : array_like, shape (n_outputs,), optional
        Output units per volt of ``sum_i V_i`` (every logical input's drive
        after the DAC, constant ones included) that the digital side takes
        off each output: the offset of an offset-encoded weight.
    """

    def __init__(self, reads: Sequence[Read], n_inputs: int, n_outputs: int, volts_per_input: float = 1.0,
                 constant_input: float = 1.0, output_unit: float = 1.0, dac: Optional[DAC] = None,
                 adc: Optional[ADC] = None, input_sum_weights=None):
        if not reads:
            raise ValueError("reads is empty: a plan needs at least one read")
        self._take_settings(n_inputs, n_outputs, volts_per_input, constant_input, output_unit, dac, adc,
                            input_sum_weights)
        arrays = self._take_arrays(reads)
        layout = self._lay_out(reads, arrays)
        self.arrays = self._kernel_tables(layout, arrays)
        """The kernel's tables (:class:`crossbar.read.kernels.ReadArrays`): the plan's own, for this package
        and its kernels; a caller's compiled loop gets them through :meth:`session`."""
        self._plan_seeds(arrays)
        self._plan_fills()
        self._plan_counting(arrays)
        self.versions: Tuple[int, ...] = ()
        self.refresh()

    def _take_settings(self, n_inputs, n_outputs, volts_per_input, constant_input, output_unit, dac, adc,
                       input_sum_weights) -> None:
        """Validate and keep the plan's scalar settings and converters (see the class text)."""
        self.n_inputs = check_int("n_inputs", n_inputs, 0)
        self.n_outputs = check_int("n_outputs", n_outputs, 1)
        self.volts_per_input = check_range("volts_per_input", volts_per_input, 0.0, low_open=True, unit="V")
        self.constant_input = check_range("constant_input", constant_input)
        self.output_unit = check_range("output_unit", output_unit, 0.0, low_open=True, unit="A")
        if dac is not None and not isinstance(dac, DAC):
            raise ValueError(f"dac={dac!r} is not allowed; a crossbar.DAC or None")
        if adc is not None and not isinstance(adc, ADC):
            raise ValueError(f"adc={adc!r} is not allowed; a crossbar.ADC or None")
        self.dac, self.adc = dac, adc
        if input_sum_weights is not None:
            input_sum_weights = as_float_array("input_sum_weights", input_sum_weights, shape=(self.n_outputs,))
        self.input_sum_weights = input_sum_weights
        self.cycles = 1 if dac is None else dac.cycles
        """Read cycles of one input vector (bit-serial DACs take one per ``bits_per_cycle`` magnitude bits)."""
        self.conversions = 1 if dac is None or dac.conversion == "accumulate" else dac.cycles
        """ADC conversions of each sensed column per input vector."""

    def _take_arrays(self, reads) -> list:
        """Check every read; return the reads' arrays, each once, in order of first use (by id: a test of
        every array against every other is quadratic in thousands). Sets the device and refuses what its
        cells cannot read."""
        arrays: List[object] = []
        seen = set()
        for k, r in enumerate(reads):
            self._check_read(k, r)
            if id(r.array) not in seen:
                seen.add(id(r.array))
                arrays.append(r.array)
        self.source_arrays = arrays
        devices = {id(a.device): a.device for a in arrays}
        if len(devices) != 1:
            raise ValueError("the reads' arrays have different device models; a plan reads one technology")
        self.device = arrays[0].device
        if self.device.iv_nonlinearity_per_volt != 0.0:
            self._check_nonlinear_cells(arrays, self.input_sum_weights)
        return arrays

    def _lay_out(self, reads, arrays) -> dict:
        """The bands (the reads of the same logical inputs, by their first input; reads keep their order
        within) and where each read's columns go: the lists :meth:`_kernel_tables` turns into arrays. Sets
        :attr:`reads` (band-major) and :attr:`n_logical`."""
        bands = {}
        for r in reads:
            bands.setdefault(r.inputs, []).append(r)
        starts = sorted(bands)
        for (a0, a1), (b0, b1) in zip(starts[:-1], starts[1:]):
            if b0 < a1:
                raise ValueError(f"reads cover overlapping logical inputs {a0}..{a1} and {b0}..{b1} without being "
                                 "the same band; reads of one band cover the same inputs")
        # each array's converters when they are circuits, numbered array after array in the plan
        circuit = self.adc is not None and not self.adc.circuit.is_uniform
        banks, converter_base, base = {}, {}, 0
        if circuit:
            for a in arrays:
                banks[id(a)] = a.converters(self.adc)
                converter_base[id(a)] = base
                base += banks[id(a)].n_converters
        out = {"circuit": circuit, "banks": banks, "column_converter": [], "band_starts": [], "band_widths": [],
               "band_runs": [0], "band_offsets": [0], "band_columns": [0], "runs": [], "run_output": [],
               "column_output": [], "column_sign": []}
        self.reads: List[Read] = []
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
                self.reads.append(r)
            out["band_starts"].append(first)
            out["band_widths"].append(p)
            out["band_runs"].append(len(out["runs"]))
            out["band_offsets"].append(out["band_offsets"][-1] + (end - first) * p)
            out["band_columns"].append(out["band_columns"][-1] + p)
        if out["band_starts"][0] != 0 or any(e != s for (_, e), (s, _) in zip(starts[:-1], starts[1:])):
            raise ValueError(f"the reads' logical inputs {starts} do not cover 0..{starts[-1][1]} without gaps")
        self.n_logical = starts[-1][1]
        if self.n_inputs > self.n_logical:
            raise ValueError(f"n_inputs={self.n_inputs} is more than the {self.n_logical} logical inputs the "
                             "reads drive")
        out["band_starts"].append(self.n_logical)
        return out

    def _kernel_tables(self, layout: dict, arrays) -> ReadArrays:
        """The kernel's tables from :meth:`_lay_out`'s lists: the bands' storage (float32 only where its
        rounding hides under the read noise, see :func:`crossbar.circuits.conversion.float32_is_enough`; a floor or a
        table of the noise against G may leave some devices with little of it: float64), the settings and
        the converters."""
        dac, adc, device = self.dac, self.adc, self.device
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
            n_out=self.n_outputs, n_inputs=self.n_inputs, constant_input=float(self.constant_input),
            volts_per_input=float(self.volts_per_input),
            dac_step=0.0 if dac is None else float(dac.step), dac_top=0.0 if dac is None else float(dac.max_code),
            v_limit=float(dac.v_max + 0.5 * dac.step) if (dac is not None and not dac.clip) else _LARGEST,
            adc_step=0.0 if adc is None else float(adc.step), adc_top=0.0 if adc is None else float(adc.max_code),
            noise=noise, output_unit=float(self.output_unit), adc_circuit=circuit,
            converter_weights=(np.concatenate([banks[id(a)].weights for a in arrays]) if circuit
                               else np.ones((0, 1))),
            converter_offsets=(np.concatenate([banks[id(a)].offsets_lsb for a in arrays]) if circuit
                               else np.zeros(0)),
            adc_gain=adc.circuit.gain_factor if adc is not None else 1.0,
            input_planes=dac.cycles if dac is not None and dac.bit_serial else 0,
            input_cycle_bits=1 if dac is None else dac.bits_per_cycle,
            input_accumulate=dac is not None and dac.bit_serial and dac.conversion == "accumulate",
            input_sum_weights=(np.zeros(self.n_outputs) if self.input_sum_weights is None
                               else self.input_sum_weights),
            input_sum=self.input_sum_weights is not None, cell_nonlinearity=float(device.iv_nonlinearity_per_volt),
            cycle_gain=self._cycle_gain(dac),
            bias=any(a.peripherals.read_scheme == "v_half" for a in arrays),
            column_bias=np.zeros(columns), column_bias_variance=np.zeros(columns, dtype=np.float32),
            output_bias=np.zeros(self.n_outputs), **ints)

    def _plan_seeds(self, arrays) -> None:
        """Each array's reads in read order, for :meth:`draw_seeds`."""
        groups = {id(a): [] for a in arrays}
        for k, r in enumerate(self.reads):
            groups[id(r.array)].append(k)
        self._seed_groups = [(a, groups[id(a)]) for a in arrays]
        self._seed_counts = np.array([len(mine) for _, mine in self._seed_groups], dtype=np.int64)
        self._seed_gathers = {}  # calls -> where each array's block of words goes in (calls, n_reads)

    def _plan_fills(self) -> None:
        """What :meth:`refresh` fills each read's band from: its drives, and the four views of its band the
        fill writes (views stay valid)."""
        self._drives = [(np.array([d.rows for d in r.drives], dtype=np.int64).reshape(-1, 2),
                         np.array([d.first_input for d in r.drives], dtype=np.int64),
                         np.array([float(d.sign) for d in r.drives])) for r in self.reads]
        self._drive_runs = [[(d.rows[0], d.rows[1], d.first_input) for d in r.drives] for r in self.reads]
        pa = self.arrays
        self._fill_views = []
        for k in range(self.n_reads):
            band, p0 = int(pa.runs[k, 0]), int(pa.runs[k, 1])
            rows, width = int(pa.band_starts[band + 1] - pa.band_starts[band]), int(pa.band_widths[band])
            start, stop = pa.band_offsets[band], pa.band_offsets[band + 1]
            self._fill_views.append((int(pa.band_starts[band]), p0, (
                pa.signal[start:stop].reshape(width, rows), pa.variance[start:stop].reshape(width, rows),
                pa.signal_rows[start:stop], pa.variance_rows[start:stop], pa.chunks)))
        self._scratch = np.empty(2 * max((r.inputs[1] - r.inputs[0]) * (r.cols[1] - r.cols[0]) for r in self.reads))

    def _plan_counting(self, arrays) -> None:
        """Each read's share of a call's counts, and each array's (as an index into :attr:`source_arrays`)."""
        self._driven = [sum(d.rows[1] - d.rows[0] for d in r.drives) for r in self.reads]
        self._columns = [r.cols[1] - r.cols[0] for r in self.reads]
        self._read_times = np.array([r.array.costs.read_time for r in self.reads])  # s
        position = {id(a): i for i, a in enumerate(arrays)}
        self._read_array = np.array([position[id(r.array)] for r in self.reads], dtype=np.int64)
        self._array_reads = np.bincount(self._read_array, minlength=len(arrays)).tolist()
        self._array_driven = np.bincount(self._read_array, weights=self._driven, minlength=len(arrays)
                                         ).astype(np.int64).tolist()
        self._array_columns = np.bincount(self._read_array, weights=self._columns, minlength=len(arrays)
                                          ).astype(np.int64).tolist()
        self._pending = None
        self._clocked = [a for a in arrays if a.peripherals.seconds_per_read > 0.0]
        self._multiply_adds = int(np.sum(np.diff(self.arrays.band_starts) * self.arrays.band_widths))

    def _check_read(self, k: int, r: Read) -> None:
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
            if (not 0 <= int(o) < self.n_outputs or isinstance(s, bool) or not isinstance(s, (int, float, np.number))
                    or not np.isfinite(s) or s == 0):
                raise ValueError(f"read {k}: output ({o!r}, {s!r}) is not (0..{self.n_outputs - 1}, a finite "
                                 "nonzero weight such as +1 or -1)")

    # ------------------------------------------------------------ snapshot
    def refresh(self) -> None:
        """Take the conductances the arrays hold now (in place; the layout and the converters stay)."""
        sigma = self.device.read_noise_sigma_relative
        width = max(end - first for first, end in (r.inputs for r in self.reads))
        # each read's logical inputs (padded with n_logical, where the power is 0) and their conductance, S
        index = np.full((self.n_reads, width), self.n_logical, dtype=np.int64)
        conductance = np.zeros((self.n_reads, width))
        # arrays with wires solve their effective conductances first, several at a time (LAPACK releases
        # the GIL; each array's solve is its own, so the numbers do not depend on the threads)
        unsolved = [a for a in self.source_arrays if a.peripherals.wires is not None and a._effective is None
                    and a.peripherals.read_scheme in ("grounded", "v_half")]
        threads = min(len(unsolved), numba.get_num_threads())
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="xbar-wires") as pool:
                list(pool.map(lambda a: a._signal_conductance(), unsolved))
        if self.arrays.bias:  # the held lines' shares are summed read by read below
            self.arrays.output_bias[:] = 0.0
            self._bias_power = np.zeros(self.n_reads)
        sigma_of_g = {}
        for k, (r, (drive_rows, drive_inputs, drive_signs), (band_start, p0, views), runs) in enumerate(zip(
                self.reads, self._drives, self._fill_views, self._drive_runs)):
            signal = self._read_signal(r, drive_rows)
            if self.arrays.bias:
                self._fill_bias(k, r, drive_rows)
            if self.device.read_noise_is_relative:
                noise_conductance, noise_scale = r.array._conductance, sigma
            else:  # the kernel draws noise_scale * g: give it each device's sigma(G) itself, siemens
                if id(r.array) not in sigma_of_g:  # once an array, however many reads it has
                    sigma_of_g[id(r.array)] = self.device.read_noise_sigma_at(r.array._conductance)
                noise_conductance, noise_scale = sigma_of_g[id(r.array)], 1.0
            fill_read_values(signal, noise_conductance, r.cols[0], r.cols[1],
                             drive_rows, drive_inputs, drive_signs, band_start, noise_scale, p0, *views,
                             self._scratch)
            # S of each logical input's rows, summed over all the array's columns (they all dissipate)
            per_row = r.array._row_conductance
            first_input, end_input = r.inputs
            index[k, :end_input - first_input] = np.arange(first_input, end_input)
            for d0, d1, first in runs:
                conductance[k, first - first_input:first - first_input + d1 - d0] += per_row[d0:d1]
        self._energy_index, self._energy_conductance = index, conductance
        # the generators' words in one compiled call (kept alive here: the call reads their states)
        self._seed_bit_generators = [a.rng.bit_generator for a, _ in self._seed_groups]
        self._seed_sources = word_sources(self._seed_bit_generators)
        self._generators_seen = _state.changes()
        self.versions = self._versions()
        self._changes_seen = _state.changes()

    @staticmethod
    def _read_signal(read: Read, drive_rows) -> np.ndarray:
        """The conductances, S, shape (array rows, array columns), whose product with the drives gives
        ``read``'s column currents (its array's :meth:`crossbar.CrossbarArray.read_effective_conductance`;
        for ``grounded`` and ``v_half`` reads the array's own buffer, not a read-only view: the plan only
        reads it, and is of this package)."""
        array = read.array
        if array.peripherals.read_scheme in ("grounded", "v_half"):
            return array._signal_conductance()
        return array.read_effective_conductance(drive_rows, read.cols)

    def _fill_bias(self, k: int, read: Read, drive_rows) -> None:
        """Read ``k``'s held-line currents into the plan (its columns, their outputs' digital share) and the
        power the held lines give its cells (V_b times their current, W)."""
        pa = self.arrays
        current, variance = read.array.read_bias_current(drive_rows, read.cols)
        band, p0, p1 = int(pa.runs[k, 0]), int(pa.runs[k, 1]), int(pa.runs[k, 2])
        columns = pa.band_columns[band] + np.arange(p0, p1)
        pa.column_bias[columns] = current
        pa.column_bias_variance[columns] = variance.astype(np.float32)
        np.add.at(pa.output_bias, pa.column_output[columns], pa.column_sign[columns] * current)
        if read.array.peripherals.read_scheme == "v_half":
            self._bias_power[k] = read.array.peripherals.dac.v_max / 2.0 * float(np.sum(current))

    def _cycle_gain(self, dac) -> float:
        """The one gain 1-bit drives see on nonlinear cells, ``sinh(k v_max) / (k v_max)``: their two levels
        bend to 0 and ``sinh(k v_max) / k``, so the digital side divides it out after the ADC. 1 otherwise
        (multi-level drives bend each level differently: nothing single to divide)."""
        k = self.device.iv_nonlinearity_per_volt
        if k == 0.0 or dac is None or not dac.bit_serial or dac.bits_per_cycle != 1:
            return 1.0
        return float(np.sinh(k * dac.v_max) / (k * dac.v_max))

    def _check_nonlinear_cells(self, arrays, input_sum_weights) -> None:
        """Refuse what a read of cells with a nonlinear I-V cannot do without a solve per input vector."""
        k = self.device.iv_nonlinearity_per_volt
        for a in arrays:
            if a.peripherals.wires is not None or a.peripherals.read_scheme == "floating":
                raise ValueError(
                    f"device {self.device.name!r} has nonlinear cells (iv_nonlinearity_per_volt={k:g} /V), read "
                    f"{'with wire resistance' if a.peripherals.wires is not None else 'through floating lines'}: "
                    "each cell's voltage then depends on the others, which needs a solve per input vector "
                    "(crossbar.solve_passive with a SinhCell, one array at a time); read grounded or 1T1R "
                    "without wires, or give linear cells")
        if input_sum_weights is not None:
            raise ValueError(f"device {self.device.name!r} has nonlinear cells (iv_nonlinearity_per_volt={k:g} /V) "
                             "and the plan takes off a share of the input sum (offset slices): that correction "
                             "is linear in the drives; use differential slices or linear cells")

    @property
    def varies_between_reads(self) -> bool:
        """Whether an array's conductances move from one call to the next (its clock advances at every read
        and drift or read noise with memory follow it, :attr:`crossbar.CrossbarArray.varies_between_reads`):
        then reads of several steps must be made one call a step, each after the plan is refreshed."""
        return any(a.varies_between_reads for a in self._clocked)

    def _versions(self) -> Tuple[int, ...]:
        return tuple(a.version for a in self.source_arrays)

    def is_current(self) -> bool:
        """Whether the arrays are as they were when the plan last took their conductances."""
        changes = _state.changes()
        if changes == self._changes_seen:  # no array of the process has changed since: no need to ask each
            return True
        current = self._versions() == self.versions
        if current:
            self._changes_seen = changes
        return current

    def current(self) -> "ReadPlan":
        """This plan, refreshed first if an array changed since (a cheap check)."""
        if not self.is_current():
            self.refresh()
        return self

    # -------------------------------------------------------------- reads
    @property
    def n_reads(self) -> int:
        return len(self.reads)

    def draw_seeds(self, calls: int) -> np.ndarray:
        """Noise seeds of ``calls`` consecutive reads of the plan, shape (calls, n_reads), uint64.

        Seed ``[c, k]`` is the word read ``k``'s array gives for call ``c``:
        each array's generator yields, in order, one word per call and per
        read it holds, so a plan of many reads and the same reads planned one
        by one draw the same words.
        """
        n = self.n_reads
        if not self.arrays.noise:
            return np.zeros((calls, n), dtype=np.uint64)
        if len(self._seed_groups) == 1:
            return self._seed_groups[0][0].rng.bit_generator.random_raw(calls * n).reshape(calls, n)
        # each array's words in one block (call after call), then one gather
        gather = self._seed_gathers.get(calls)
        if gather is None:
            gather = np.empty((calls, n), dtype=np.int64)
            start = 0
            for _, mine in self._seed_groups:
                gather[:, mine] = start + np.arange(calls * len(mine)).reshape(calls, len(mine))
                start += calls * len(mine)
            gather = self._seed_gathers.setdefault(calls, gather)
        if self._seed_sources is not None and self._same_generators():
            words = np.empty(calls * n, dtype=np.uint64)
            draw_words(*self._seed_sources, calls * self._seed_counts, words)
        else:  # a generator other than PCG64, or one replaced since the plan took them
            words = np.concatenate([a.rng.bit_generator.random_raw(calls * len(mine))
                                    for a, mine in self._seed_groups])
        return words[gather]

    def _same_generators(self) -> bool:
        """Whether the arrays still hold the generators the plan took (asked of each only after a change)."""
        changes = _state.changes()
        if changes == self._generators_seen:
            return True
        same = all(a.rng.bit_generator is g for (a, _), g in zip(self._seed_groups, self._seed_bit_generators))
        if same:
            self._generators_seen = changes
        return same

    def buffers(self, batch: int) -> tuple:
        """Scratch of the kernel for ``batch`` input vectors."""
        return product_buffers(self.arrays, batch)

    def read(self, x: np.ndarray, reference: bool = False, counts: Optional[OperationCounts] = None) -> np.ndarray:
        """One read of every read of the plan for inputs ``x`` (batch, >= n_inputs); counted on the arrays.

        ``reference`` runs the numpy twin instead of the kernel: the same
        numbers, the same generator draws and the same counts. ``counts``, if
        given, also receives this call's work (a layer above's own tally).

        Returns
        -------
        ndarray, shape (batch, n_outputs), in units of ``output_unit``
        """
        session = self.session(1)
        batch = x.shape[0]
        seeds = session.compiled.seeds[0]
        if reference:
            out, saturated, bad, power = read_product_reference(x, self.arrays, seeds)
        else:
            power = np.zeros((batch, self.n_logical))
            saturated = np.zeros(self.n_reads, dtype=np.int64)
            out = np.empty((batch, self.n_outputs))
            bad = read_product(x, self.arrays, seeds, self.buffers(batch), power, saturated, out, 0,
                               numba.get_num_threads() > 1)
        session.finish(batch, saturated, power.sum(axis=0), bad, x=x, counts=counts)
        return out

    def session(self, calls: int) -> "ReadSession":
        """``calls`` consecutive reads of this plan made by a caller's compiled loop (a network layer's whole
        sequence, one read a step): the plan refreshed if an array changed, the calls' noise seeds drawn, and
        what the compiled loop needs (:class:`ReadSession`). :meth:`read` is a session of one call."""
        return ReadSession(self, calls)

    def ideal_read(self, x, held_lines: bool = True) -> List[np.ndarray]:
        """Each read's column currents for inputs ``x`` as its converters would take them in, without read
        noise and before the ADC: what an ADC's range is calibrated on.

        The physics of :meth:`read` up to the sensed columns: each logical
        input's drive ``x volts_per_input`` (the constant inputs at
        ``constant_input``) through the DAC (:func:`crossbar.circuits.conversion.dac_reference`,
        every bit at once: a bit-serial DAC's full code), on each drive's rows
        with its sign; the cells' I-V, ``u(V) = sinh(k V) / k`` per siemens
        (:func:`crossbar.circuits.device_reads.cell_current_per_siemens`); the read's own
        transfer (wires, floating lines, switched-off rows:
        :meth:`crossbar.CrossbarArray.read_effective_conductance`); with
        ``held_lines``, the current that the lines a ``v_half`` read holds at
        V/2 add (:meth:`crossbar.CrossbarArray.read_bias_current`). No read noise,
        no ADC, no digital combine; nothing is counted and no generator draws.
        Drives beyond the DAC's range raise ``ValueError`` as :meth:`read` does.

        Parameters
        ----------
        x : array_like, shape (batch, >= n_inputs)
            Inputs, dimensionless.
        held_lines : bool
            Add the held lines' current (``v_half`` reads; nothing for the others).

        Returns
        -------
        list of ndarray
            For each read of :attr:`reads` (in that order, band-major), its
            column currents, shape (batch, sensed columns), amperes.
        """
        self.current()
        x = as_float_array("x", x, shape=(None, None))
        if x.shape[1] < self.n_inputs:
            raise ValueError(f"x has shape {x.shape}; (batch, >= {self.n_inputs}) is required")
        batch = x.shape[0]
        drive = np.full((batch, self.n_logical), self.constant_input)
        drive[:, :self.n_inputs] = x[:, :self.n_inputs]
        pa = self.arrays
        volts, _, bad = dac_reference(drive * self.volts_per_input, pa.v_limit, pa.dac_step, pa.dac_top)
        self.check_bad(int(np.count_nonzero(bad)), x)
        per_siemens = cell_current_per_siemens(volts, self.device.iv_nonlinearity_per_volt)
        out = []
        for r, (drive_rows, _, _), runs in zip(self.reads, self._drives, self._drive_runs):
            rows = np.zeros((batch, r.array.rows))
            for (r0, r1, first), d in zip(runs, r.drives):
                rows[:, r0:r1] = d.sign * per_siemens[:, first:first + r1 - r0]
            currents = rows @ self._read_signal(r, drive_rows)[:, r.cols[0]:r.cols[1]]
            if held_lines and pa.bias:
                currents = currents + r.array.read_bias_current(drive_rows, r.cols)[0]
            out.append(currents)
        return out

    def check_bad(self, n_bad: int, x: Optional[np.ndarray] = None) -> None:
        """Raise ``ValueError`` for drives beyond the DAC's range or not finite (``n_bad`` of them)."""
        if not n_bad:
            return
        if x is not None and not np.all(np.isfinite(x)):
            raise ValueError(f"inputs hold {int(np.count_nonzero(~np.isfinite(x)))} NaN or infinite value(s); "
                             "all values must be finite")
        limit = self.dac.v_max if self.dac is not None else 0.0
        raise ValueError(f"{n_bad} drive voltage(s) beyond the DAC's range +-{limit:g} V or not finite; "
                         f"inputs are driven at {self.volts_per_input:g} V per unit: scale them")

    def record(self, calls: int, batch: int, saturated: np.ndarray, power: np.ndarray) -> OperationCounts:
        """Count ``calls`` reads of ``batch`` vectors each on the arrays; return the plan's total.

        Parameters
        ----------
        saturated : ndarray of int, shape (n_reads,)
            Each read's ADC saturations over the calls.
        power : ndarray, shape (n_logical,)
            ``sum V u(V)`` of each logical input over all the calls, V^2 (``V^2`` for linear cells; ``u(V)
            = sinh(k V) / k`` for cells that bend).
        """
        saturated = np.asarray(saturated, dtype=np.int64)
        # J of each read: t_read * sum_i G_i V_i u(V_i) over its logical inputs (u(V) = V for linear cells)
        padded = np.append(np.asarray(power, dtype=np.float64), 0.0)
        energies = self._read_times * np.einsum("ij,ij->i", padded[self._energy_index], self._energy_conductance)
        if self.arrays.bias:  # the held lines' cells, every cycle of every vector
            energies = energies + self._read_times * (calls * batch * self.cycles) * self._bias_power
        vectors = calls * batch * self.cycles  # a bit-serial vector is a read cycle per bit
        converted = calls * batch * self.conversions
        # the arrays' counters take this call when they are next read (a loop over thousands of arrays at
        # every call cost more than the read): the tally starts from the counters as they are, and the
        # energy adds in the same order as read by read, so the counters hold the same bits
        with _state.counts_lock:
            if _state.hold_counts(self) or self._pending is None:
                self._pending = {"calls": 0, "vectors": 0, "converted": 0,
                                 "saturated": np.zeros(len(self.source_arrays), np.int64),
                                 "energy": np.array([a._counters.cell_energy for a in self.source_arrays])}
            pending = self._pending
            pending["calls"] += calls
            pending["vectors"] += vectors
            pending["converted"] += converted
            np.add.at(pending["saturated"], self._read_array, saturated)
            np.add.at(pending["energy"], self._read_array, energies)  # in read order, like += read by read
        for a in self._clocked:  # after the reads: the time they took passes on the arrays' clocks
            a._after_reads(calls)
        n = self.n_reads
        return OperationCounts(
            products=calls * n, input_vectors=vectors * n,
            dac_conversions=vectors * sum(self._driven) if self.dac is not None else 0,
            adc_conversions=converted * sum(self._columns) if self.adc is not None else 0,
            adc_saturations=int(saturated.sum()), cell_energy=sum(energies.tolist()))

    def _write_counts(self) -> None:
        """Write the counts pending since the last write onto the arrays' counters (see :meth:`record`;
        called by :func:`crossbar.read.state.flush_counts` with the lock held)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        calls, vectors, converted = pending["calls"], pending["vectors"], pending["converted"]
        dac, adc = self.dac is not None, self.adc is not None
        for a, reads, driven, columns, saturated, energy in zip(
                self.source_arrays, self._array_reads, self._array_driven, self._array_columns,
                pending["saturated"].tolist(), pending["energy"].tolist()):
            c = a._counters  # not .counters, which would flush again
            c.products += calls * reads
            c.input_vectors += vectors * reads
            c.dac_conversions += vectors * driven if dac else 0
            c.adc_conversions += converted * columns if adc else 0
            c.adc_saturations += saturated
            c.cell_energy = energy

    def multiply_adds(self, batch: int) -> int:
        """Multiply-adds of one call's products for ``batch`` vectors (for planning threads)."""
        return self._multiply_adds * batch

    @property
    def memory_bytes(self) -> int:
        """Bytes of the plan's copies of the conductances and its tables (its scratch for a batch not
        included)."""
        arrays = [v for v in self.arrays if isinstance(v, np.ndarray)]
        arrays += [self._energy_index, self._energy_conductance]
        return int(sum(v.nbytes for v in arrays))


class ReadSession:
    """Consecutive reads of a :class:`ReadPlan` made by a caller's compiled loop (:meth:`ReadPlan.session`).

    The plan is refreshed first if an array changed, and the calls' noise
    seeds are drawn at once (the words :meth:`ReadPlan.draw_seeds` gives, so a
    session of ``n`` calls reads as ``n`` calls of :meth:`ReadPlan.read` do).
    The compiled loop takes :attr:`compiled` and runs, for each call ``c``,
    :func:`crossbar.read.kernels.session_read` with the scratch of
    :func:`crossbar.read.kernels.session_scratch`; then :meth:`finish` refuses
    bad drives and counts the work on the arrays (and on a caller's tally).

    Attributes
    ----------
    plan : ReadPlan
    calls : int
    compiled : crossbar.read.kernels.CompiledReads
        The kernel's tables, the seeds, shape (calls, n_reads), uint64, and the plan's sizes.
    """

    __slots__ = ("plan", "calls", "compiled")

    def __init__(self, plan: ReadPlan, calls: int):
        if not isinstance(plan, ReadPlan):
            raise ValueError(f"plan={plan!r} is not allowed; a crossbar.ReadPlan is required")
        self.calls = calls if type(calls) is int and calls >= 0 else check_int("calls", calls, 0)  # (a read's cost)
        self.plan = plan.current()
        # (tables, seeds, n_outputs, n_logical, n_reads), by position: keywords cost a read half a microsecond
        self.compiled = CompiledReads(plan.arrays, plan.draw_seeds(self.calls), plan.n_outputs, plan.n_logical,
                                      len(plan.reads))

    @property
    def parallel_chunks(self) -> bool:
        """Whether each read is cut into more than one column chunk (which Numba's threads can share)."""
        return len(self.plan.arrays.chunks) > 2

    def multiply_adds(self, batch: int) -> int:
        """Multiply-adds of one call's products for ``batch`` vectors (for planning threads)."""
        return self.plan.multiply_adds(batch)

    def finish(self, batch: int, saturated, power, n_bad: int, x: Optional[np.ndarray] = None,
               counts: Optional[OperationCounts] = None) -> OperationCounts:
        """End the session: refuse bad drives, then count the calls' work on the arrays.

        Parameters
        ----------
        batch : int
            Input vectors of each call.
        saturated : ndarray of int64, shape (n_reads,)
            Each read's ADC saturations over the calls.
        power : ndarray, shape (n_logical,)
            ``sum V u(V)`` of each logical input over the calls, V^2 (see :meth:`ReadPlan.record`).
        n_bad : int
            Drives beyond the DAC's range or not finite (``ValueError`` when any).
        x : ndarray, optional
            The inputs, to name NaN in the error.
        counts : OperationCounts, optional
            Also receives the work (a layer above's own tally).

        Returns
        -------
        OperationCounts
            The session's work.
        """
        self.plan.check_bad(n_bad, x)
        total = self.plan.record(self.calls, batch, saturated, power)
        if counts is not None:
            counts.accumulate(total)
        return total
