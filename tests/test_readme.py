"""The README and docs cannot drift from the code: the model table and the test command."""

import re
from pathlib import Path

from cnnzoo.cli import model_table
from cnnzoo.registry import list_models

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
MODELS_PAGE = (ROOT / "docs" / "models.md").read_text()


def test_the_model_table_is_the_registry_table():
    assert model_table(list_models(), markdown=True) in MODELS_PAGE, (
        "docs/models.md's model table is stale: paste the output of `cnnzoo list --markdown`.")


def test_every_docs_page_is_linked_from_the_readme():
    pages = sorted(path.name for path in (ROOT / "docs").glob("*.md"))
    assert pages and [page for page in pages if f"(docs/{page})" not in README] == []


def test_ci_runs_the_readme_test_command_as_written():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    main_job, test_command = blocks[0].strip(), blocks[1].strip()
    assert "cnnzoo train mnist_cnn --dataset fashion_mnist --export saved_models/" in main_job
    assert "pytest" in test_command
    ci_script = (ROOT / ".ci" / "run").read_text()
    ci_lines = [line.strip() for line in ci_script.splitlines()]
    assert test_command in ci_lines
    # ...inside a new virtual environment, activated before it, so nothing installed by
    # hand in the system Python can stand in for an undeclared dependency.
    venv = ci_lines.index('python3 -m venv "$VENV"')
    activate = ci_lines.index('. "$VENV/bin/activate"')
    assert venv < activate < ci_lines.index(test_command)
    assert "--system-site-packages" not in ci_script
