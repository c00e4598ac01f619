"""Named sources, arrays, CIFAR and .npz files, search order and not-found errors."""

import os
import pickle

import numpy as np
import pytest

from cnnzoo.data import (DataFormatError, DatasetInfo, DatasetNotFoundError, load_arrays,
                         write_idx)
from cnnzoo.data import catalog, sources

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


def _write_mnist_like(folder, n_train):
    os.makedirs(folder)
    for prefix, n in (("train", n_train), ("t10k", 2)):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"),
                  np.zeros((n, 28, 28), np.uint8))
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"),
                  np.arange(n, dtype=np.uint8) % 10)


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """Nothing anywhere: empty data_dir/env/keras dir, no system dirs, tfds unreachable."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CNNZOO_DATA_DIR", str(empty))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIRS", {"fashion_mnist": (str(tmp_path / "sys"),)})

    def offline(name, split, data_dir, download):
        raise ConnectionError("Failed to reach the download server (no network)")

    monkeypatch.setattr(sources, "_tfds_load", offline)
    return empty


@pytest.mark.parametrize("split, count", [("train", 4000), ("test", 1000)])
def test_shipped_sample(split, count):
    x, y, info = load_arrays("fashion_mnist_sample", split)
    assert x.shape == (count, 28, 28, 1) and x.dtype == np.uint8
    assert y.shape == (count,) and y.dtype == np.int32
    assert info == DatasetInfo("fashion_mnist_sample", split, FASHION_CLASSES, (28, 28, 1),
                               count, catalog.SAMPLE_DIR)
    # Stratified: every class equally often.
    np.testing.assert_array_equal(np.bincount(y), [count // 10] * 10)
    assert x.max() == 255 and x.mean() > 40  # real images, not zeros


def test_sample_is_small_enough_to_ship():
    total = sum(os.path.getsize(os.path.join(catalog.SAMPLE_DIR, f))
                for f in os.listdir(catalog.SAMPLE_DIR))
    assert total < 3_000_000


def test_digits_is_rescaled_and_split_deterministically():
    x_train, y_train, info = load_arrays("digits", "train")
    x_test, y_test, test_info = load_arrays("digits", "test")
    assert len(y_train) + len(y_test) == 1797 and len(y_test) == 355
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    assert info.class_names == tuple("0123456789") and info.num_classes == 10
    assert test_info.split == "test" and test_info.num_examples == 355
    assert set(np.unique(y_test)) == set(range(10))
    again, _, _ = load_arrays("digits", "test")
    np.testing.assert_array_equal(again, x_test)


def test_validation_split_is_disjoint_and_seeded():
    x_tr, _, info_tr = load_arrays("digits", "train", validation_split=0.25, seed=3)
    x_va, _, info_va = load_arrays("digits", "validation", validation_split=0.25, seed=3)
    assert info_tr.num_examples + info_va.num_examples == 1442
    train_rows = {r.tobytes() for r in x_tr}
    assert not any(r.tobytes() in train_rows for r in x_va[:50])
    other, _, _ = load_arrays("digits", "validation", validation_split=0.25, seed=4)
    assert not np.array_equal(other, x_va)


def test_validation_without_validation_split_is_an_error():
    with pytest.raises(ValueError, match="validation_split"):
        load_arrays("digits", "validation")


def test_limit_and_bad_limit():
    x, y, info = load_arrays("fashion_mnist_sample", limit=7)
    assert len(x) == len(y) == info.num_examples == 7
    with pytest.raises(ValueError, match="limit=0"):
        load_arrays("fashion_mnist_sample", limit=0)


def test_arrays_source_validates_and_converts():
    x = np.random.default_rng(0).integers(0, 256, (6, 5, 5)).astype(np.float64)
    y = np.array([[0], [1], [2], [0], [1], [2]])
    images, labels, info = load_arrays((x, y), class_names=("a", "b", "c"))
    assert images.dtype == np.uint8 and images.shape == (6, 5, 5, 1)
    assert labels.shape == (6,) and info.class_names == ("a", "b", "c")
    assert info.source_path is None and info.name == "arrays"


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((4, 5, 5)), np.zeros(3), r"shape \(4,\)"),
    (np.zeros((4, 5)), np.zeros(4), r"received shape \(4, 5\)"),
    (np.full((2, 3, 3), 0.5), np.zeros(2), "already normalised"),
    (np.full((2, 3, 3), 300), np.zeros(2), r"range \[300, 300\]"),
    (np.zeros((2, 3, 3), np.uint8), np.array([0, -1]), "must be >= 0"),
    (np.zeros((2, 3, 3), np.uint8), np.eye(2), "argmax"),
])
def test_bad_arrays_are_named(x, y, message):
    with pytest.raises(ValueError, match=message):
        load_arrays((x, y))


def test_more_labels_than_class_names():
    with pytest.raises(ValueError, match="label is 2 but there are only 2 class names"):
        load_arrays((np.zeros((3, 4, 4), np.uint8), np.array([0, 1, 2])), class_names=("a", "b"))


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="received int"):
        load_arrays(42)


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_arrays("./no/such/folder")


def test_fashion_mnist_missing_lists_places_and_fixes_never_the_sample(no_local_data, tmp_path):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    with pytest.raises(DatasetNotFoundError) as caught:
        load_arrays("fashion_mnist", data_dir=str(data_dir))
    message = str(caught.value)
    for place in (str(data_dir), str(no_local_data),
                  os.path.join(str(tmp_path / "keras_home"), "datasets", "fashion-mnist"),
                  str(tmp_path / "sys")):
        assert place in message
    assert "dataset-fashion-mnist" in message and "data_dir" in message
    assert "network" in message and "no network" in message  # the tfds failure itself
    assert catalog.SAMPLE_DIR not in message


def test_found_in_data_dir_before_the_environment(no_local_data, tmp_path):
    _write_mnist_like(no_local_data / "fashion-mnist", n_train=9)
    _write_mnist_like(tmp_path / "first", n_train=4)
    _, y, info = load_arrays("fashion_mnist")
    assert len(y) == 9 and info.source_path == str(no_local_data / "fashion-mnist")
    assert info.class_names == FASHION_CLASSES
    _, y, info = load_arrays("fashion_mnist", data_dir=str(tmp_path / "first"))
    assert len(y) == 4 and info.source_path == str(tmp_path / "first")


def test_unknown_name_suggests_close_names(monkeypatch):
    def unknown(name, split, data_dir, download):
        raise KeyError(f"Dataset {name} not found.")

    monkeypatch.setattr(sources, "_tfds_load", unknown)
    with pytest.raises(ValueError, match=r"unknown dataset name 'fashion_mnist_sampel'.*"
                                         r"fashion_mnist_sample"):
        load_arrays("fashion_mnist_sampel")


def test_tfds_stream_is_used_when_local_data_is_missing(no_local_data, monkeypatch):
    import tensorflow as tf

    class FakeInfo:
        features = {"label": type("L", (), {"names": ["a", "b"]})(),
                    "image": type("I", (), {"shape": (4, 4, 1)})()}
        splits = {"train": type("S", (), {"num_examples": 3})()}
        data_dir = "/fake/tfds"

    def fake_tfds(name, split, data_dir, download):
        x = np.arange(48, dtype=np.uint8).reshape(3, 4, 4, 1)
        return tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 1], np.int64))), FakeInfo

    monkeypatch.setattr(sources, "_tfds_load", fake_tfds)
    x, y, info = load_arrays("mnist")
    assert x.shape == (3, 4, 4, 1) and y.dtype == np.int32
    assert info.source_path == "tfds:/fake/tfds" and info.class_names == ("a", "b")


def _write_cifar10_binary(folder, n_per_file=3):
    folder.mkdir()
    rng = np.random.default_rng(1)
    expected = {}
    for name in ("data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"):
        labels = rng.integers(0, 10, n_per_file, dtype=np.uint8)
        images = rng.integers(0, 256, (n_per_file, 3, 32, 32), dtype=np.uint8)
        rows = np.concatenate([labels[:, None], images.reshape(n_per_file, -1)], axis=1)
        (folder / name).write_bytes(rows.tobytes())
        expected[name] = (images.transpose(0, 2, 3, 1), labels)
    return expected


def test_cifar10_binary_round_trip(tmp_path):
    expected = _write_cifar10_binary(tmp_path / "cifar-10-batches-bin")
    x, y, info = load_arrays("cifar10", data_dir=str(tmp_path))
    assert x.shape == (6, 32, 32, 3) and info.class_names[0] == "airplane"
    np.testing.assert_array_equal(x[:3], expected["data_batch_1.bin"][0])
    np.testing.assert_array_equal(y[3:], expected["data_batch_2.bin"][1])
    x, y, _ = load_arrays(str(tmp_path / "cifar-10-batches-bin"), "test")
    np.testing.assert_array_equal(x, expected["test_batch.bin"][0])


def test_cifar_binary_truncated(tmp_path):
    _write_cifar10_binary(tmp_path / "c")
    path = tmp_path / "c" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataFormatError, match="test_batch.bin is 9119 bytes"):
        load_arrays(str(tmp_path / "c"), "test")


def test_cifar100_python_pickle(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data = np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8).reshape(2, 3072)
    for split in ("train", "test"):
        with open(folder / split, "wb") as f:
            pickle.dump({b"data": data, b"fine_labels": [5, 99]}, f, protocol=2)
    (folder / "meta").write_bytes(b"")
    x, y, info = load_arrays("cifar100", "test", data_dir=str(tmp_path))
    assert info.num_classes == 100 and info.class_names[-1] == "worm"
    np.testing.assert_array_equal(y, [5, 99])
    np.testing.assert_array_equal(x[1, 0, 0], data[1, [0, 1024, 2048]])


def test_cifar_pickle_refuses_code(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": os.system}, f)  # a pickle that names a callable
    with pytest.raises(DataFormatError, match="refusing to load"):
        load_arrays(str(folder), "test")


def test_keras_npz(tmp_path):
    x = np.ones((3, 4, 4), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.array([1, 2, 3]), x_test=x[:1],
             y_test=np.array([9]))
    _, y, info = load_arrays("mnist", "test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(y, [9])
    assert info.source_path == str(tmp_path)


def test_cifar100_has_100_distinct_class_names():
    assert len(set(catalog.CLASS_NAMES["cifar100"])) == 100


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason="Debian dataset-fashion-mnist absent")
@pytest.mark.parametrize("split, count", [("train", 60000), ("test", 10000)])
def test_debian_fashion_mnist(split, count, monkeypatch):
    monkeypatch.delenv("CNNZOO_DATA_DIR", raising=False)
    x, y, info = load_arrays("fashion_mnist", split, data_dir=None)
    assert x.shape == (count, 28, 28, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), [count // 10] * 10)
    assert info.class_names == FASHION_CLASSES and info.num_examples == count


def test_tfds_images_of_varying_size_need_image_size(no_local_data, monkeypatch):
    import tensorflow as tf

    class FakeInfo:
        features = {"label": type("L", (), {"names": ["a", "b", "c"]})(),
                    "image": type("I", (), {"shape": (None, None, 3)})()}
        splits = {}
        data_dir = "/fake/tfds"

    def fake_tfds(name, split, data_dir, download):
        gen = lambda: ((np.full((h, h + 1, 3), 9, np.uint8), h % 3) for h in (5, 7))  # noqa: E731
        spec = (tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64))
        return tf.data.Dataset.from_generator(gen, output_signature=spec), FakeInfo

    monkeypatch.setattr(sources, "_tfds_load", fake_tfds)
    with pytest.raises(ValueError, match=r"varying size \(None, None, 3\); pass image_size"):
        load_arrays("some_photos")
    x, y, info = load_arrays("some_photos", image_size=(4, 4))
    assert x.shape == (2, 4, 4, 3) and info.image_shape == (4, 4, 3)
    assert info.num_examples == 2 and x.dtype == np.uint8 and int(x.max()) == 9


def test_load_arrays_needs_no_tensorflow_for_numpy_formats(tmp_path):
    """On the JAX backend (where `import cnnzoo` does not load TensorFlow) it stays unloaded."""
    import subprocess
    import sys

    pytest.importorskip("jax")

    np.savez(tmp_path / "tiny.npz", x_train=np.zeros((2, 3, 3), np.uint8), y_train=[0, 1],
             x_test=np.zeros((1, 3, 3), np.uint8), y_test=[1])
    code = ("import sys\n"
            "from cnnzoo.data import load_arrays\n"
            "load_arrays('fashion_mnist_sample'); load_arrays('digits', 'test')\n"
            f"load_arrays({str(tmp_path / 'tiny.npz')!r}, 'test')\n"
            "print('tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)),
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


# ---- tensorflow-datasets: name resolution first, then validation_split as split slices

@pytest.mark.parametrize("split, validation_split, expected", [
    ("train", 0.1, "train[:90%]"),
    ("validation", 0.1, "train[90%:]"),
    ("test", 0.1, "test"),
    ("train", 0.0, "train"),
    ("validation", 0.0, "validation"),  # tfds datasets with their own validation split
    ("train[:50%]", 0.0, "train[:50%]"),
    ("train", 0.07, "train[:93%]"),  # 100 * (1 - 0.07) is 93.00000000000001 in floats
    ("validation", 0.125, "train[87.5%:]"),
    ("validation", 1 / 3, "train[66.6667%:]"),
    ("train", 0.000001, "train[:99.9999%]"),
])
def test_tfds_split_slices(split, validation_split, expected):
    assert sources.tfds_split(split, validation_split) == expected


def test_tfds_split_slices_meet_at_one_boundary():
    for validation_split in np.linspace(0.01, 0.99, 197):
        train = sources.tfds_split("train", validation_split)
        validation = sources.tfds_split("validation", validation_split)
        assert train[len("train[:"):-1] == validation[len("train["):-2]


@pytest.mark.parametrize("split, validation_split, message", [
    ("train", 1.0, r"in \[0, 1\); received validation_split=1.0"),
    ("train", -0.1, r"in \[0, 1\)"),
    ("train", 1e-9, "rounds to a 0% hold-out"),
    ("train[:50%]", 0.1, "cannot be combined with the split expression"),
])
def test_tfds_split_refuses(split, validation_split, message):
    with pytest.raises(ValueError, match=message):
        sources.tfds_split(split, validation_split)


def _fake_tfds(calls, names=("a", "b")):
    import tensorflow as tf

    class FakeInfo:
        features = {"label": type("L", (), {"names": list(names)})(),
                    "image": type("I", (), {"shape": (4, 4, 3)})()}
        splits = {}
        data_dir = "/fake/tfds"

    def load(name, split, data_dir, download):
        calls.append((name, split))
        x = np.zeros((3, 4, 4, 3), np.uint8)
        return tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 1], np.int64))), FakeInfo

    return load


def test_tfds_dataset_with_validation_split_reads_slices(no_local_data, monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "_tfds_load", _fake_tfds(calls))
    _, _, info = load_arrays("cifar10", "train", validation_split=0.1)
    load_arrays("cifar10", "validation", validation_split=0.1)
    load_arrays("cifar10", "test", validation_split=0.1)
    assert calls == [("cifar10", "train[:90%]"), ("cifar10", "train[90%:]"),
                     ("cifar10", "test")]
    assert info.split == "train" and info.source_path == "tfds:/fake/tfds"


def test_tfds_split_expression_for_a_local_name_goes_to_tfds(no_local_data, monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "_tfds_load", _fake_tfds(calls))
    load_arrays("mnist", "train[:50%]")
    assert calls == [("mnist", "train[:50%]")]


def test_local_files_win_over_tfds_with_validation_split(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "_tfds_load", _fake_tfds(calls))
    _write_mnist_like(tmp_path / "mnist", n_train=10)
    _, y, info = load_arrays("mnist", "validation", data_dir=str(tmp_path),
                             validation_split=0.2)
    assert len(y) == 2 and info.source_path == str(tmp_path / "mnist") and not calls


def test_unknown_name_with_validation_split_is_not_found_not_a_split_error(monkeypatch):
    calls = []

    def unknown(name, split, data_dir, download):
        calls.append(split)
        raise KeyError(f"Dataset {name} not found.")

    monkeypatch.setattr(sources, "_tfds_load", unknown)
    with pytest.raises(ValueError, match=r"unknown dataset name 'nosuchds'") as caught:
        load_arrays("nosuchds", validation_split=0.1)
    assert "validation_split" not in str(caught.value) and calls == ["train[:90%]"]


def test_local_copy_without_the_split_is_named_in_not_found(no_local_data):
    _write_mnist_like(no_local_data / "fashion-mnist", n_train=4)
    for name in os.listdir(no_local_data / "fashion-mnist"):
        if name.startswith("t10k"):
            os.remove(no_local_data / "fashion-mnist" / name)
    with pytest.raises(DatasetNotFoundError,
                       match=r"fashion-mnist \(IDX files, but no t10k-images-idx3-ubyte\[.gz\] "
                             r"for split 'test'\)"):
        load_arrays("fashion_mnist", "test")


# ---- digits without scikit-learn, the label check, image channels

def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_arrays("digits")


def test_check_labels_accepts_class_ids():
    from cnnzoo.data import check_labels

    out = check_labels(np.array([[0.0], [2.0], [1.0]]), num_classes=3)
    assert out.dtype == np.int32 and out.tolist() == [0, 2, 1]
    assert check_labels(np.array([], np.int64)).shape == (0,)
    assert check_labels(np.array([True, False])).tolist() == [1, 0]
    assert check_labels(np.array([2, 0], dtype=object), num_classes=3).tolist() == [2, 0]


@pytest.mark.parametrize("labels, num_classes, message", [
    ([0.0, 1.5], None, r"y must be whole-number class ids; received 1.5"),
    ([0.0, np.nan], None, "received nan"),
    ([np.inf], None, "received inf"),
    (np.array(["cat", "dog"], dtype=object), None, "dtype object"),
    ([0, -2], None, "y must be >= 0 .*received a label -2"),
    ([0, 3, 4, 1], 3, r"class ids 0..2 for 3 classes; received 3 \(2 of 4"),
    (np.eye(3), None, r"shape \(N,\); received shape \(3, 3\).*argmax"),
    (["a", "b"], None, "dtype <U1"),
])
def test_check_labels_refuses(labels, num_classes, message):
    from cnnzoo.data import check_labels

    with pytest.raises(ValueError, match=message):
        check_labels(labels, num_classes, argument="y")


@pytest.mark.parametrize("channels, fix", [(4, r"x\[\.\.\., :3\]"), (2, r"x\[\.\.\., :1\]"),
                                           (5, "gray or")])
def test_arrays_with_channels_no_model_takes(channels, fix):
    x = np.zeros((2, 4, 4, channels), np.uint8)
    with pytest.raises(ValueError, match=rf"1 \(gray\) or 3 \(RGB\) channels.*"
                                         rf"\(2, 4, 4, {channels}\).*{fix}"):
        load_arrays((x, np.array([0, 1])))
