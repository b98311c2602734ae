"""ProductPlan: a mapped matrix's tiles folded into one compiled product.

A plan is a snapshot of the conductances; it stays valid until an array it
uses changes (programming, an update, drift: ``CrossbarArray.version``; then
:meth:`ProductPlan.refill` takes the new values into the same layout) or the
matrix's ADC or scale changes (then a new plan is made). It draws its noise seeds from the arrays' own
generators in the order the tile-by-tile path draws them, and adds its work
to the arrays' and the matrix's counters as that path does, so both paths
give the same numbers, the same counts and leave the generators in the same
state. Conductances in siemens, voltages in volts, currents in amperes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Tuple

import numpy as np

from crossbar import OperationCounts
from crossbar.kernels import float32_is_enough

from .kernels import PlanArrays, fill_tile_values, planned_product, product_buffers

if TYPE_CHECKING:  # pragma: no cover
    from .mapped import MappedMatrix


class ProductPlan:
    """The compiled form of one :class:`~mapping.mapped.MappedMatrix` (see the module text).

    Attributes
    ----------
    arrays : PlanArrays
        What the Numba kernels read.
    """

    def __init__(self, matrix: "MappedMatrix"):
        mm = matrix
        chip = mm.chip
        sigma = chip.device.read_noise_sigma_relative
        noise = sigma > 0.0
        # the same rule as CrossbarArray.mvm: float32 only where its rounding hides under the noise
        dtype = np.float32 if noise and float32_is_enough(sigma, chip.array_rows) else np.float64
        row_pairs = mm.encoding.scheme == "row_pairs"
        width = mm.n_out if row_pairs else 2 * mm.n_out
        starts = sorted({t.inputs[0] for t in mm.tiles}) + [mm.n_logical]
        offsets, runs, band_runs = [0], [], [0]
        self._tiles = []
        for a in range(len(starts) - 1):
            rows = starts[a + 1] - starts[a]
            for t in (t for t in mm.tiles if t.inputs[0] == starts[a]):
                o0, o1 = t.outputs
                p0, p1 = (o0, o1) if row_pairs else (2 * o0, 2 * o1)
                runs.append((a, p0, p1, t.col0))
                self._tiles.append((chip.arrays[t.array], t, p1 - p0))
            covered = [p for run in runs[band_runs[-1]:] for p in run[1:3]]
            if covered[0] != 0 or covered[-1] != width or covered[1:-1:2] != covered[2:-1:2]:
                # planned_product converts each column of a band once, in the tile that holds it
                raise RuntimeError(f"{mm.name}: the tiles of band {a} do not cover its {width} columns in order")
            offsets.append(offsets[-1] + rows * width)
            band_runs.append(len(runs))
        self.band_starts = np.array(starts, dtype=np.int64)
        self.width = width
        self.widest_band = max(b - a for a, b in zip(starts[:-1], starts[1:]))
        dac, adc = chip.dac, mm.adc
        e = mm.encoding
        size = offsets[-1]
        self.arrays = PlanArrays(
            band_starts=self.band_starts,
            signal=np.empty(size, dtype=dtype), variance=np.empty(size, dtype=np.float32),
            signal_rows=np.empty(size, dtype=dtype), variance_rows=np.empty(size, dtype=np.float32),
            band_offsets=np.array(offsets, dtype=np.int64),
            runs=np.array(runs, dtype=np.int64).reshape(-1, 4),
            band_runs=np.array(band_runs, dtype=np.int64),
            n_out=mm.n_out, row_pairs=row_pairs, n_inputs=mm.n_in,
            bias_input=float(e.bias_input), v_read=float(e.v_read),
            dac_step=0.0 if dac is None else float(dac.step),
            dac_top=0.0 if dac is None else float(dac.max_code),
            v_limit=float(dac.v_max + 0.5 * dac.step) if (dac is not None and not dac.clip) else np.inf,
            adc_step=0.0 if adc is None else float(adc.step),
            adc_top=0.0 if adc is None else float(adc.max_code),
            noise=noise, amperes_per_weight=e.v_read * mm._scale())
        self.matrix = mm
        self.adc = adc
        self.scale = mm.scale
        owners = [array for array, _, _ in self._tiles]  # each array's tiles, in tile order, for draw_seeds
        self._seed_groups = [(array, [k for k, a in enumerate(owners) if a is array])
                             for array in {id(a): a for a in owners}.values()]
        self.refill()

    def refill(self) -> None:
        """Take the conductances the arrays hold now (in place; the layout and the converters stay)."""
        mm, pa = self.matrix, self.arrays
        sigma = mm.chip.device.read_noise_sigma_relative
        row_conductance = []
        for k, (array, t, _) in enumerate(self._tiles):
            band, p0 = pa.runs[k, 0], pa.runs[k, 1]
            rows = int(pa.band_starts[band + 1] - pa.band_starts[band])
            start, stop = pa.band_offsets[band], pa.band_offsets[band + 1]
            region_rows, region_cols = mm._region(t)
            fill_tile_values(array._conductance[region_rows, region_cols], sigma, pa.row_pairs, p0,
                             pa.signal[start:stop].reshape(self.width, rows),
                             pa.variance[start:stop].reshape(self.width, rows),
                             pa.signal_rows[start:stop].reshape(rows, self.width),
                             pa.variance_rows[start:stop].reshape(rows, self.width))
            row_g = array._row_conductance[region_rows]
            row_conductance.append(row_g[:rows] + row_g[rows:] if pa.row_pairs else row_g)
        self.row_conductance = row_conductance  # per tile: S of each logical row (both rows of a pair)
        self.versions = self._versions()

    def _versions(self) -> Tuple[int, ...]:
        return tuple(a.version for a in self.matrix.chip.arrays)

    def settings_current(self) -> bool:
        """Whether the matrix's ADC and scale are those the plan was made with."""
        mm = self.matrix
        return self.adc is mm.adc and self.scale == mm.scale

    def is_current(self) -> bool:
        """Whether the arrays and the ADC are as they were when the plan was made (or last refilled)."""
        return self.settings_current() and self._versions() == self.versions

    # -------------------------------------------------------------- reads
    def draw_seeds(self, reads: int) -> np.ndarray:
        """Noise seeds of ``reads`` consecutive products, shape (reads, n_tiles), uint64.

        Seed ``[r, k]`` is the draw tile ``k``'s array would make for read
        ``r`` on the tile-by-tile path: each array's generator yields, in
        order, one word per read and per tile it holds.
        """
        n_tiles = len(self._tiles)
        if not self.arrays.noise:
            return np.zeros((reads, n_tiles), dtype=np.uint64)
        if len(self._seed_groups) == 1:  # one array holds every tile, in tile order: its words as they come
            return self._seed_groups[0][0].rng.bit_generator.random_raw(reads * n_tiles).reshape(reads, n_tiles)
        seeds = np.zeros((reads, n_tiles), dtype=np.uint64)
        for array, mine in self._seed_groups:
            words = array.rng.bit_generator.random_raw(reads * len(mine))
            seeds[:, mine] = np.asarray(words, dtype=np.uint64).reshape(reads, len(mine))
        return seeds

    def largest_blas_product(self, batch: int) -> int:
        """Multiply-adds of the largest BLAS call for ``batch`` input vectors.

        0 for float32 bands: ``crossbar.simd.paired_products`` multiplies them, without BLAS.
        """
        return 0 if self.arrays.signal.dtype == np.float32 else batch * self.widest_band * self.width

    def buffers(self, batch: int) -> tuple:
        """Scratch of the kernel for ``batch`` input vectors."""
        return product_buffers(self.arrays, batch)

    def product(self, x: np.ndarray) -> np.ndarray:
        """One product ``x @ W + b`` on the hardware (``x`` validated, (batch, n_in)); counted."""
        batch = x.shape[0]
        power = np.zeros(int(self.band_starts[-1]))
        out = np.empty((batch, self.arrays.n_out))
        saturated, bad = planned_product(x, self.arrays, self.draw_seeds(1)[0], self.buffers(batch), power, out, 0)
        self.check_bad(bad)
        self.record(1, batch, saturated, power)
        return out

    def check_bad(self, n_bad: int) -> None:
        """Raise as the tile-by-tile path would for inputs beyond the DAC's range (or NaN)."""
        if n_bad:
            raise ValueError(f"{self.matrix.name}: {n_bad} drive voltage(s) beyond the DAC's range "
                             f"{self.matrix.chip.dac.v_max if self.matrix.chip.dac else 0:g} V or not finite; "
                             "scale the inputs")

    def record(self, reads: int, batch: int, n_saturated: int, power: np.ndarray) -> None:
        """Count ``reads`` products of ``batch`` vectors each, as the tile-by-tile path counts them.

        Parameters
        ----------
        power : ndarray, shape (n_logical,)
            ``sum V^2`` of each logical row over all the reads, V^2.
        """
        mm = self.matrix
        total = OperationCounts(adc_saturations=int(n_saturated))
        for k, (array, t, width) in enumerate(self._tiles):
            # field by field: the four counts a read changes (an OperationCounts per tile cost 10 us a call)
            dac = 0 if mm.chip.dac is None else reads * batch * array.rows
            energy = array.costs.read_time * float(power[slice(*t.inputs)] @ self.row_conductance[k])
            for counts in (array.counters, total):
                counts.products += reads
                counts.input_vectors += reads * batch
                counts.dac_conversions += dac
                counts.cell_energy += energy
            if self.adc is not None:
                total.adc_conversions += reads * batch * width
        mm.counters.accumulate(total)
