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
        for b in self.blocks:
            used[b.array] += b.n_devices
        return used / (self.array_rows * self.array_cols)

    def blocks_of(self, matrix: str) -> List[Block]:
        return [b for b in self.blocks if b.matrix == matrix]

    def table(self) -> str:
        """A text table, rows and columns 1-based and inclusive as in the paper."""
        lines = [f"{'matrix':<10} {'part':<12} {'array':>5} {'rows':>9} {'cols':>9} {'devices':>8}"]
        for b in self.blocks:
            lines.append(f"{b.matrix:<10} {b.part:<12} {b.array:>5} {b.rows[0] + 1:>4}-{b.rows[1]:<4} "
                         f"{b.cols[0] + 1:>4}-{b.cols[1]:<4} {b.n_devices:>8}")
        for k, u in enumerate(self.utilisation()):
            lines.append(f"array {k}: {u * 100:.1f} % of {self.array_rows}x{self.array_cols} devices used")
        return "\n".join(lines)

    def figure(self, conductance: Optional[list] = None):
        """A matplotlib figure: each array drawn with its blocks coloured and labelled.

        Parameters
        ----------
        conductance : list of ndarray, optional
            Conductances (S) of each array, drawn underneath in grey.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        n = max(self.n_arrays, 1)
        columns = min(n, 4)
        lines = int(np.ceil(n / columns))
        fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 4.6 * lines), squeeze=False)
        names = sorted({b.matrix for b in self.blocks})
        colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(names)}
        for k in range(lines * columns):
            ax = axes[k // columns][k % columns]
            if k >= n:
                ax.axis("off")
                continue
            if conductance is not None:
                im = ax.imshow(np.asarray(conductance[k]) * 1e6, cmap="Greys", aspect="auto",
                               extent=(0, self.array_cols, self.array_rows, 0))
                fig.colorbar(im, ax=ax, label="G (uS)", shrink=0.8)
            for b in (b for b in self.blocks if b.array == k):
                height, width = b.rows[1] - b.rows[0], b.cols[1] - b.cols[0]
                ax.add_patch(Rectangle((b.cols[0], b.rows[0]), width, height,
                                       facecolor=colours[b.matrix], alpha=0.35 if conductance is None else 0.2,
                                       edgecolor=colours[b.matrix], linewidth=1.2))
                # label only where the text fits; bias rows are one row high
                if height >= 6 and width >= 6:
                    ax.text(b.cols[0] + width / 2, b.rows[0] + height / 2, b.part, ha="center", va="center",
                            fontsize=7)
                elif height >= 12:
                    ax.text(b.cols[0] + width / 2, b.rows[0] + height / 2, b.part, ha="center", va="center",
                            fontsize=6, rotation=90)
            ax.set_xlim(0, self.array_cols)
            ax.set_ylim(self.array_rows, 0)
            ax.set_xlabel("column")
            ax.set_ylabel("row")
            ax.set_title(f"array {k}: {self.utilisation()[k] * 100:.0f} % used")
        handles = [Rectangle((0, 0), 1, 1, facecolor=colours[name], alpha=0.5) for name in names]
        if handles:
            fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), frameon=False)
            fig.tight_layout(rect=(0, 0.06, 1, 1))
        else:
            fig.tight_layout()
        return fig

    def save(self, path, conductance: Optional[list] = None) -> None:
        """Write :meth:`figure` to ``path`` (PNG, PDF or SVG by the suffix)."""
        import matplotlib.pyplot as plt

        fig = self.figure(conductance)
        fig.savefig(path, dpi=130)
        plt.close(fig)
