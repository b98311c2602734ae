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

The plan's parts live in modules of their own: the reads and their layout
(:mod:`crossbar.read.layout`, the column chunks in :mod:`crossbar.read.chunks`),
the seeds (:mod:`crossbar.read.seeds`), the counting
(:mod:`crossbar.read.counting`), the sessions (:mod:`crossbar.read.session`)
and the registered cells and converters the kernels do not compile, read
through the numpy twin (:mod:`crossbar.read.extensions`).

Conductances in siemens, voltages in volts, currents in amperes, inputs and
outputs in the units the plan is given (``volts_per_input``, ``output_unit``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numba
import numpy as np

from crossbar.circuits.conversion import dac_reference
from crossbar.circuits.energy import OperationCounts
from crossbar.circuits.peripherals import ADC, DAC
from crossbar.read import state as _state
from crossbar.read.counting import ReadCounting
from crossbar.read.extensions import ReadExtensions
from crossbar.read.kernels import fill_read_values, product_buffers, read_product, read_product_reference
from crossbar.read.layout import Drive, Read, check_read, kernel_tables, lay_out
from crossbar.read.seeds import SeedDraws
from crossbar.read.session import ReadSession
from crossbar.validation import as_float_array, check_int, check_range

__all__ = ["Drive", "Read", "ReadPlan", "ReadSession"]


def _output_units(output_unit, n_outputs: int) -> Tuple[object, Optional[np.ndarray]]:
    """``(output_unit, output_units)`` of a plan: a float and None, or the per-output units (A, each > 0,
    shape (n_outputs,)) twice; ``ValueError`` naming ``output_unit`` otherwise."""
    if np.ndim(output_unit) == 0:
        return check_range("output_unit", output_unit, 0.0, low_open=True, unit="A"), None
    units = as_float_array("output_unit", output_unit, shape=(n_outputs,)).copy()
    if not np.all(units > 0.0):
        raise ValueError(f"output_unit: {int(np.count_nonzero(~(units > 0.0)))} per-output unit(s) not > 0 A; "
                         "every output's unit must be positive")
    return units, units


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
    output_unit : float or array_like, shape (n_outputs,)
        Amperes of an output of 1 (``> 0``): outputs are the combined currents over it. One value per
        output divides each output by its own unit after the ADC (a scale per column restored
        digitally, a drift compensation's gain); one float divides every output by that same float.
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
        layout = lay_out(self, reads, arrays)
        self.arrays = kernel_tables(self, layout, arrays)
        """The kernel's tables (:class:`crossbar.read.kernels.ReadArrays`): the plan's own, for this package
        and its kernels; a caller's compiled loop gets them through :meth:`session`."""
        self._seeds = SeedDraws(arrays, self.reads)
        self._plan_fills()
        self._counting = ReadCounting(self, arrays)
        self._multiply_adds = int(np.sum(np.diff(self.arrays.band_starts) * self.arrays.band_widths))
        self.versions: Tuple[int, ...] = ()
        self.refresh()

    def _take_settings(self, n_inputs, n_outputs, volts_per_input, constant_input, output_unit, dac, adc,
                       input_sum_weights) -> None:
        """Validate and keep the plan's scalar settings and converters (see the class text)."""
        self.n_inputs = check_int("n_inputs", n_inputs, 0)
        self.n_outputs = check_int("n_outputs", n_outputs, 1)
        self.volts_per_input = check_range("volts_per_input", volts_per_input, 0.0, low_open=True, unit="V")
        self.constant_input = check_range("constant_input", constant_input)
        self.output_unit, self.output_units = _output_units(output_unit, self.n_outputs)
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
            check_read(k, r, self.n_outputs)
            if id(r.array) not in seen:
                seen.add(id(r.array))
                arrays.append(r.array)
        self.source_arrays = arrays
        devices = {id(a.device): a.device for a in arrays}
        if len(devices) != 1:
            raise ValueError("the reads' arrays have different device models; a plan reads one technology")
        self.device = arrays[0].device
        self.extensions = ReadExtensions(self.device, self.adc, arrays, self.input_sum_weights)
        """The cells' I-V law and the converters' architecture (:class:`crossbar.read.extensions.ReadExtensions`)."""
        return arrays

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
            self._counting.bias_power = np.zeros(self.n_reads)
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
        self._counting.energy_index, self._counting.energy_conductance = index, conductance
        self._seeds.take_generators()
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
            self._counting.bias_power[k] = read.array.peripherals.dac.v_max / 2.0 * float(np.sum(current))

    @property
    def varies_between_reads(self) -> bool:
        """Whether an array's conductances move from one call to the next (its clock advances at every read
        and drift or read noise with memory follow it, :attr:`crossbar.CrossbarArray.varies_between_reads`):
        then reads of several steps must be made one call a step, each after the plan is refreshed."""
        return any(a.varies_between_reads for a in self._counting.clocked)

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
        return self._seeds.draw(calls, self.arrays.noise)

    @property
    def compiled(self) -> bool:
        """Whether the read's compiled kernels compute this plan's cells and converters (the built-ins): a
        registered cell I-V law or ADC architecture is read through the numpy twin (:meth:`read` does it by
        itself; :meth:`session`, for a compiled loop, refuses it)."""
        return self.extensions.compiled

    def buffers(self, batch: int) -> tuple:
        """Scratch of the kernel for ``batch`` input vectors."""
        return product_buffers(self.arrays, batch)

    def read(self, x: np.ndarray, reference: bool = False, counts: Optional[OperationCounts] = None) -> np.ndarray:
        """One read of every read of the plan for inputs ``x`` (batch, >= n_inputs); counted on the arrays.

        ``reference`` runs the numpy twin instead of the kernel: the same
        numbers, the same generator draws and the same counts (a plan of
        registered extensions, not :attr:`compiled`, always runs the twin). ``counts``, if
        given, also receives this call's work (a layer above's own tally).

        Returns
        -------
        ndarray, shape (batch, n_outputs), in units of ``output_unit``
        """
        session = ReadSession(self, 1)
        batch = x.shape[0]
        seeds = session.compiled.seeds[0]
        if reference or not self.extensions.compiled:  # registered extensions: the twin reads them
            out, saturated, bad, power = read_product_reference(x, self.arrays, seeds, **self.extensions.twin_hooks)
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
        what the compiled loop needs (:class:`ReadSession`). :meth:`read` is a session of one call.
        ``ValueError`` for a plan that is not :attr:`compiled`."""
        self.extensions.refuse_compiled()
        return ReadSession(self, calls)

    def ideal_read(self, x, held_lines: bool = True) -> List[np.ndarray]:
        """Each read's column currents for inputs ``x`` as its converters would take them in, without read
        noise and before the ADC: what an ADC's range is calibrated on.

        The physics of :meth:`read` up to the sensed columns: each logical
        input's drive ``x volts_per_input`` (the constant inputs at
        ``constant_input``) through the DAC (:func:`crossbar.circuits.conversion.dac_reference`,
        every bit at once: a bit-serial DAC's full code), on each drive's rows
        with its sign; the cells' I-V, ``u(V) = sinh(k V) / k`` per siemens
        (:func:`crossbar.circuits.device_reads.cell_current_per_siemens`; a registered law's ``f(V)``); the read's own
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
        per_siemens = self.extensions.current_per_siemens(volts)
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
        return self._counting.record(calls, batch, saturated, power)

    def multiply_adds(self, batch: int) -> int:
        """Multiply-adds of one call's products for ``batch`` vectors (for planning threads)."""
        return self._multiply_adds * batch

    @property
    def memory_bytes(self) -> int:
        """Bytes of the plan's copies of the conductances and its tables (its scratch for a batch not
        included)."""
        arrays = [v for v in self.arrays if isinstance(v, np.ndarray)]
        arrays += [self._counting.energy_index, self._counting.energy_conductance]
        return int(sum(v.nbytes for v in arrays))
