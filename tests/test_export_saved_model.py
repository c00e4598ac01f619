"""SavedModel export: signatures, proof in a TensorFlow-only process, bad input, atomicity."""

import gzip
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.export import ImageInputError, export_saved_model, load_exported

SAMPLE = pathlib.Path(cnnzoo.__file__).parent / "data" / "samples" / "fashion_mnist_sample"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
METADATA = {"dataset": "fashion_mnist_sample", "test_accuracy": 0.75}


def read_idx(name):
    """Returns the uint8 array in the sample's gzipped IDX file `name`."""
    data = gzip.decompress((SAMPLE / name).read_bytes())
    rank = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(shape)


def trained_mnist_cnn(steps=32):
    """Returns mnist_cnn after `steps` batches of real Fashion-MNIST (non-uniform outputs)."""
    images = read_idx("train-images-idx3-ubyte.gz")[: steps * 64, ..., None]
    labels = read_idx("train-labels-idx1-ubyte.gz")[: steps * 64]
    model = cnnzoo.build_mnist_cnn()
    model.fit(images.astype("float32"), labels, batch_size=64, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return trained_mnist_cnn()


@pytest.fixture(scope="module")
def test_images():
    return read_idx("t10k-images-idx3-ubyte.gz")[:64, ..., None]


@pytest.fixture(scope="module")
def export_dir(model, tmp_path_factory):
    return export_saved_model(model, tmp_path_factory.mktemp("export") / "mnist_cnn",
                              class_names=CLASS_NAMES, metadata=METADATA)


@pytest.fixture(scope="module")
def signatures(export_dir):
    loaded = tf.saved_model.load(str(export_dir))
    return loaded, loaded.signatures


def keras_probabilities(model, images):
    return model(images.astype("float32"), training=False).numpy()


def png(image):
    return tf.io.encode_png(image).numpy()


def test_model_is_not_uniform(model, test_images):
    """Guards the comparisons below: a trained model's probabilities differ by image."""
    probabilities = keras_probabilities(model, test_images)
    assert probabilities.max() > 0.5
    assert len(set(probabilities.argmax(-1))) >= 3


PROOF_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    before = set(sys.modules)
    export, images_file, out_file = sys.argv[1:]
    serve = tf.saved_model.load(export).signatures["serving_default"]
    outputs = serve(images=tf.constant(np.load(images_file)))
    np.save(out_file, outputs["probabilities"].numpy())
    print(json.dumps({
        "class_names": [n.decode() for n in outputs["class_names"].numpy()],
        "class_ids": outputs["class_ids"].numpy().tolist(),
        "new_keras_modules": sorted(m for m in set(sys.modules) - before if "keras" in m),
        "cnnzoo_imported": any(m.startswith("cnnzoo") for m in sys.modules),
    }))
""")


@pytest.mark.slow
def test_tensorflow_only_process_gets_the_keras_probabilities(model, export_dir, test_images,
                                                               tmp_path):
    np.save(tmp_path / "images.npy", test_images)
    (tmp_path / "proof.py").write_text(PROOF_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "proof.py"), str(export_dir),
         str(tmp_path / "images.npy"), str(tmp_path / "out.npy")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["cnnzoo_imported"]
    assert report["new_keras_modules"] == []
    expected = keras_probabilities(model, test_images)
    assert np.abs(np.load(tmp_path / "out.npy") - expected).max() < 1e-5
    assert report["class_ids"] == expected.argmax(-1).tolist()
    assert report["class_names"] == [CLASS_NAMES[i] for i in expected.argmax(-1)]


@pytest.mark.slow
def test_saved_model_cli_lists_every_signature(export_dir):
    command = shutil.which("saved_model_cli")
    command = [command] if command else [sys.executable, "-m",
                                         "tensorflow.python.tools.saved_model_cli"]
    result = subprocess.run([*command, "show", "--all", "--dir", str(export_dir)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in ("signature_def['serving_default']", "signature_def['serving_bytes']",
                     "signature_def['serving_tf_example']", "inputs['images']",
                     "inputs['image_bytes']", "DT_UINT8", "shape: (-1, 28, 28, 1)",
                     "outputs['probabilities']", "outputs['class_ids']",
                     "outputs['class_names']"):
        assert expected in result.stdout


def test_signature_specs(signatures):
    _, found = signatures
    default = found["serving_default"]
    spec = default.structured_input_signature[1]["images"]
    assert (spec.dtype, spec.shape.as_list()) == (tf.uint8, [None, 28, 28, 1])
    outputs = default.structured_outputs
    assert (outputs["probabilities"].dtype, outputs["probabilities"].shape.as_list()) == \
        (tf.float32, [None, 10])
    assert outputs["class_ids"].dtype == tf.int64
    assert outputs["class_names"].dtype == tf.string
    assert found["serving_bytes"].structured_input_signature[1]["image_bytes"].dtype == \
        tf.string


def test_bytes_signature_matches_uint8(signatures, test_images):
    _, found = signatures
    direct = found["serving_default"](images=tf.constant(test_images[:8]))
    encoded = tf.constant([png(image) for image in test_images[:8]])
    through_bytes = found["serving_bytes"](image_bytes=encoded)
    np.testing.assert_array_equal(through_bytes["probabilities"], direct["probabilities"])
    np.testing.assert_array_equal(through_bytes["class_names"], direct["class_names"])


def test_bytes_signature_resizes_other_sizes(signatures, test_images):
    _, found = signatures
    large = tf.image.resize(test_images[:2], (56, 42), method="nearest").numpy()
    jpeg = [tf.io.encode_jpeg(image, quality=100).numpy() for image in large]
    outputs = found["serving_bytes"](image_bytes=tf.constant(jpeg))
    decoded = tf.stack([tf.io.decode_jpeg(j, channels=1) for j in jpeg])
    resized = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(decoded, (28, 28))), 0, 255),
                      tf.uint8)
    expected = found["serving_default"](images=resized)["probabilities"]
    assert outputs["probabilities"].shape == (2, 10)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)


@pytest.mark.parametrize("fmt, mode", [("GIF", "L"), ("BMP", "L"), ("WEBP", "L"),
                                       ("PNG", "RGB"), ("PNG", "LA")])
def test_bytes_signature_takes_other_formats_and_modes(signatures, test_images, fmt, mode):
    """Lossless images of the same gray pixels, whatever the format or colour mode."""
    pil = pytest.importorskip("PIL.Image")
    _, found = signatures
    encoded = []
    for image in test_images[:2]:
        buffer = io.BytesIO()
        pil.fromarray(image[..., 0]).convert(mode).save(buffer, format=fmt, lossless=True)
        encoded.append(buffer.getvalue())
    outputs = found["serving_bytes"](image_bytes=tf.constant(encoded))
    direct = found["serving_default"](images=tf.constant(test_images[:2]))
    np.testing.assert_allclose(outputs["probabilities"], direct["probabilities"], atol=1e-6)


def test_tf_example_signature_matches_uint8(signatures, test_images):
    _, found = signatures
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png(image)]))
    })).SerializeToString() for image in test_images[:4]]
    outputs = found["serving_tf_example"](examples=tf.constant(examples))
    direct = found["serving_default"](images=tf.constant(test_images[:4]))
    np.testing.assert_array_equal(outputs["probabilities"], direct["probabilities"])


@pytest.mark.parametrize("shape", [(28, 28, 1), (2, 27, 28, 1), (2, 28, 28, 3),
                                   (1, 2, 28, 28, 1), (28, 28)],
                         ids=["rank3", "size", "channels", "rank5", "rank2"])
def test_signature_names_the_expected_shape_and_dtype(signatures, shape):
    _, found = signatures
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"uint8 with shape \[batch, 28, 28, 1\]"):
        found["serving_default"](images=tf.zeros(shape, tf.uint8))


def test_signature_refuses_another_dtype(signatures):
    _, found = signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8"):
        found["serving_default"](images=tf.zeros((1, 28, 28, 1), tf.float32))


def test_signature_refuses_undecodable_bytes(signatures):
    _, found = signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match="image file format"):
        found["serving_bytes"](image_bytes=tf.constant([b"not an image"]))


def test_model_card_asset(export_dir):
    card = json.loads((export_dir / "assets" / "cnnzoo_card.json").read_text())
    assert card["name"] == "mnist_cnn"
    assert card["input_shape"] == [28, 28, 1]
    assert card["class_names"] == CLASS_NAMES
    assert (card["dataset"], card["test_accuracy"]) == ("fashion_mnist_sample", 0.75)
    assert set(card["signatures"]) == {"serving_default", "serving_bytes",
                                       "serving_tf_example"}


def stored_values(saved_model_dir):
    """Returns how many numbers the SavedModel's checkpoint stores."""
    prefix = str(saved_model_dir / "variables" / "variables")
    return sum(int(np.prod(shape)) for name, shape in tf.train.list_variables(prefix)
               if not name.startswith("_CHECKPOINTABLE"))


def test_each_weight_is_stored_once(model, export_dir, tmp_path):
    assert stored_values(export_dir) == model.count_params()
    # Batch norm's moving statistics (non-trainable) are stored once too, and restored.
    keras.utils.set_random_seed(1)
    bn_model = cnnzoo.build("resnet20", input_shape=(16, 16, 1))
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1)).astype("uint8")
    bn_model.fit(images.astype("float32"), np.arange(8) % 10, epochs=1, verbose=0)
    path = export_saved_model(bn_model, tmp_path / "bn")
    assert stored_values(path) == bn_model.count_params()
    np.testing.assert_allclose(load_exported(path).predict(images),
                               bn_model.predict(images.astype("float32"), verbose=0),
                               atol=1e-5)


