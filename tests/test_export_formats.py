"""`export_model`'s other formats: .keras, TFLite/LiteRT (float32, float16, int8), ONNX."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnzoo.export import export_model
from test_export_saved_model import read_idx, trained_mnist_cnn


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return trained_mnist_cnn()


@pytest.fixture(scope="module")
def real_images():
    """256 real Fashion-MNIST test images (the shipped sample)."""
    return read_idx("t10k-images-idx3-ubyte.gz")[:256, ..., None]


@pytest.fixture(scope="module")
def reference(model, real_images):
    return model(real_images.astype("float32"), training=False).numpy()


def run_tflite(path, images, interpreter_class=None):
    """Returns the `serving_default` outputs of the .tflite file at `path`."""
    if interpreter_class is None:
        with warnings.catch_warnings():
            # TF 2.21 still ships tf.lite.Interpreter but warns that LiteRT replaces it.
            warnings.simplefilter("ignore", UserWarning)
            interpreter = tf.lite.Interpreter(model_path=str(path))
    else:
        interpreter = interpreter_class(model_path=str(path))
    return interpreter.get_signature_runner("serving_default")(images=images)


@pytest.fixture(scope="module")
def tflite_files(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    return {fmt: export_model(model, folder / f"{fmt}.tflite", format=fmt)
            for fmt in ("tflite", "tflite_float16", "tflite_int8")}


def test_tflite_float32_matches_keras(tflite_files, real_images, reference):
    outputs = run_tflite(tflite_files["tflite"], real_images)
    np.testing.assert_array_equal(outputs["probabilities"].argmax(-1), reference.argmax(-1))
    np.testing.assert_array_equal(outputs["class_ids"], reference.argmax(-1))
    assert np.abs(outputs["probabilities"] - reference).max() < 1e-4


@pytest.mark.parametrize("fmt, max_size", [("tflite_float16", 0.55), ("tflite_int8", 0.3)])
def test_quantised_tflite_agrees_and_is_smaller(tflite_files, real_images, reference, fmt,
                                               max_size, record_property):
    outputs = run_tflite(tflite_files[fmt], real_images)
    agreement = float((outputs["probabilities"].argmax(-1) == reference.argmax(-1)).mean())
    record_property("top1_agreement", agreement)
    print(f"{fmt}: top-1 agreement with Keras {agreement:.4f} on {len(real_images)} images")
    assert agreement >= 0.97
    ratio = tflite_files[fmt].stat().st_size / tflite_files["tflite"].stat().st_size
    assert ratio < max_size


def test_tflite_runs_in_litert(tflite_files, real_images, reference):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    outputs = run_tflite(tflite_files["tflite"], real_images, litert.Interpreter)
    assert np.abs(outputs["probabilities"] - reference).max() < 1e-4


@pytest.fixture(scope="module")
def full_int8_file(model, tmp_path_factory):
    """A full-integer export calibrated on 32 images of the sample's training split."""
    calibration = read_idx("train-images-idx3-ubyte.gz")[:32, ..., None]
    return export_model(model, tmp_path_factory.mktemp("int8") / "model.tflite",
                        format="tflite_full_int8", calibration=calibration)


def test_full_int8_tflite_is_integer_only_in_litert(full_int8_file, tflite_files):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(model_path=str(full_int8_file))
    (images,) = interpreter.get_input_details()
    assert (images["dtype"], images["quantization"]) == (np.uint8, (1.0, 0))
    outputs = {d["dtype"] for d in interpreter.get_output_details()}
    assert outputs == {np.uint8, np.int64}  # probabilities, class_ids
    interpreter.allocate_tensors()
    floats = [t["name"] for t in interpreter.get_tensor_details() if t["dtype"] == np.float32]
    assert floats == []
    assert full_int8_file.stat().st_size < 0.3 * tflite_files["tflite"].stat().st_size


def test_full_int8_tflite_agrees_with_float32(full_int8_file, real_images, reference):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    outputs = run_tflite(full_int8_file, real_images, litert.Interpreter)
    assert outputs["probabilities"].dtype == np.uint8
    np.testing.assert_array_equal(outputs["class_ids"], outputs["probabilities"].argmax(-1))
    agreement = float((outputs["class_ids"] == reference.argmax(-1)).mean())
    print(f"tflite_full_int8: top-1 agreement with Keras {agreement:.4f} on "
          f"{len(real_images)} images")
    assert agreement >= 0.95
    assert np.abs(outputs["probabilities"] / 256 - reference).max() < 0.2


