"""`cnnzoo export`, `cnnzoo predict` and `cnnzoo serve`'s refusals, run in-process."""

import json
import socket

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.cli import main

CLASS_NAMES = [f"class_{i}" for i in range(10)]


@pytest.fixture(scope="module")
def model():
    return cnnzoo.build_mnist_cnn()


@pytest.fixture(scope="module")
def workdir(model, tmp_path_factory):
    """A training workdir as `cnnzoo train` leaves it."""
    folder = tmp_path_factory.mktemp("runs") / "mnist_cnn-fashion_mnist_sample"
    folder.mkdir()
    model.save(folder / "best.keras")
    (folder / "run.json").write_text(json.dumps({
        "model": "mnist_cnn", "dataset": "fashion_mnist_sample", "class_names": CLASS_NAMES,
        "input_shape": [28, 28, 1], "test_metrics": {"accuracy": 0.5}}))
    (folder / "evaluation.json").write_text(json.dumps({"accuracy": 0.8125, "split": "test"}))
    return folder


@pytest.fixture(scope="module")
def exported(workdir, tmp_path_factory):
    base = tmp_path_factory.mktemp("exports") / "mnist_cnn"
    assert main(["export", str(workdir), str(base), "--version", "1"]) == 0
    return base


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    pixels = np.random.default_rng(1).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    files = []
    for index, image in enumerate(pixels):
        files.append(folder / f"image{index}.png")
        files[-1].write_bytes(tf.io.encode_png(image).numpy())
    return files, pixels


def test_export_from_a_workdir_writes_the_card(exported):
    card = json.loads((exported / "1" / "assets" / "cnnzoo_card.json").read_text())
    assert card["class_names"] == CLASS_NAMES
    assert (card["model"], card["dataset"]) == ("mnist_cnn", "fashion_mnist_sample")
    assert (card["test_accuracy"], card["source"]) == (0.8125, "best.keras")


def test_export_refuses_an_existing_target(workdir, exported, capsys):
    assert main(["export", str(workdir), str(exported), "--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(workdir), str(exported), "--version", "1",
                 "--overwrite"]) == 0


def test_predict_prints_top_k(model, exported, image_files, capsys):
    files, pixels = image_files
    assert main(["predict", str(exported), *map(str, files), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = model(pixels.astype("float32")).numpy()
    assert len(lines) == 2
    for line, file, probabilities in zip(lines, files, expected):
        assert line.startswith(f"{file}: {CLASS_NAMES[probabilities.argmax()]} ")
        assert line.count("class_") == 2


@pytest.mark.parametrize("fmt, name", [("keras", "m.keras"), ("tflite", "m.tflite")])
def test_export_file_formats(workdir, tmp_path, fmt, name, capsys):
    assert main(["export", str(workdir), str(tmp_path / name), "--format", fmt]) == 0
    assert (tmp_path / name).stat().st_size > 100_000
    assert f"as {fmt} to" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["export", "{tmp}/missing.keras", "{tmp}/out"], "no model file or workdir"),
    (["export", "{tmp}", "{tmp}/out"], "without best.keras"),
    (["export", "{workdir}", "{tmp}/out.bin", "--format", "tflite"], "writes a .tflite"),
    (["export", "{workdir}", "{tmp}/m.tflite", "--format", "tflite", "--class-names", "a,b"],
     "stored only in SavedModel"),
    (["export", "{workdir}", "{tmp}/out", "--class-names", "a,b"], "one name per class"),
    (["export", "{workdir}", "{tmp}/a_file/out"], "is a file"),
    (["predict", "{tmp}", "{tmp}/x.png"], "is not a SavedModel"),
    (["predict", "{exported}", "{tmp}/missing.png"], "no image file"),
    (["predict", "{exported}", "{tmp}/a_file"], "is not a PNG, JPEG"),
    (["serve", "{exported}", "--host", "0.0.0.0"], "loopback only"),
])
def test_user_errors_exit_2_with_one_line(arguments, message, workdir, exported, tmp_path,
                                           capsys):
    (tmp_path / "a_file").write_text("not an image")
    arguments = [a.format(tmp=tmp_path, workdir=workdir, exported=exported)
                 for a in arguments]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_serve_refuses_a_taken_port(exported, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(exported), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_a_port_outside_0_to_65535(exported, port, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["serve", str(exported), "--port", port])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"argument --port: must be a port number from 0 to 65535; "
                          f"received {port!r}")
