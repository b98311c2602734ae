"""Where each block of each matrix sits: array, rows, columns, and its picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np


@dataclass(frozen=True)
class Block:
    """One rectangle of devices given to one part of one matrix.

    Attributes
    ----------
    matrix : str
        Name of the matrix (``"lstm"``, ``"dense"``...).
    part : str
        What the devices hold: ``"W+"``, ``"W-"``, ``"b+"``, ``"b-"`` (row pairs)
        or ``"W+-"``, ``"b+-"`` (column pairs), with the column group when one
        is named (``"W+ [i]"``).
    array : int
        Index of the array.
    rows, cols : tuple of int
        Half-open ranges ``(start, stop)``, 0-based.
    """

    matrix: str
    part: str
    array: int
    rows: tuple
    cols: tuple

    @property
    def n_devices(self) -> int:
        return (self.rows[1] - self.rows[0]) * (self.cols[1] - self.cols[0])


MAX_ARRAYS_DRAWN = 16
"""Above this many arrays :meth:`Layout.figure` draws the chip overview instead of each array."""


STUCK_MARKERS = {1: ("o", "tab:red", "stuck at g_min"),
                 2: ("x", "tab:orange", "stuck at g_max")}
"""How :meth:`Layout.figure` marks stuck devices, by fault code: marker, colour, legend text (a hollow red
circle at the bottom, an orange cross at the top)."""


class Layout:
    """Every block placed on a chip's arrays, with utilisation, a table and a figure."""

    def __init__(self, array_rows: int, array_cols: int):
        self.array_rows = array_rows
        self.array_cols = array_cols
        self.blocks: List[Block] = []
        self.n_arrays = 0

    def add(self, block: Block) -> None:
        self.blocks.append(block)
        self.n_arrays = max(self.n_arrays, block.array + 1)

    def utilisation(self) -> np.ndarray:
        """Fraction of each array's devices given to some block, shape (n_arrays,)."""
        used = np.zeros(self.n_arrays)
        if self.blocks:
            np.add.at(used, [b.array for b in self.blocks], [b.n_devices for b in self.blocks])
        return used / (self.array_rows * self.array_cols)

    def blocks_of(self, matrix: str) -> List[Block]:
        return [b for b in self.blocks if b.matrix == matrix]

    def summary(self) -> str:
        """A short text table for large layouts: per matrix its blocks, arrays and devices, and the
        utilisation of the arrays."""
        lines = [f"{'matrix':<12} {'blocks':>7} {'arrays':>7} {'devices':>12}"]
        for name in sorted({b.matrix for b in self.blocks}):
            blocks = self.blocks_of(name)
            lines.append(f"{name:<12} {len(blocks):>7} {len({b.array for b in blocks}):>7} "
                         f"{sum(b.n_devices for b in blocks):>12}")
        u = self.utilisation()
        if u.size:
            lines.append(f"{self.n_arrays} arrays of {self.array_rows}x{self.array_cols} devices: "
                         f"{u.mean() * 100:.1f} % of all devices used; {int(np.count_nonzero(u >= 1.0))} arrays full, "
                         f"the emptiest {u.min() * 100:.1f} % used")
        return "\n".join(lines)

    def to_csv(self, path) -> None:
        """Every block as a CSV row: matrix, part, array, first and last row and column (all 1-based,
        rows and columns inclusive, as :meth:`table`), devices."""
        import csv

        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["matrix", "part", "array", "first_row", "last_row", "first_col", "last_col", "devices"])
            for b in self.blocks:
                out.writerow([b.matrix, b.part, b.array + 1, b.rows[0] + 1, b.rows[1], b.cols[0] + 1, b.cols[1],
                              b.n_devices])

    def table(self) -> str:
        """A text table, arrays, rows and columns 1-based (rows and columns inclusive) as in the paper."""
        lines = [f"{'matrix':<10} {'part':<12} {'array':>5} {'rows':>9} {'cols':>9} {'devices':>8}"]
        for b in self.blocks:
            lines.append(f"{b.matrix:<10} {b.part:<12} {b.array + 1:>5} {b.rows[0] + 1:>4}-{b.rows[1]:<4} "
                         f"{b.cols[0] + 1:>4}-{b.cols[1]:<4} {b.n_devices:>8}")
        for k, u in enumerate(self.utilisation()):
            lines.append(f"array {k + 1}: {u * 100:.1f} % of {self.array_rows}x{self.array_cols} devices used")
        return "\n".join(lines)

    def figure(self, conductance: Optional[list] = None, faults: Optional[list] = None):
        """A matplotlib figure: each array drawn with its blocks and their parts labelled.

        Arrays, rows and columns are numbered from 1, as in :meth:`table`.
        Without conductances the blocks are tinted by matrix; over conductances
        (drawn in grey, in microsiemens) they are outlined only, so that the
        devices under them show, and labelled on a light box that reads on dark
        cells too. Stuck devices (``faults``) are marked and explained in the
        legend: on a grey map they would be unexplained dots.

        Parameters
        ----------
        conductance : list of ndarray, optional
            Conductances (S) of each array, drawn underneath in grey.
        faults : list of ndarray, optional
            Fault map of each array (``crossbar.CrossbarArray.faults``: 0 working, 1 stuck at the bottom of
            its window, 2 stuck at the top).
        """
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if self.n_arrays > MAX_ARRAYS_DRAWN:
            return self.overview_figure()
        n = max(self.n_arrays, 1)
        columns = min(n, 4)
        lines = int(np.ceil(n / columns))
        fig, axes = plt.subplots(lines, columns, figsize=(4.4 * columns, 4.6 * lines), squeeze=False)
        names = sorted({b.matrix for b in self.blocks})
        colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(names)}
        utilisation = self.utilisation()
        stuck_counts = {1: 0, 2: 0}
        # device (i, j), 0-based, covers [j + 0.5, j + 1.5) x [i + 0.5, i + 1.5): the ticks read 1-based
        for k in range(lines * columns):
            ax = axes[k // columns][k % columns]
            if k >= n:
                ax.axis("off")
                continue
            if conductance is not None:
                im = ax.imshow(np.asarray(conductance[k]) * 1e6, cmap="Greys", aspect="auto", interpolation="nearest",
                               extent=(0.5, self.array_cols + 0.5, self.array_rows + 0.5, 0.5))
                fig.colorbar(im, ax=ax, label="G (\N{MICRO SIGN}S)", shrink=0.8)
            self._draw_blocks(ax, k, colours, outlined=conductance is not None)
            ax.set_xlim(0.5, self.array_cols + 0.5)
            ax.set_ylim(self.array_rows + 0.5, 0.5)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 4, 8, 10]))
            ax.set_xlabel("column")
            ax.set_ylabel("row")
            if faults is not None:
                _draw_stuck(ax, np.asarray(faults[k]), stuck_counts)
            ax.set_title(f"array {k + 1}: {utilisation[k] * 100:.0f} % used")
        _add_legend(fig, names, colours, conductance is not None, stuck_counts, columns, lines)
        return fig

    def _draw_blocks(self, ax, array: int, colours: dict, outlined: bool) -> None:
        """Draw the blocks of one array, tinted (or only outlined, over conductances) and labelled where the
        label fits."""
        from matplotlib.patches import Rectangle

        for b in (b for b in self.blocks if b.array == array):
            height, width = b.rows[1] - b.rows[0], b.cols[1] - b.cols[0]
            ax.add_patch(Rectangle((b.cols[0] + 0.5, b.rows[0] + 0.5), width, height,
                                   facecolor="none" if outlined else colours[b.matrix],
                                   alpha=1.0 if outlined else 0.35, edgecolor=colours[b.matrix],
                                   linewidth=1.6 if outlined else 1.2))
            # label only where the text fits (a character takes about 1.7 columns of a 64-column array)
            label = b.part
            x, y = b.cols[0] + 0.5 + width / 2, b.rows[0] + 0.5 + height / 2
            style = dict(ha="center", va="center", color=colours[b.matrix] if outlined else "black",
                         fontweight="bold" if outlined else "normal")
            if outlined:  # a light box behind: the label reads on dark cells as on light ones
                style["bbox"] = dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.85,
                                     edgecolor="none")
            if height >= 6 and width >= 1.7 * len(label) * self.array_cols / 64:
                ax.text(x, y, label, fontsize=7, **style)
            elif height >= 2.2 * len(label) * self.array_rows / 128 and width >= 4:
                ax.text(x, y, label, fontsize=6, rotation=90, **style)

    def overview_figure(self, pixels_per_array: int = 16):
        """A matplotlib figure of the whole chip for many arrays: each array a small thumbnail, its
        devices coloured by the matrix that holds them (white where free). Blocks thinner than a
        thumbnail pixel (bias rows) do not show; :meth:`table` and :meth:`to_csv` list them."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        n = max(self.n_arrays, 1)
        th = max(1, min(pixels_per_array, self.array_rows))
        tw = max(1, int(round(th * self.array_cols / self.array_rows)))
        across = int(np.ceil(np.sqrt(n * th / tw)))
        down = int(np.ceil(n / across))
        names = sorted({b.matrix for b in self.blocks})
        colours = np.array([plt.get_cmap("tab10")(k % 10)[:3] for k in range(len(names))] or [(1, 1, 1)])
        index = {name: k for k, name in enumerate(names)}
        # one pixel of border between thumbnails
        image = np.full((down * (th + 1), across * (tw + 1), 3), 0.85)
        for k in range(n):
            y, x = divmod(k, across)
            image[y * (th + 1):y * (th + 1) + th, x * (tw + 1):x * (tw + 1) + tw] = 1.0
        for b in self.blocks:
            y, x = divmod(b.array, across)
            r0, r1 = (b.rows[0] * th) // self.array_rows, -(-b.rows[1] * th // self.array_rows)
            c0, c1 = (b.cols[0] * tw) // self.array_cols, -(-b.cols[1] * tw // self.array_cols)
            image[y * (th + 1) + r0:y * (th + 1) + r1, x * (tw + 1) + c0:x * (tw + 1) + c1] = colours[index[b.matrix]]
        height = min(12.0, 1.5 + 8.0 * down / max(across, 1))
        fig, ax = plt.subplots(figsize=(9, height))
        ax.imshow(image, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{n} arrays of {self.array_rows}x{self.array_cols} devices, "
                     f"{self.utilisation().mean() * 100:.0f} % of devices used (array 1 top left, "
                     f"{across} per line)")
        handles = [Patch(facecolor=colours[index[name]], label=name) for name in names]
        if handles:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01),
                      ncol=min(len(names), 6), frameon=False)
        fig.tight_layout()
        return fig

    def save(self, path, conductance: Optional[list] = None, faults: Optional[list] = None) -> None:
        """Write :meth:`figure` to ``path`` (PNG, PDF or SVG by the suffix)."""
        import matplotlib.pyplot as plt

        fig = self.figure(conductance, faults)
        fig.savefig(path, dpi=130)
        plt.close(fig)


def _draw_stuck(ax, fault_map: np.ndarray, stuck_counts: dict) -> None:
    """Mark one array's stuck devices (codes of :data:`STUCK_MARKERS`), adding them to ``stuck_counts``."""
    for code, (marker, colour, _) in STUCK_MARKERS.items():
        rows, cols = np.nonzero(fault_map == code)
        stuck_counts[code] += rows.size
        if rows.size:
            filled = {"facecolors": "none", "edgecolors": colour} if marker == "o" else {"c": colour}
            ax.scatter(cols + 1, rows + 1, s=9, marker=marker, linewidths=0.8, zorder=3, **filled)


def _add_legend(fig, names, colours: dict, outlined: bool, stuck_counts: dict, columns: int, lines: int) -> None:
    """The legend below the arrays: a matrix per colour, and the stuck devices' counts where there are any;
    the figure laid out to leave it room."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    handles = [Rectangle((0, 0), 1, 1, facecolor="none" if outlined else colours[name],
                         edgecolor=colours[name], linewidth=1.6, alpha=1.0 if outlined else 0.5)
               for name in names]
    labels = list(names)
    for code, (marker, colour, text) in STUCK_MARKERS.items():
        if stuck_counts[code]:
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=5, markeredgewidth=0.8,
                                  markeredgecolor=colour, markerfacecolor="none" if marker == "o" else colour))
            labels.append(f"{stuck_counts[code]} device(s) {text}")
    if handles:
        across = min(len(labels), 2 if columns == 1 else 2 * columns)
        legend_rows = int(np.ceil(len(labels) / across))
        fig.legend(handles, labels, loc="lower center", ncol=across, frameon=False)
        fig.tight_layout(rect=(0, min(0.4, (0.01 + 0.055 * legend_rows) / lines), 1, 1))
    else:
        fig.tight_layout()
