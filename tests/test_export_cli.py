"""`cnnzoo export`, `cnnzoo predict` and `cnnzoo serve`'s refusals, run in-process."""

import json
import os
import pathlib
import socket

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
import cnnzoo.pretrained
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


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    """A workdir whose best.keras holds the shipped Fashion-MNIST mnist_cnn weights."""
    folder = tmp_path_factory.mktemp("runs") / "mnist_cnn-fashion_mnist"
    folder.mkdir()
    cnnzoo.build("mnist_cnn", weights="fashion_mnist").save(folder / "best.keras")
    return folder


@pytest.fixture(scope="module")
def sample():
    images, labels, info = cnnzoo.load_arrays("fashion_mnist_sample", "test")
    reference = cnnzoo.build("mnist_cnn", weights="fashion_mnist", compile=False).predict(
        images, verbose=0)
    return images, labels, info.class_names, reference


def test_onnx_export_of_a_workdir_runs_in_onnxruntime(trained_workdir, sample, tmp_path):
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    path = tmp_path / "mnist_cnn.onnx"
    assert main(["export", str(trained_workdir), str(path), "--format", "onnx"]) == 0
    images, labels, _, reference = sample
    session = onnxruntime.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["images"]
    (output,) = session.run(None, {"images": images.astype("float32")})
    np.testing.assert_array_equal(output.argmax(-1), reference.argmax(-1))
    assert np.abs(output - reference).max() < 1e-4
    assert (output.argmax(-1) == labels).mean() > 0.85


@pytest.mark.parametrize("source", [["mnist_cnn", "--weights", "fashion_mnist"],
                                    ["mnist_cnn:fashion_mnist"]])
def test_export_a_registered_model_with_its_shipped_weights(source, sample, tmp_path):
    from cnnzoo.export import load_exported

    assert main(["export", *source, str(tmp_path / "served"), "--version", "1"]) == 0
    predictor = load_exported(tmp_path / "served")
    entry = cnnzoo.pretrained.weights_for("mnist_cnn")[0]
    assert (predictor.card["model"], predictor.card["tag"]) == ("mnist_cnn", "fashion_mnist")
    assert predictor.card["test_accuracy"] == entry.test_accuracy
    assert predictor.class_names == list(entry.class_names)
    images, _, _, reference = sample
    assert np.abs(predictor.predict(images[:64]) - reference[:64]).max() < 1e-5


def test_predict_a_registered_model_with_its_shipped_weights(sample, tmp_path, capsys):
    images, _, class_names, reference = sample
    files = []
    for index in range(3):
        files.append(tmp_path / f"image{index}.png")
        files[-1].write_bytes(tf.io.encode_png(images[index]).numpy())
    assert main(["predict", "mnist_cnn:fashion_mnist", *map(str, files), "--top-k", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{file}: {class_names[p.argmax()]} {p.max():.3f}"
                     for file, p in zip(files, reference)]


@pytest.mark.parametrize("arguments, message", [
    (["predict", "mnist_cnn:imagenet", "x.png"], "unknown weights 'imagenet'"),
    (["serve", "lenet:fashion_mnist"], "unknown model 'lenet'; did you mean 'lenet5'"),
    (["export", "mnist_cnn:fashion_mnist", "out", "--weights", "other"],
     "--weights other takes a registered model name"),
    (["export", "mnist_cnn", "out"], "NAME:TAG for a registered model"),
])
def test_bad_name_and_tag_exit_2_with_one_line(arguments, message, tmp_path, capsys,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_serve_a_registered_model_and_clean_up(tmp_path):
    """`cnnzoo serve NAME:TAG` in a real process: it answers, and Ctrl-C removes its export."""
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "cnnzoo", "serve", "lenet5:fashion_mnist", "--port", "0"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    export = None
    try:
        line = process.stdout.readline()
        match = re.search(r"from (\S+) at (http://\S+)", line)
        assert match, line + errors.read_text()[-2000:]
        export, url = match.groups()
        with urllib.request.urlopen(url + "/metadata", timeout=30) as response:
            card = json.loads(response.read())["metadata"]["cnnzoo_card"]
        assert (card["model"], card["tag"]) == ("lenet5", "fashion_mnist")
        assert pathlib.Path(export, "saved_model.pb").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0, errors.read_text()[-2000:]
    assert not pathlib.Path(export).exists()


def test_full_int8_export_from_the_cli(sample, tmp_path, capsys):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    path = tmp_path / "mnist_cnn.tflite"
    assert main(["export", "mnist_cnn:fashion_mnist", str(path), "--format",
                 "tflite_full_int8", "--calibration", "fashion_mnist_sample",
                 "--calibration-size", "32"]) == 0
    assert "as tflite_full_int8 to" in capsys.readouterr().out
    images, _, _, reference = sample
    runner = litert.Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    class_ids = runner(images=images[:200])["class_ids"]
    assert (class_ids == reference[:200].argmax(-1)).mean() >= 0.95


@pytest.mark.parametrize("arguments, message", [
    (["--format", "tflite_full_int8"], "pass --calibration DATASET"),
    (["--format", "tflite", "--calibration", "digits"], "apply to --format tflite_full_int8"),
])
def test_full_int8_needs_a_dataset_to_calibrate_on(arguments, message, trained_workdir,
                                                   tmp_path, capsys):
    assert main(["export", str(trained_workdir), str(tmp_path / "m.tflite"), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
