"""What a person reads of a layout: arrays numbered from 1 in tables, files and figures; block labels on a
light box over conductance maps; stuck devices marked and explained in the legend (issue 27)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import crossbar  # noqa: E402
from mapping import Chip, MappedMatrix  # noqa: E402


def _chip():
    device = crossbar.DeviceModel(name="faulty", g_min=10e-6, g_max=100e-6, stuck_at_gmin_fraction=0.02,
                                  stuck_at_gmax_fraction=0.03)
    chip = Chip(device, crossbar.ArraySpec(16, 8), seed=3)
    MappedMatrix(chip, "m", 12, 6)  # 12 x 6 weights in pairs: two arrays of 16 x 8
    return chip


def test_tables_and_files_number_arrays_from_1(tmp_path):
    chip = _chip()
    layout = chip.layout
    assert layout.n_arrays == 2 and {b.array for b in layout.blocks} == {0, 1}
    table = layout.table()
    assert "array 1:" in table and "array 2:" in table and "array 0" not in table
    listed = {line.split()[2] for line in table.splitlines()[1:] if line.startswith("m ")}
    assert listed == {"1", "2"}
    layout.to_csv(tmp_path / "layout.csv")
    rows = (tmp_path / "layout.csv").read_text().splitlines()[1:]
    assert {row.split(",")[2] for row in rows} == {"1", "2"}


def test_conductance_maps_number_arrays_from_1_label_on_a_light_box_and_explain_stuck_devices(tmp_path):
    chip = _chip()
    for a in chip.arrays:
        a.program(np.full(a.shape, 95e-6))  # dark cells everywhere
    faults = [a.faults.copy() for a in chip.arrays]
    low = sum(int((f == 1).sum()) for f in faults)
    high = sum(int((f == 2).sum()) for f in faults)
    assert low and high
    fig = chip.layout.figure(chip.conductances(), faults)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split(":")[0] for t in titles] == ["array 1", "array 2"]
    assert not any(t.startswith("array 0") for t in titles)
    labels = [t for ax in fig.axes for t in ax.texts]
    assert labels and all(t.get_bbox_patch() is not None for t in labels)
    assert all(t.get_bbox_patch().get_facecolor()[:3] == (1.0, 1.0, 1.0) for t in labels)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"{low} device(s) stuck at g_min" in legend and f"{high} device(s) stuck at g_max" in legend
    from matplotlib.collections import PathCollection

    marked = sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection))
    assert marked == low + high
    chip.save_layout(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 10_000
