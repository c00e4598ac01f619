"""`cnnzoo.atomic`: all-or-nothing writes whose results are readable as the umask says."""

import os
import stat

import pytest

import cnnzoo
from cnnzoo.atomic import (atomic_directory, atomic_file, save_model_atomically,
                           write_atomically)


@pytest.fixture
def umask_022(monkeypatch):
    """Runs the test under umask 0o022 (files 0o644, folders 0o755), restored after."""
    old = os.umask(0o022)
    monkeypatch.setattr("cnnzoo.atomic._cached_umask", None)  # Where /proc is unavailable.
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_written_file_has_the_umask_mode(tmp_path, umask_022):
    path = write_atomically(tmp_path / "run.json", '{"epochs": 3}\n')
    assert path.read_text() == '{"epochs": 3}\n'
    assert _mode(path) == 0o644
    write_atomically(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01" and _mode(path) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_file_mode_follows_another_umask(tmp_path, monkeypatch):
    old = os.umask(0o077)
    monkeypatch.setattr("cnnzoo.atomic._cached_umask", None)
    try:
        path = write_atomically(tmp_path / "private.txt", "secret")
    finally:
        os.umask(old)
    assert _mode(path) == 0o600


def test_exported_folder_has_the_umask_modes(tmp_path, umask_022):
    with atomic_directory(tmp_path / "export" / "1") as temporary:
        (temporary / "variables").mkdir()
        (temporary / "variables" / "variables.index").write_bytes(b"index")
        (temporary / "saved_model.pb").write_bytes(b"graph")
        os.chmod(temporary / "saved_model.pb", 0o600)  # As a writer using mkstemp would.
    target = tmp_path / "export" / "1"
    assert _mode(target) == 0o755 and _mode(target / "variables") == 0o755
    assert _mode(target / "saved_model.pb") == 0o644
    assert _mode(target / "variables" / "variables.index") == 0o644
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["1"]


def test_keras_model_is_saved_with_the_umask_mode(tmp_path, umask_022):
    import keras

    path = save_model_atomically(cnnzoo.build_lenet5(), tmp_path / "best.keras")
    assert _mode(path) == 0o644 and [p.name for p in tmp_path.iterdir()] == ["best.keras"]
    assert keras.saving.load_model(path, compile=False).name == "lenet5"


@pytest.mark.parametrize("writer", [atomic_directory, atomic_file])
def test_existing_target_is_refused_before_anything_is_written(tmp_path, writer):
    (tmp_path / "target").mkdir()
    (tmp_path / "file").write_text("old")
    for name in ("target", "file"):
        with pytest.raises(FileExistsError, match="overwrite=True"):
            with writer(tmp_path / name):
                pytest.fail("the body must not run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "target"]


@pytest.mark.parametrize("writer", [atomic_directory, atomic_file])
def test_target_inside_a_file_is_refused(tmp_path, writer):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="is a file"):
        with writer(tmp_path / "a_file" / "deeper" / "export"):
            pytest.fail("the body must not run")
    with pytest.raises(NotADirectoryError, match="is a file"):
        write_atomically(tmp_path / "a_file" / "x.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


def test_a_file_and_a_folder_do_not_replace_each_other(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("old")
    with pytest.raises(IsADirectoryError):
        write_atomically(tmp_path / "folder", "x")
    with pytest.raises(NotADirectoryError):
        with atomic_directory(tmp_path / "file", overwrite=True):
            pytest.fail("the body must not run")
    assert (tmp_path / "file").read_text() == "old" and (tmp_path / "folder").is_dir()


def test_failure_leaves_no_temporary_folder_and_the_old_target(tmp_path):
    target = tmp_path / "export"
    with atomic_directory(target) as temporary:
        (temporary / "saved_model.pb").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="converter crashed"):
        with atomic_directory(target, overwrite=True) as temporary:
            (temporary / "saved_model.pb").write_bytes(b"half")
            raise RuntimeError("converter crashed")
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert (target / "saved_model.pb").read_bytes() == b"old"
    with atomic_directory(target, overwrite=True) as temporary:
        (temporary / "saved_model.pb").write_bytes(b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert (target / "saved_model.pb").read_bytes() == b"new"


def test_failed_file_write_leaves_no_temporary_file_and_the_old_file(tmp_path):
    target = write_atomically(tmp_path / "last.keras", b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(target, overwrite=True) as temporary:
            assert temporary.suffix == ".keras" and temporary.parent == tmp_path
            temporary.write_bytes(b"half")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["last.keras"]
    assert target.read_bytes() == b"old"


def test_write_refuses_other_data():
    with pytest.raises(TypeError, match="bytes or str; received dict"):
        write_atomically("x.json", {"a": 1})
