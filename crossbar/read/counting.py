"""Counting a read plan's work: every array's products, input vectors, DAC and ADC conversions, ADC
saturations and the cells' read energy (``read_time sum_i V_i u(V_i) sum_j G_ij``: a driven row dissipates
in every cell it touches), held here and written onto the arrays' counters when they are next read (the
same counts, the energy to the bit, as writing them at every call).

Energies in joules, times in seconds, conductances in siemens, voltages in volts.
"""

from __future__ import annotations

import numpy as np

from crossbar.circuits.energy import OperationCounts
from crossbar.read import state as _state


class ReadCounting:
    """Each read's share of a call's counts, each array's (an index into the plan's arrays), and the counts
    not yet written onto the arrays.

    Parameters
    ----------
    plan : crossbar.ReadPlan
        A plan whose reads, tables and converters are laid out.
    arrays : sequence of arrays
        The plan's arrays, each once, in order of first use.
    """

    def __init__(self, plan, arrays):
        reads = plan.reads
        self.source_arrays = arrays
        self.has_dac, self.has_adc = plan.dac is not None, plan.adc is not None
        self.cycles, self.conversions, self.bias = plan.cycles, plan.conversions, plan.arrays.bias
        self.driven = [sum(d.rows[1] - d.rows[0] for d in r.drives) for r in reads]
        self.columns = [r.cols[1] - r.cols[0] for r in reads]
        self.read_times = np.array([r.array.costs.read_time for r in reads])  # s
        position = {id(a): i for i, a in enumerate(arrays)}
        self.read_array = np.array([position[id(r.array)] for r in reads], dtype=np.int64)
        self.array_reads = np.bincount(self.read_array, minlength=len(arrays)).tolist()
        self.array_driven = np.bincount(self.read_array, weights=self.driven, minlength=len(arrays)
                                        ).astype(np.int64).tolist()
        self.array_columns = np.bincount(self.read_array, weights=self.columns, minlength=len(arrays)
                                         ).astype(np.int64).tolist()
        self.pending = None
        self.clocked = [a for a in arrays if a.peripherals.seconds_per_read > 0.0]
        self.energy_index = self.energy_conductance = None  # set by the plan's refresh
        self.bias_power = None

    def record(self, calls: int, batch: int, saturated: np.ndarray, power: np.ndarray) -> OperationCounts:
        """Count ``calls`` reads of ``batch`` vectors each on the arrays; return the plan's total (see
        :meth:`crossbar.ReadPlan.record`)."""
        saturated = np.asarray(saturated, dtype=np.int64)
        # J of each read: t_read * sum_i G_i V_i u(V_i) over its logical inputs (u(V) = V for linear cells)
        padded = np.append(np.asarray(power, dtype=np.float64), 0.0)
        energies = self.read_times * np.einsum("ij,ij->i", padded[self.energy_index], self.energy_conductance)
        if self.bias:  # the held lines' cells, every cycle of every vector
            energies = energies + self.read_times * (calls * batch * self.cycles) * self.bias_power
        vectors = calls * batch * self.cycles  # a bit-serial vector is a read cycle per bit
        converted = calls * batch * self.conversions
        # the arrays' counters take this call when they are next read (a loop over thousands of arrays at
        # every call cost more than the read): the tally starts from the counters as they are, and the
        # energy adds in the same order as read by read, so the counters hold the same bits
        with _state.counts_lock:
            if _state.hold_counts(self) or self.pending is None:
                self.pending = {"calls": 0, "vectors": 0, "converted": 0,
                                "saturated": np.zeros(len(self.source_arrays), np.int64),
                                "energy": np.array([a._counters.cell_energy for a in self.source_arrays])}
            pending = self.pending
            pending["calls"] += calls
            pending["vectors"] += vectors
            pending["converted"] += converted
            np.add.at(pending["saturated"], self.read_array, saturated)
            np.add.at(pending["energy"], self.read_array, energies)  # in read order, like += read by read
        for a in self.clocked:  # after the reads: the time they took passes on the arrays' clocks
            a._after_reads(calls)
        n = len(self.driven)
        return OperationCounts(
            products=calls * n, input_vectors=vectors * n,
            dac_conversions=vectors * sum(self.driven) if self.has_dac else 0,
            adc_conversions=converted * sum(self.columns) if self.has_adc else 0,
            adc_saturations=int(saturated.sum()), cell_energy=sum(energies.tolist()))

    def _write_counts(self) -> None:
        """Write the counts pending since the last write onto the arrays' counters (see :meth:`record`;
        called by :func:`crossbar.read.state.flush_counts` with the lock held)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        calls, vectors, converted = pending["calls"], pending["vectors"], pending["converted"]
        dac, adc = self.has_dac, self.has_adc
        for a, reads, driven, columns, saturated, energy in zip(
                self.source_arrays, self.array_reads, self.array_driven, self.array_columns,
                pending["saturated"].tolist(), pending["energy"].tolist()):
            c = a._counters  # not .counters, which would flush again
            c.products += calls * reads
            c.input_vectors += vectors * reads
            c.dac_conversions += vectors * driven if dac else 0
            c.adc_conversions += converted * columns if adc else 0
            c.adc_saturations += saturated
            c.cell_energy = energy
