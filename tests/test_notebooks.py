"""The notebooks are committed executed, without errors, and small.

They are not run here (a minute or more each on two CPU cores): execute them after editing
with nbclient (see notebooks/README.md). Parsed with the standard `json` module, so this
test runs without Jupyter installed; `nbformat`'s schema check runs when it is installed.
"""

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MAX_BYTES = 1_000_000


def test_notebooks_exist():
    assert [path.name for path in NOTEBOOKS][:2] == ["01_quickstart.ipynb",
                                                     "02_architectures.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_was_committed_executed_without_errors(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code_cells, f"{path.name} has no code cells"
    counts = [cell.get("execution_count") for cell in code_cells]
    unexecuted = [index for index, count in enumerate(counts) if count is None]
    assert not unexecuted, (f"{path.name}: code cells {unexecuted} have no execution_count; "
                            "execute the notebook before committing it")
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not executed top to bottom in one kernel: execution counts {counts}")
    for index, cell in enumerate(code_cells):
        errors = [output for output in cell.get("outputs", [])
                  if output.get("output_type") == "error"]
        assert not errors, (f"{path.name}, code cell {index}: "
                            f"{errors[0].get('ename')}: {errors[0].get('evalue')}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_small(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size:,} bytes; keep outputs small (< 1 MB)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_nbformat(path):
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(path, as_version=4))
