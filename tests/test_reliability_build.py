"""Issue 27: build options and weights files refused clearly, with the damage done for real."""

import h5py
import numpy as np
import pytest

import cnnzoo


def test_the_name_option_names_the_model():
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, name="x")
    assert model.name == "x"
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, name="a/b")


@pytest.mark.parametrize("settings, message", [
    ({"input_shape": (True, 28, 1)}, r"received input_shape=\(True, 28, 1\)"),
    ({"input_shape": (100000, 100000, 3)}, r"30,000,000,000 values an image \(111.8 GiB"),
    ({"metrics": ["nope"]}, "unknown metric 'nope'"),
    ({"metrics": "accuracy"}, "metrics must be a list"),
    ({"steps_per_execution": 0}, "steps_per_execution must be a positive integer"),
    ({"learning_rate": float("inf")}, "positive and finite"),
])
def test_nonsense_build_options_are_refused_before_a_layer_is_built(settings, message):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build("mnist_cnn", **settings)


def test_known_metrics_still_compile():
    model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3,
                         metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    x = np.zeros((2, 8, 8, 1), "float32")
    model.fit(x, np.array([0, 1]), verbose=0)  # where an unknown name used to fail


def _damage(path, variable, data):
    """Overwrites the stored bytes of `variable` in the HDF5 file `path` with `data`."""
    with h5py.File(path, "r") as handle:
        offset = handle[variable].id.get_offset()
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(data)


@pytest.mark.parametrize("data, says", [(b"\x7f\x7f\x7f\x7f", "3.4e+38"),
                                         (b"\x00\x00\xc0\x7f", "nan")])
def test_a_weights_file_with_corrupted_bytes_is_refused_naming_it(tmp_path, data, says):
    path = tmp_path / "mine.weights.h5"
    cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3).save_weights(path)
    with h5py.File(path, "r") as handle:
        variable = next(name for name in _datasets(handle) if name.endswith("vars/0"))
    _damage(path, variable, data)
    with pytest.raises(ValueError) as raised:
        cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, weights=str(path))
    message = str(raised.value)
    assert str(path) in message and "corrupted" in message and says in message.lower()


def _datasets(handle):
    found = []
    handle.visititems(lambda name, item: found.append(name)
                      if isinstance(item, h5py.Dataset) else None)
    return found
