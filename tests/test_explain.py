"""`cnnzoo explain`: top classes and a Grad-CAM figure from a .keras file, workdir or export."""

import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.explain import explain

CLASSES = ["circle", "square", "cross"]
SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "saved_models/resnet9_w24-fashion_mnist"


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


def test_an_export_is_explained_through_the_keras_model_it_carries(model, image_file,
                                                                   tmp_path, capsys):
    from cnnzoo.export import export_saved_model

    base = tmp_path / "served"
    export_saved_model(model, base, class_names=CLASSES, version=1)
    assert (base / "1" / "assets" / "cnnzoo_model.keras").is_file()
    image, pixels = image_file
    out = tmp_path / "cam.png"
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 0
    order, probabilities = _expected_top(model, pixels)
    assert capsys.readouterr().out.startswith(
        f"{image}: {CLASSES[order[0]]} {probabilities[order[0]]:.3f}")
    assert out.read_bytes().startswith(b"\x89PNG")


def test_an_older_export_needs_the_right_keras_file_beside_it(model, image_file, tmp_path,
                                                              capsys):
    from cnnzoo.export import export_saved_model

    base = tmp_path / "served"
    export_saved_model(model, base, class_names=CLASSES, version=1)
    (base / "1" / "assets" / "cnnzoo_model.keras").unlink()  # As exports before it had.
    image, pixels = image_file
    out = tmp_path / "cam.png"
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "without its Keras model" in error and "model.keras" in error
    assert not out.exists()

    other = cnnzoo.build("tutorial_5x5", input_shape=(12, 12, 1), num_classes=3)
    other.save(base / "model.keras")  # Same architecture, other weights: a stale file.
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 2
    assert "is not the model exported at" in capsys.readouterr().err
    assert not out.exists()

    model.save(base / "model.keras")
    assert main(["explain", str(base), str(image), "--out", str(out)]) == 0
    order, _ = _expected_top(model, pixels)
    assert capsys.readouterr().out.startswith(f"{image}: {CLASSES[order[0]]} ")
    assert out.is_file()


@pytest.fixture(scope="module")
def fashion_png(tmp_path_factory):
    images, labels, info = cnnzoo.load_arrays("fashion_mnist_sample", "test")
    path = tmp_path_factory.mktemp("fashion") / "image.png"
    path.write_bytes(tf.io.encode_png(images[0]).numpy())
    return path, images[0], info.class_names[labels[0]]


def test_the_shipped_export_is_explained(fashion_png, tmp_path, capsys):
    image, pixels, label = fashion_png
    out = tmp_path / "cam.png"
    assert main(["explain", str(SHIPPED), str(image), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{image}: {label} ")
    assert printed[1].startswith(f"Grad-CAM for {label!r} at layer ")
    assert out.read_bytes().startswith(b"\x89PNG")


def test_name_and_tag_are_explained_with_the_shipped_weights(fashion_png, capsys):
    image, pixels, label = fashion_png
    result = explain("mnist_cnn:fashion_mnist", image, top_k=1)
    expected = cnnzoo.build("mnist_cnn", weights="fashion_mnist").predict(
        pixels[None], verbose=0)[0]
    assert result["top_classes"] == [(label, pytest.approx(float(expected.max()), abs=1e-5))]
    assert result["model"] == "mnist_cnn" and result["heatmap"].max() > 0


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


def test_the_shipped_export_shows_grad_cam_on_its_served_page(fashion_png):
    import base64
    import threading
    import urllib.request

    from cnnzoo.serve import make_server

    image, pixels, label = fashion_png
    server = make_server(SHIPPED, host="127.0.0.1", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = json.dumps({"b64": base64.b64encode(image.read_bytes()).decode()}).encode()
        request = urllib.request.Request(server.url.split("/v1/")[0] + "/explain", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        server.shutdown()
        server.server_close()
    assert answer["note"] is None and answer["class_name"] == label
    overlay = base64.b64decode(answer["overlay"].split(",", 1)[1])
    assert tf.io.decode_png(overlay).shape == (28, 28, 3)
