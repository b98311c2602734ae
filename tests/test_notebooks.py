"""Every notebook runs, with small epoch counts set in its parameters cell."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
SMALL = {
    "01_airline_in_situ.ipynb": "EPOCHS = 3\nSEED = 0",
    "02_speaker_id_in_situ.ipynb": "EPOCHS = 2\nSEED = 0\nNOISE_uS = [0.0, 8.0]",
    "03_ex_situ_vs_aware_vs_in_situ.ipynb": "EPOCHS = 2\nSEEDS = [0]",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs(name, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, "each notebook has one parameters cell"
    parameters[0].source = SMALL[name]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = sum(1 for c in notebook.cells if c.cell_type == "code"
                 for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images >= 2


def test_every_notebook_is_tested():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(SMALL)
