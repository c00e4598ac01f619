"""The package's architecture, read from its source with `ast`: the import graph has no
cycle, the training library imports neither the export package nor what sits above it,
and each on-disk layout's file names are spelled in one module only."""

import ast
import pathlib

import pytest

from cnnzoo.layouts import run_dir, serving

PACKAGE = pathlib.Path(__file__).parents[1] / "cnnzoo"
# Modules above the library: they may import it, it never imports them.
ABOVE_THE_LIBRARY = ("cnnzoo.job", "cnnzoo.finetune", "cnnzoo.artifacts", "cnnzoo.cli",
                     "cnnzoo.serve", "cnnzoo.page", "cnnzoo.explain", "cnnzoo.__main__")
# Deprecated aliases that name their new home above the library (each warns on use).
DEPRECATED_ALIASES = {("cnnzoo.training.job", "cnnzoo.job"),
                      ("cnnzoo.training", "cnnzoo.artifacts"),
                      ("cnnzoo.training.evaluate", "cnnzoo.artifacts"),
                      ("cnnzoo.export.source", "cnnzoo.artifacts")}
LAYOUTS = {"cnnzoo.layouts.run_dir": (run_dir.RUN_FILE, run_dir.EVALUATION_FILE,
                                      run_dir.BEST_MODEL, run_dir.LAST_MODEL,
                                      run_dir.MODEL_FILE, run_dir.HISTORY_FILE,
                                      run_dir.TENSORBOARD_DIR, run_dir.BACKUP_DIR,
                                      run_dir.BACKUP_STATE, run_dir.BACKUP_WEIGHTS,
                                      run_dir.LOCK_FILE),
           "cnnzoo.layouts.serving": (serving.SAVED_MODEL_FILE,)}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parse_package():
    """Returns `{module name: (ast tree, is a package)}` for every module of cnnzoo."""
    return {_module_name(path): (ast.parse(path.read_text(encoding="utf-8"), str(path)),
                                 path.name == "__init__.py")
            for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _parse_package()


def _walk(tree, *, into_functions):
    """Yields the nodes of `tree`; without `into_functions`, only code run at import."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if into_functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                     ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))


def _imports(name, *, deferred=True):
    """Returns the cnnzoo modules `name` imports.

    `from package import x` counts as the submodule `package.x` when there is one, else
    as `package`. With `deferred`, imports inside functions count, and so does a string
    naming a cnnzoo module (a lazy import table's value): what a module may use at all.
    Without, only what importing it imports.
    """
    tree, is_package = MODULES[name]
    found = set()
    for node in _walk(tree, into_functions=deferred):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # Relative: resolved against this module's package.
                base = name.split(".")[:len(name.split(".")) - node.level + is_package]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in MODULES else module)
        elif (deferred and isinstance(node, ast.Constant) and node.value in MODULES
              and node.value != "cnnzoo"):  # The bare name is also Keras's package tag.
            found.add(node.value)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _is_library(name):
    return not any(name == top or name.startswith(top + ".") for top in ABOVE_THE_LIBRARY)


def test_the_graph_is_read_from_the_source():
    # A guard against a parser that finds nothing: known edges must be there.
    assert "cnnzoo.training.fit" in GRAPH["cnnzoo.job"]
    assert "cnnzoo.layouts.serving" in GRAPH["cnnzoo.export.saved_model"]
    assert "cnnzoo.training.inputs" in GRAPH["cnnzoo.training.evaluate"]


def test_importing_any_module_runs_into_no_cycle():
    # Deferred imports may close a loop on purpose (the registry imports the built-in
    # models on first use, and they import the registry); importing may not.
    graph = {name: _imports(name, deferred=False) for name in MODULES}
    state = {}  # name -> "open" while on the current path, "done" once explored.

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_training_imports_neither_export_nor_anything_above_the_library():
    for name, edges in GRAPH.items():
        if name != "cnnzoo.training" and not name.startswith("cnnzoo.training."):
            continue
        for target in sorted(edges):
            if (name, target) in DEPRECATED_ALIASES:
                continue
            assert not target.startswith("cnnzoo.export"), f"{name} imports {target}"
            assert _is_library(target), f"{name} imports {target}, which sits above it"


def test_deprecated_aliases_are_deprecations():
    for name, target in sorted(DEPRECATED_ALIASES):
        assert target in GRAPH[name], f"{name} no longer names {target}: drop the alias"
        source = ast.unparse(MODULES[name][0])
        assert "DeprecationWarning" in source or "moved=True" in source, name


def test_the_library_imports_nothing_above_it():
    for name, edges in GRAPH.items():
        if _is_library(name) and name != "cnnzoo":  # `cnnzoo` lists the public names.
            upward = sorted(t for t in edges if not _is_library(t)
                            and (name, t) not in DEPRECATED_ALIASES)
            assert not upward, f"{name} imports {upward}, which sit above it"


def _string_literals(tree):
    """Returns the strings written in `tree`, less package names given to import checks."""
    package_name_calls = {"_installed", "find_spec", "import_module", "importorskip"}
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else \
                getattr(node.func, "id", None)
            if function in package_name_calls:
                skipped.update(id(arg) for arg in node.args)
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skipped}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_file_name_is_spelled_in_one_module(layout):
    literals = {name: _string_literals(tree) for name, (tree, _) in MODULES.items()}
    spelled_in = {file_name: sorted(name for name, strings in literals.items()
                                    if file_name in strings)
                  for file_name in LAYOUTS[layout]}
    elsewhere = {file_name: names for file_name, names in spelled_in.items()
                 if names != [layout]}
    assert not elsewhere, f"spelled outside {layout} (import its names instead): {elsewhere}"
