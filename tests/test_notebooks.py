"""The notebooks run, and are committed executed, without errors, and small.

`test_notebook_runs_in_quick_mode` executes each notebook with nbclient, with
`CNNZOO_QUICK=1` (less data, fewer epochs: well under a minute each on two CPU cores), so
a change that breaks a notebook fails CI. The committed notebooks hold the outputs of a
full run (see notebooks/README.md); the other tests read them with the standard `json`
module, so they run without Jupyter installed, and check that those outputs came from one
in-order run without errors.
"""

import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_BYTES = 1_000_000
QUICK_TIMEOUT_S = 180  # One notebook in quick mode, kernel start included.


def test_notebooks_exist():
    assert [path.name for path in NOTEBOOKS][:3] == ["01_quickstart.ipynb",
                                                     "02_architectures.ipynb",
                                                     "03_convolution_from_scratch.ipynb"]


@pytest.mark.slow
@pytest.mark.timeout(QUICK_TIMEOUT_S)  # Per notebook; nbclient's own timeout is per cell.
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel inherits this environment and runs in tmp_path: the notebook is read,
    # never written back, and its runs/ and saved_models/ land in tmp_path.
    monkeypatch.setenv("CNNZOO_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=QUICK_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} fails in quick mode (CNNZOO_QUICK=1):\n{error}")


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
