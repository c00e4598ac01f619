"""`cnnzoo explain`: top classes and a Grad-CAM figure from a .keras file, workdir or export."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.explain import explain

CLASSES = ["circle", "square", "cross"]


@pytest.fixture(scope="module")
def model():
    model = cnnzoo.build("tutorial_5x5", input_shape=(12, 12, 1), num_classes=3)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


@pytest.fixture
def image_file(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, size=(12, 12, 1)).astype("uint8")
    path = tmp_path / "image.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path, pixels


def _expected_top(model, pixels):
    probabilities = model.predict(pixels[None].astype("float32"), verbose=0)[0]
    return np.argsort(-probabilities, kind="stable"), probabilities


def test_cli_explains_a_keras_file(model, image_file, tmp_path, capsys):
    model_file = tmp_path / "model.keras"
    model.save(model_file)
    image, pixels = image_file
    out = tmp_path / "cam.png"
    assert main(["explain", str(model_file), str(image), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    order, probabilities = _expected_top(model, pixels)
    # No class names in a bare .keras file: classes are shown by index.
    assert printed[0] == f"{image}: " + ", ".join(
        f"{i} {probabilities[i]:.3f}" for i in order)
    assert printed[1] == f"Grad-CAM for '{order[0]}' at layer pool2: wrote {out}"
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 2000


def test_workdir_class_names_a_named_class_and_a_layer(model, image_file, tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    model.save(workdir / "best.keras")
    (workdir / "run.json").write_text(json.dumps({"model": "tutorial_5x5",
                                                  "class_names": CLASSES}))
    image, pixels = image_file
    result = explain(workdir, image, target="cross", layer="conv1", top_k=2)
    order, probabilities = _expected_top(model, pixels)
    assert result["top_classes"] == [(CLASSES[i], pytest.approx(float(probabilities[i])))
                                     for i in order[:2]]
    assert (result["class_index"], result["class_name"], result["layer"]) == (2, "cross",
                                                                              "conv1")
    assert result["heatmap"].shape == (12, 12) and result["out"] is None


def test_an_export_needs_its_keras_file_beside_it(model, image_file, tmp_path, capsys):
    from cnnzoo.export import export_saved_model

    base = tmp_path / "served"
    export_saved_model(model, base, class_names=CLASSES, version=1)
    image, pixels = image_file
    out = tmp_path / "cam.png"
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "holds the serving graph" in error and "model.keras" in error
    assert not out.exists()
    model.save(base / "model.keras")
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 0
    order, _ = _expected_top(model, pixels)
    assert capsys.readouterr().out.startswith(f"{image}: {CLASSES[order[0]]} ")
    assert out.is_file()


@pytest.mark.parametrize("arguments,message", [
    (["--class", "dog"], "unknown class 'dog'; choose one of \\[0, 1, 2\\]"),
    (["--layer", "predictions"], "'predictions' is not a convolutional feature map"),
])
def test_bad_requests_exit_2_with_the_choices(model, image_file, tmp_path, capsys,
                                              arguments, message):
    model_file = tmp_path / "model.keras"
    model.save(model_file)
    image, _ = image_file
    assert main(["explain", str(model_file), str(image), "--out",
                 str(tmp_path / "cam.png")] + arguments) == 2
    assert re.search(message, capsys.readouterr().err)


def test_missing_and_undecodable_images(model, tmp_path, capsys):
    model_file = tmp_path / "model.keras"
    model.save(model_file)
    assert main(["explain", str(model_file), str(tmp_path / "none.png"), "--out",
                 str(tmp_path / "cam.png")]) == 2
    assert "no image file" in capsys.readouterr().err
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert main(["explain", str(model_file), str(text), "--out",
                 str(tmp_path / "cam.png")]) == 2
    assert "not an image TensorFlow can decode" in capsys.readouterr().err