def test_predictor_matches_keras(model, export_dir, test_images):
    predictor = load_exported(export_dir)
    assert predictor.input_shape == (28, 28, 1)
    assert predictor.class_names == CLASS_NAMES
    expected = keras_probabilities(model, test_images)
    np.testing.assert_allclose(predictor.predict(test_images), expected, atol=1e-5)
    np.testing.assert_allclose(predictor.predict(test_images, batch_size=5), expected,
                               atol=1e-5)
    np.testing.assert_allclose(predictor.predict(test_images.astype("float64")), expected,
                               atol=1e-5)
    np.testing.assert_allclose(predictor.predict([png(i) for i in test_images[:3]]),
                               expected[:3], atol=1e-5)
    assert predictor.predict(test_images[:0]).shape == (0, 10)


def test_predictor_top_k(model, export_dir, test_images):
    ids, names, probabilities = load_exported(export_dir).top_k(test_images[:4], k=3)
    expected = keras_probabilities(model, test_images[:4])
    np.testing.assert_array_equal(ids[:, 0], expected.argmax(-1))
    assert (np.diff(probabilities, axis=-1) <= 0).all()
    np.testing.assert_allclose(probabilities, np.take_along_axis(expected, ids, -1),
                               atol=1e-5)
    assert names[0] == [CLASS_NAMES[i] for i in ids[0]]
    with pytest.raises(ValueError, match="k must be an integer from 1 to 10"):
        load_exported(export_dir).top_k(test_images[:1], k=11)


