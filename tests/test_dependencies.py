"""Every package the code, the tests and the benches import is declared in setup.cfg.

CI installs `.[dev]` into a new virtual environment, so an undeclared import already fails
there; these tests say which import and which extra, and they also load each optional
path the docs advertise (a module that imports may still fail on first use, as
tensorflow-datasets did without `importlib_resources`).
"""

import ast
import configparser
import importlib
import importlib.metadata
import re
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parents[1]
# Modules of this repository, imported by their own names.
LOCAL_MODULES = {"cnnzoo", "bench", "tests", "conftest", "without_tensorflow"} | {
    path.stem for path in (ROOT / "tests").glob("*.py")} | {
    path.stem for path in (ROOT / "bench").glob("*.py")}


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared():
    """Returns {extra or "install": [Requirement]} from setup.cfg."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = {"install": config["options"]["install_requires"]}
    lines.update(config["options.extras_require"])
    return {extra: [Requirement(line) for line in text.splitlines()
                    if line.strip() and not line.strip().startswith("#")]
            for extra, text in lines.items()}


def _closure(requirements):
    """Returns the canonical names of `requirements` and all they require, as installed."""
    seen, todo = set(), [(_canonical(r.name), sorted(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras or [""]):
                todo.append((_canonical(requirement.name), sorted(requirement.extras)))
    return seen


def _imported_modules(path):
    """Returns the top-level module names `path` imports (absolute imports, any depth)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party_imports():
    """Returns {module: [files importing it]} for cnnzoo/, tests/ and bench/."""
    found = {}
    for folder in ("cnnzoo", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in _imported_modules(path) - LOCAL_MODULES - set(sys.stdlib_module_names):
                found.setdefault(module, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared_or_required_by_a_declared_one():
    declared = _declared()
    provided = _closure([r for requirements in declared.values() for r in requirements])
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, files in _third_party_imports().items():
        # Not installed here: then it must be named in an extra (torch, say), by its name.
        names = distributions.get(module, [module])
        if not any(_canonical(name) in provided for name in names):
            undeclared[module] = files[:3]
    assert undeclared == {}, (
        f"imported but not declared in setup.cfg (nor required by what is): {undeclared}; "
        "add each to install_requires or to the extra that needs it.")


def test_the_dev_extra_holds_every_extra_the_docs_advertise_except_gpu_and_notebooks():
    declared = {extra: {_canonical(r.name) for r in reqs} for extra, reqs in _declared().items()}
    for extra in ("export", "viz"):
        assert declared[extra] <= declared["dev"], f"dev lacks part of [{extra}]"
    assert {"hypothesis", "pytest"} <= declared["dev"]


# Each optional path the docs advertise, and the import or call that proves it works.
OPTIONAL_PATHS = {
    "onnx export (tf2onnx, onnx, onnxruntime)": ("tf2onnx", "onnx", "onnxruntime"),
    "TFLite in the LiteRT interpreter": ("ai_edge_litert.interpreter",),
    "plots (cnnzoo.viz)": ("matplotlib.pyplot",),
    "image files (Pillow)": ("PIL.Image",),
    "scikit-learn's digits": ("sklearn.datasets",),
    "notebooks run by the tests": ("nbformat", "nbclient", "ipykernel"),
    "the served page in a browser": ("selenium.webdriver",),
    "property tests": ("hypothesis",),
    "JAX backend": ("jax",),
}


@pytest.mark.parametrize("path", sorted(OPTIONAL_PATHS))
def test_each_advertised_optional_path_imports(path):
    for module in OPTIONAL_PATHS[path]:
        importlib.import_module(module)


def test_tensorflow_datasets_loads_a_builder_offline():
    import tensorflow_datasets as tfds

    with tempfile.TemporaryDirectory() as data_dir:
        builder = tfds.builder("mnist", data_dir=data_dir, try_gcs=False)
        assert builder.info.features["label"].num_classes == 10
