"""The SavedModel shipped in saved_models/: served on a fresh clone as the weights classify."""

import json
import pathlib

import numpy as np
import pytest

import cnnzoo
from cnnzoo.pretrained import apply_weights, read_manifest

SAVED_MODELS = pathlib.Path(__file__).resolve().parent.parent / "saved_models"
# Only the folders named after shipped weights: the README's main job exports its own
# model to saved_models/mnist_cnn, which is not shipped and may exist on a clone.
SHIPPED = [SAVED_MODELS / f"{e.model}-{e.tag}" for e in read_manifest()
           if (SAVED_MODELS / f"{e.model}-{e.tag}").is_dir()]


def test_a_trained_model_ships_ready_to_serve():
    assert SHIPPED, ("no saved_models/MODEL-TAG folder of shipped weights; write one with "
                     "`python -m bench.results --export-best saved_models`")


@pytest.mark.parametrize("base", SHIPPED, ids=[path.name for path in SHIPPED])
def test_the_shipped_savedmodel_classifies_as_the_shipped_weights(base):
    version = base / "1"
    assert (version / "saved_model.pb").is_file()
    assert sum(f.stat().st_size for f in base.rglob("*") if f.is_file()) < 10 * 2**20
    card = json.loads((version / "assets" / "cnnzoo_card.json").read_text())
    entry = next(e for e in read_manifest()
                 if (e.model, e.tag) == (card["model"], card["tag"]))
    assert card["test_accuracy"] == entry.test_accuracy
    assert card["class_names"] == list(entry.class_names)

    # Real Fashion-MNIST test images: the shipped sample is there on every clone.
    images, labels, _ = cnnzoo.load_arrays("fashion_mnist_sample", "test", limit=64)
    served = cnnzoo.load_exported(base).predict(images)
    model = apply_weights(cnnzoo.build(entry.model, input_shape=entry.input_shape,
                                       num_classes=entry.num_classes, compile=False),
                          name=entry.model, weights=entry.tag, include_top=True)
    expected = model.predict(images.astype("float32"), verbose=0)
    np.testing.assert_allclose(served, expected, atol=1e-4)
    np.testing.assert_array_equal(served.argmax(-1), expected.argmax(-1))
    assert np.mean(served.argmax(-1) == labels) > 0.8
