"""The raw-pixel rule: images divided by 255 warn once in fit, evaluate and an export's predict."""

import warnings

import numpy as np
import pytest

import cnnzoo
from cnnzoo.data import load_arrays
from cnnzoo.pixels import PixelRangeWarning, warn_if_scaled


@pytest.fixture(scope="module")
def sample():
    """64 real Fashion-MNIST images as loaded (uint8, 0-255), with their labels."""
    images, labels, _ = load_arrays("fashion_mnist_sample", "train")
    return images[:64], labels[:64]


def pixel_warnings(function, *args, **kwargs):
    """Returns the `PixelRangeWarning`s that calling `function` emits (all of them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function(*args, **kwargs)
    return [w for w in caught if issubclass(w.category, PixelRangeWarning)]


def test_fit_warns_once_on_pixels_divided_by_255_and_not_on_raw_pixels(sample, tmp_path):
    images, labels = sample
    settings = dict(num_classes=10, epochs=1, batch_size=16, steps_per_epoch=2, verbose=0)
    caught = pixel_warnings(cnnzoo.fit, "tutorial_5x5", (images / 255.0, labels),
                            workdir=tmp_path / "scaled", **settings)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "fit" in message and "0-255" in message and "dividing by 255" in message
    assert caught[0].filename == __file__  # Points at the caller, so filters dedupe by call.
    assert pixel_warnings(cnnzoo.fit, "tutorial_5x5", (images, labels),
                          workdir=tmp_path / "raw", **settings) == []


def test_evaluate_warns_once_over_several_batches(sample):
    images, labels = sample
    model = cnnzoo.build("tutorial_5x5", input_shape=images.shape[1:], num_classes=10)
    assert len(pixel_warnings(cnnzoo.evaluate, model, (images / 255.0, labels),
                              batch_size=16)) == 1
    assert pixel_warnings(cnnzoo.evaluate, model, (images, labels), batch_size=16) == []


def test_exported_predict_and_top_k_warn_on_scaled_arrays(sample, tmp_path):
    images, _ = sample
    model = cnnzoo.build("tutorial_5x5", input_shape=images.shape[1:], num_classes=10)
    predictor = cnnzoo.load_exported(cnnzoo.export_saved_model(model, tmp_path / "export"))
    scaled = images[:4].astype("float32") / 255
    assert len(pixel_warnings(predictor.predict, scaled)) == 1
    assert len(pixel_warnings(predictor.top_k, scaled, k=3)) == 1
    assert pixel_warnings(predictor.predict, images[:4]) == []


@pytest.mark.parametrize("images, warns", [
    (np.full((2, 4, 4, 1), 0.5, "float32"), True),
    (np.eye(4, dtype="uint8")[None, ..., None], True),  # 0/1 masks are not 0-255 pixels
    (np.ones((2, 4, 4, 3), "float64"), True),
    (np.zeros((2, 4, 4, 1), "float32"), False),  # blank images: nothing to say
    (np.full((2, 4, 4, 1), 1.5, "float32"), False),
    (np.full((2, 4, 4, 1), 255, "uint8"), False),
    (np.full((2, 4, 4, 1), np.nan, "float32"), False),
    ([b"\x89PNG", b"GIF89a"], False),  # encoded images go to the bytes signature
])
def test_which_batches_warn(images, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_scaled(images, where="fit") is warns
    assert len(caught) == warns


def test_the_warning_can_refuse_instead():
    with warnings.catch_warnings():
        warnings.simplefilter("error", cnnzoo.PixelRangeWarning)
        with pytest.raises(cnnzoo.PixelRangeWarning, match="raw 0-255 pixels"):
            warn_if_scaled(np.full((1, 2, 2, 1), 0.25), where="evaluate")
