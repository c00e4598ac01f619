"""Exports never delete what cnnzoo did not write: real folders and files, real CLI runs.

Issue 27: `cnnzoo export RUN "" --overwrite` replaced the folder it ran in, and
`--overwrite` removed any folder it was pointed at. Each test puts a user's file where an
export is asked to go and checks, after the refusal, that the file is still there.
"""

import json
import os
import subprocess
import sys

import pytest

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.export import export_model, export_saved_model
from cnnzoo.job import check_export_target


@pytest.fixture(scope="module")
def model():
    return cnnzoo.build("lenet5", input_shape=(32, 32, 1), num_classes=3)


@pytest.fixture(scope="module")
def keras_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("source") / "m.keras"
    model.save(path)
    return path


def _users_folder(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.txt").write_text("years of work")
    return folder


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_an_empty_path_is_refused_and_the_current_folder_kept(keras_file, tmp_path):
    """The CLI in a subprocess, run inside a user's folder, as the issue reported it."""
    work = _users_folder(tmp_path / "work")
    result = subprocess.run(
        [sys.executable, "-m", "cnnzoo", "export", str(keras_file), "", "--overwrite"],
        cwd=work, capture_output=True, text=True, timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("cnnzoo export: error: ")
    assert "empty" in result.stderr
    assert _tree(work) == ["thesis.txt"]
    assert (work / "thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_path_is_refused_by_the_library(model, tmp_path, monkeypatch, path):
    monkeypatch.chdir(_users_folder(tmp_path / "work"))
    for call in (lambda: export_saved_model(model, path, overwrite=True),
                 lambda: export_model(model, path, format="keras", overwrite=True)):
        with pytest.raises(ValueError, match="path is empty"):
            call()
    assert _tree(tmp_path / "work") == ["thesis.txt"]


@pytest.mark.parametrize("version", [None, 1])
def test_overwrite_refuses_a_users_folder(keras_file, tmp_path, capsys, version):
    base = tmp_path / "out"
    users = _users_folder(base / "1" if version else base)
    extra = ["--version", "1"] if version else []
    assert main(["export", str(keras_file), str(base), "--overwrite", *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "refusing to replace" in error
    assert str(users) in error and "thesis.txt" in error
    assert _tree(users) == ["thesis.txt"]


def test_overwrite_refuses_an_export_a_user_added_files_to(model, tmp_path):
    target = export_saved_model(model, tmp_path / "export")
    (target / "notes.md").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.md"):
        export_saved_model(model, target, overwrite=True)
    assert (target / "notes.md").read_text() == "mine"


def test_overwrite_refuses_a_saved_model_cnnzoo_did_not_write(model, tmp_path):
    target = tmp_path / "theirs"
    (target / "variables").mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"someone else's graph")
    with pytest.raises(FileExistsError, match="cnnzoo_card.json"):
        export_saved_model(model, target, overwrite=True)
    assert (target / "saved_model.pb").read_bytes() == b"someone else's graph"


def test_train_export_refuses_a_foreign_version_before_training(tmp_path):
    version = tmp_path / "base" / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"someone else's graph")
    with pytest.raises(FileExistsError, match="cnnzoo_card.json"):
        check_export_target(tmp_path / "base", workdir=tmp_path / "run", version=1)
    check_export_target(tmp_path / "base", workdir=tmp_path / "run", version=2)
    assert (version / "saved_model.pb").read_bytes() == b"someone else's graph"


def test_overwrite_replaces_cnnzoo_exports_and_empty_folders(model, tmp_path):
    first = export_saved_model(model, tmp_path / "base", version=1, metadata={"round": 1})
    export_saved_model(model, tmp_path / "base", version=1, metadata={"round": 2},
                       overwrite=True)
    card = json.loads((first / "assets" / "cnnzoo_card.json").read_text())
    assert card["round"] == 2
    (tmp_path / "empty").mkdir()
    assert export_saved_model(model, tmp_path / "empty", overwrite=True).is_dir()
    check_export_target(tmp_path / "base", workdir=tmp_path / "run", version=1)


@pytest.mark.parametrize("fmt, name", [("keras", "m.keras"), ("tflite", "m.tflite"),
                                       ("onnx", "m.onnx")])
def test_overwrite_refuses_a_users_file_with_the_suffix(model, tmp_path, fmt, name):
    target = tmp_path / name
    target.write_text("my notes, not a model")
    with pytest.raises(FileExistsError, match=f"not a {fmt} file"):
        export_model(model, target, format=fmt, overwrite=True)
    assert target.read_text() == "my notes, not a model"


def test_overwrite_replaces_a_keras_file_it_wrote(model, tmp_path):
    target = export_model(model, tmp_path / "m.keras", format="keras")
    os.utime(target, (0, 0))
    export_model(model, target, format="keras", overwrite=True)
    assert target.stat().st_mtime > 0


def test_overwrite_refuses_a_symbolic_link(model, tmp_path):
    real = _users_folder(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(FileExistsError, match="symbolic link"):
        export_saved_model(model, tmp_path / "link", overwrite=True)
    assert (tmp_path / "link").is_symlink() and _tree(real) == ["thesis.txt"]