@pytest.mark.parametrize("images, message", [
    (np.zeros((28, 28, 1), np.uint8), r"received shape \[28, 28, 1\]"),
    (np.zeros((2, 28, 28, 3), np.uint8), r"received shape \[2, 28, 28, 3\]"),
    (np.full((1, 28, 28, 1), -1.0), r"outside \[0, 255\]"),
    (np.array([["a"]]), "received dtype"),
    ([b"not an image"], "image 0 .* is not a PNG, JPEG"),
])
def test_predictor_bad_input_is_clear(export_dir, images, message):
    predictor = load_exported(export_dir)
    with pytest.raises(ImageInputError, match=message) as caught:
        predictor.predict(images)
    assert isinstance(caught.value, tf.errors.InvalidArgumentError)
    assert isinstance(caught.value, ValueError)


def test_load_exported_refuses_what_is_not_an_export(tmp_path):
    with pytest.raises(FileNotFoundError, match="no export"):
        load_exported(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a SavedModel"):
        load_exported(tmp_path)
    module = tf.Module()
    module.double = tf.function(lambda x: 2 * x,
                                input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "other"),
                        signatures={"double": module.double})
    with pytest.raises(ValueError, match="lacks the 'serving_default' signature"):
        load_exported(tmp_path / "other")


def test_version_folder_for_tensorflow_serving(model, tmp_path):
    base = tmp_path / "saved_models" / "mnist_cnn"
    first = export_saved_model(model, base, version=1)
    second = export_saved_model(model, base, version=2)
    assert (first, second) == (base / "1", base / "2")
    assert (second / "saved_model.pb").is_file()
    assert load_exported(base).path == second
    with pytest.raises(ValueError, match="version must be a positive integer"):
        export_saved_model(model, base, version=0)


