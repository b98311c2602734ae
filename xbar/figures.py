"""Small helpers shared by the figures: a headless pyplot, PNG and PDF together, the microsiemens sign."""

from __future__ import annotations

import os
from typing import List, Optional


def plt():
    """``matplotlib.pyplot`` on the Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def microsiemens() -> str:
    """The unit as people write it: ``µS`` (the default font, DejaVu Sans, has the micro sign)."""
    return "\N{MICRO SIGN}S"


def save_figure(fig, out: str, name: str, dpi: int = 130) -> List[str]:
    """Lay out ``fig``, write ``out/name.png`` and ``out/name.pdf``, close it; return both paths."""
    fig.tight_layout()
    paths = [os.path.join(out, f"{name}.png"), os.path.join(out, f"{name}.pdf")]
    for path in paths:
        fig.savefig(path, dpi=dpi)
    plt().close(fig)
    return paths


def metric_label(metric: str, data: Optional[str] = None, what: str = "") -> str:
    """A metric's axis label with its unit: accuracy in percent, RMSE in thousand passengers for the airline
    series and in the targets' own units otherwise (``what`` goes before it: "validation or test")."""
    words = metric.replace("_", " ").replace("rmse", "RMSE")
    if what:
        words = f"{what} {words.replace('test ', '')}"
    if metric.endswith("accuracy"):
        return f"{words} (%)"
    if metric.endswith("rmse"):
        return f"{words} ({'thousand passengers' if data == 'airline' else 'target units'})"
    return words
