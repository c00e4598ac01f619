"""Default options build exactly the layers and weights models had before the options.

Weight files trained before the builders took `dropout`, `kernel_initializer`,
`batch_norm` and features options (the shipped weights among them) load by layer name
and weight shape, so with default options those must not change. `data/model_layouts.json`
was captured from commit 50943da: every model's layout as a digest, and the trained
models' layouts in full so that a failure shows the difference.
"""

import hashlib
import json
import pathlib

import pytest

import cnnzoo

LAYOUTS = json.loads((pathlib.Path(__file__).parent / "data" / "model_layouts.json").read_text())


def layout(model):
    """Returns the layers (name, class) and weights (path, shape) of `model`, in order."""
    return {"layers": [[layer.name, type(layer).__name__] for layer in model.layers],
            "weights": [[weight.path, list(weight.shape)] for weight in model.weights]}


def layout_digest(model):
    return hashlib.sha256(json.dumps(layout(model), sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(LAYOUTS["full"]))
def test_trained_models_keep_their_layers_and_weights(name):
    expected = LAYOUTS["full"][name]
    model = cnnzoo.build(name, compile=False)
    assert list(model.input_shape[1:]) == expected["input_shape"]
    assert layout(model) == {"layers": expected["layers"], "weights": expected["weights"]}


def test_every_model_but_the_new_is_pinned():
    assert set(cnnzoo.list_models()) - set(LAYOUTS["digests"]) == {"keras_mnist_convnet"}
