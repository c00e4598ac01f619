"""The command line under real faults: a read-only folder, a full disk, a decompression
bomb or a cut-short image in an image folder. Each ends in one `cnnzoo CMD: error:` line
naming the place and exit status 2, never a traceback; a bug still shows its traceback.

The file systems are real: a tmpfs mounted read-only or of a few hundred KB (root only;
elsewhere a folder without write permission stands in, or the test is skipped).
"""

import os
import struct
import subprocess
import zlib

import numpy as np
import pytest

import cnnzoo
from cnnzoo.cli import main


def _mount_tmpfs(folder, options):
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    return folder


def _unmount(folder):
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into: a read-only tmpfs as root, else mode 0o555."""
    folder = tmp_path / "read_only"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    _mount_tmpfs(folder, "ro,size=64k")
    yield folder
    _unmount(folder)


@pytest.fixture
def full_folder(tmp_path):
    """A tmpfs of 256 KB, already full (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = _mount_tmpfs(tmp_path / "full", "size=256k")
    with open(folder / "filler", "wb") as filler:
        try:
            while True:
                filler.write(bytes(64 * 1024))
                filler.flush()
        except OSError:
            pass
    yield folder
    _unmount(folder)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_errors") / "model.keras"
    cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=10).save(path)
    return path


def _one_error_line(capsys, command, *words):
    """Returns the only stderr line, checked to be `command`'s error holding `words`."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"cnnzoo {command}: error: "), err
    for word in words:
        assert word.lower() in err.lower(), err
    return err


def test_train_into_a_read_only_workdir(read_only_folder, capsys):
    workdir = read_only_folder / "run"
    status = main(["train", "tutorial_5x5", "--dataset", "digits", "--limit", "64",
                   "--epochs", "1", "--workdir", str(workdir)])
    assert status == 2
    _one_error_line(capsys, "train", str(workdir))
    assert not workdir.exists()


def test_evaluate_output_into_a_read_only_folder(read_only_folder, model_file, capsys):
    status = main(["evaluate", str(model_file), "--dataset", "digits", "--limit", "32",
                   "--output", str(read_only_folder / "result.json")])
    assert status == 2
    _one_error_line(capsys, "evaluate", str(read_only_folder))
    assert os.listdir(read_only_folder) == []


@pytest.mark.parametrize("format", ["saved_model", "keras"])
def test_export_onto_a_full_disk(full_folder, model_file, format, capsys):
    target = full_folder / ("export" if format == "saved_model" else "model.keras")
    status = main(["export", str(model_file), str(target), "--format", format])
    assert status == 2
    _one_error_line(capsys, "export", "No space left on device", "free some space")
    assert os.listdir(full_folder) == ["filler"]  # Nothing half-written left behind.


def test_train_onto_a_full_disk(full_folder, capsys):
    status = main(["train", "tutorial_5x5", "--dataset", "digits", "--limit", "64",
                   "--epochs", "1", "--workdir", str(full_folder / "run")])
    assert status == 2
    _one_error_line(capsys, "train", "No space left on device")


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _gray_png(width, height, rows):
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(rows, 9)) + _png_chunk(b"IEND", b""))


def _image_folder(root, bad_name, bad_bytes):
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        (root / label / "0.png").write_bytes(_gray_png(8, 8, bytes(9 * 8)))
    (root / "b" / bad_name).write_bytes(bad_bytes)
    return root


@pytest.mark.parametrize("bad_name, bad_bytes, words", [
    # 20000x20000 declared: 400 MB decoded, refused from its 33-byte header.
    ("bomb.png", _gray_png(20000, 20000, b"\0" * 20001), ["bomb.png", "20000x20000"]),
    ("cut.png", _gray_png(64, 64, np.random.default_rng(0).integers(
        0, 256, 65 * 64, np.uint8).tobytes())[:2000], ["cut.png", "cannot be decoded"]),
    ("garbage.png", b"\x89PNG\r\n\x1a\n" + bytes(40), ["garbage.png", "corrupt"]),
], ids=["decompression-bomb", "cut-short", "garbage"])
def test_train_on_an_image_folder_with_a_bad_image(tmp_path, bad_name, bad_bytes, words,
                                                   capsys):
    folder = _image_folder(tmp_path / "pets", bad_name, bad_bytes)
    status = main(["train", "tutorial_5x5", "--dataset", str(folder), "--epochs", "1",
                   "--workdir", str(tmp_path / "run")])
    assert status == 2
    _one_error_line(capsys, "train", *words)


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(path):
        raise TypeError("a bug, not a user error")

    monkeypatch.setattr("cnnzoo.artifacts.load_export_source", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["export", str(tmp_path / "model.keras"), str(tmp_path / "out")])


def test_verbose_shows_the_traceback_of_a_user_error(tmp_path, capsys):
    status = main(["-v", "evaluate", str(tmp_path / "none.keras"), "--dataset", "digits"])
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "FileNotFoundError" in err
    assert err.strip().splitlines()[-1].startswith("cnnzoo evaluate: error: no model file")
