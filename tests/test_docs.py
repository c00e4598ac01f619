"""The Python examples in README.md and docs/*.md run as written.

Each page's ```python blocks run in order in one namespace (a later block may use what an
earlier one made), in a temporary working folder, so files the examples write land there.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")


def python_blocks(page):
    """Returns the source of each ```python block of `page`, in order."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def _needs_full_fashion_mnist(source):
    return re.search(r"""(load_dataset|load_arrays|fit)\(\s*["']fashion_mnist["']""",
                     source) is not None


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    if any(map(_needs_full_fashion_mnist, blocks)) and not FASHION_MNIST.is_dir():
        pytest.skip("needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for number, source in enumerate(blocks, 1):
        try:
            exec(compile(source, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page.name}: python block {number} failed: {error!r}\n"
                                 f"{source}") from error