@pytest.mark.parametrize("fmt, calibration, message", [
    ("tflite_full_int8", None, "which needs them"),
    ("tflite_int8", np.zeros((4, 28, 28, 1), np.uint8), "calibration images are taken by"),
    ("tflite_full_int8", np.zeros((4, 28, 28, 3), np.uint8), "raw pixels \\(N, 28, 28, 1\\)"),
    ("tflite_full_int8", np.full((4, 28, 28, 1), np.nan), "NaN, infinite or out-of-range"),
    ("tflite_full_int8", np.zeros((0, 28, 28, 1), np.uint8), "received dtype uint8, shape"),
])
def test_bad_calibration_is_refused(model, tmp_path, fmt, calibration, message):
    with pytest.raises(ValueError, match=message):
        export_model(model, tmp_path / "m.tflite", format=fmt, calibration=calibration)
    assert list(tmp_path.iterdir()) == []


def test_keras_file_round_trip(model, tmp_path, real_images, reference):
    path = export_model(model, tmp_path / "model.keras", format="keras")
    reloaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(reloaded(real_images[:16].astype("float32")), reference[:16],
                               atol=1e-6)


def test_onnx_matches_keras(model, tmp_path, real_images, reference):
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    path = export_model(model, tmp_path / "model.onnx", format="onnx")
    session = onnxruntime.InferenceSession(str(path))
    (output,) = session.run(None, {session.get_inputs()[0].name:
                                   real_images.astype("float32")})
    np.testing.assert_array_equal(output.argmax(-1), reference.argmax(-1))
    assert np.abs(output - reference).max() < 1e-4


def test_onnx_without_its_packages_says_what_to_install(model, tmp_path, monkeypatch):
    monkeypatch.setattr("cnnzoo.export.formats._importable", lambda name: name != "tf2onnx")
    with pytest.raises(ImportError, match="pip install tf2onnx"):
        export_model(model, tmp_path / "model.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt, name, kwargs, message", [
    ("tflite", "m.keras", {}, r"writes a \.tflite file"),
    ("keras", "m", {}, r"writes a \.keras file"),
    ("pb", "m.pb", {}, "unknown export format 'pb'"),
    ("tflite", "m.tflite", {"version": 1}, "stored only in SavedModel"),
    ("keras", "m.keras", {"class_names": list("abcdefghij")}, "stored only in SavedModel"),
])
def test_bad_format_arguments_are_refused(model, tmp_path, fmt, name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_model(model, tmp_path / name, format=fmt, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_file_formats_are_atomic_and_refuse_existing_files(model, tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"\x1c\0\0\0TFL3 old")  # An earlier export: overwrite replaces it.
    with pytest.raises(FileExistsError):
        export_model(model, target, format="tflite")

    def crash(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr("cnnzoo.export.formats.tflite_bytes", crash)
    with pytest.raises(RuntimeError):
        export_model(model, target, format="tflite", overwrite=True)
    assert target.read_bytes() == b"\x1c\0\0\0TFL3 old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]



def test_the_quantization_bench_measures_every_litert_format(tmp_path):
    """`bench_export --quantization` on a few images: one row per format, as committed."""
    pytest.importorskip("ai_edge_litert.interpreter")
    from bench.bench_export import QUANTIZED_FORMATS, quantization_rows

    images = read_idx("t10k-images-idx3-ubyte.gz")[:64, ..., None]
    labels = read_idx("t10k-labels-idx1-ubyte.gz")[:64]
    calibration = read_idx("train-images-idx3-ubyte.gz")[:16, ..., None]
    rows = quantization_rows("lenet5", str(tmp_path), (images, labels), calibration, calls=10)
    assert [row["format"] for row in rows] == list(QUANTIZED_FORMATS)
    sizes = {row["format"]: row["bytes"] for row in rows}
    assert sizes["tflite_full_int8"] < 0.4 * sizes["tflite"]
    assert all(float(row["agreement_with_float32"]) >= 0.9 for row in rows)
    assert all(0 < float(row["p50_ms"]) <= float(row["p99_ms"]) for row in rows)


def test_the_docs_quote_the_committed_quantization_results():
    import csv
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    rows = list(csv.DictReader((root / "bench" / "export_quantization.csv").open()))
    docs = (root / "docs" / "export.md").read_text()
    assert {row["format"] for row in rows} == {"tflite", "tflite_int8", "tflite_full_int8"}
    for row in rows:
        assert int(row["test_images"]) == 10_000
        assert (f"| `{row['model']}` | `{row['format']}` | {int(row['bytes']) / 1024:.0f} KB "
                f"| {float(row['size_vs_float32']):.2f}× | "
                f"{100 * float(row['test_accuracy']):.2f}% |") in docs