def test_find_saved_model_takes_only_numbered_versions(model, tmp_path):
    from cnnzoo.export import find_saved_model

    base = tmp_path / "mnist_cnn"
    export_saved_model(model, base, version=2)
    export_saved_model(model, base, version=10)
    shutil.copytree(base / "2", base / "backup")  # Not a version: TF Serving ignores it.
    assert find_saved_model(base) == base / "10"
    assert find_saved_model(base / "10") == base / "10"
    assert find_saved_model(base / "10" / "saved_model.pb") is None
    assert find_saved_model(tmp_path) is None and find_saved_model(tmp_path / "x") is None


def test_export_is_readable_by_other_users(model, tmp_path, monkeypatch):
    import stat

    old = os.umask(0o022)
    monkeypatch.setattr("cnnzoo.atomic._cached_umask", None)
    try:
        path = export_saved_model(model, tmp_path / "export", version=1)
    finally:
        os.umask(old)
    modes = {p.is_dir(): set() for p in (path, path / "saved_model.pb")}
    for item in [path, *path.rglob("*")]:
        modes[item.is_dir()].add(stat.S_IMODE(item.stat().st_mode))
    assert modes == {True: {0o755}, False: {0o644}}


def test_export_logs_no_temporary_folder(model, tmp_path):
    import logging

    logger, stream = tf.get_logger(), io.StringIO()
    handler, level = logging.StreamHandler(stream), tf.get_logger().level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        export_saved_model(model, tmp_path / "export")
        assert logger.level == logging.INFO
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert ".partial-" not in stream.getvalue()


def test_existing_target_is_refused_without_overwrite(model, tmp_path):
    target = export_saved_model(model, tmp_path / "export", metadata={"round": 1})
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, target, metadata={"round": 2})
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    export_saved_model(model, target, metadata={"round": 2}, overwrite=True)
    card = json.loads((target / "assets" / "cnnzoo_card.json").read_text())
    assert card["round"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_target_inside_a_file_is_refused(model, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="is a file"):
        export_saved_model(model, tmp_path / "a_file" / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_interrupted_export_leaves_nothing(model, tmp_path, monkeypatch):
    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", crash)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(model, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


def test_bad_class_names_and_models_are_refused(model, tmp_path):
    with pytest.raises(ValueError, match="one name per class"):
        export_saved_model(model, tmp_path / "x", class_names=["a", "b"])
    features = cnnzoo.build_mnist_cnn(include_top=False, pooling=None, compile=False)
    with pytest.raises(ValueError, match="include_top=True"):
        export_saved_model(features, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
