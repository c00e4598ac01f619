"""cnnzoo.reference: each NumPy layer, loop and vectorised, against the Keras layer."""

import itertools

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo import reference

# float32 sums of at most a few hundred products of values near 1: errors ~1e-6.
TOLERANCE = 1e-4
rng = np.random.default_rng(0)


def _keras(layer, x):
    return keras.ops.convert_to_numpy(layer(x))


def _assert_close(actual, expected):
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() < TOLERANCE


# Odd and even kernels, strides that do and do not divide the size, odd sizes: together
# the cases where 'same' padding splits unevenly (the extra pixel goes after).
CONV_CASES = [(kernel, stride, padding, size)
              for kernel, stride, size in [(1, 1, (6, 6)), (3, 1, (7, 8)), (2, 1, (6, 6)),
                                           (3, 2, (7, 8)), ((2, 3), (1, 3), (7, 8)),
                                           (4, 3, (8, 7))]
              for padding in ("valid", "same")]
@pytest.mark.parametrize("kernel_size,strides,padding,size", CONV_CASES)
def test_conv2d_matches_keras(kernel_size, strides, padding, size):
    x = rng.normal(size=(2, *size, 3)).astype("float32")
    layer = keras.layers.Conv2D(4, kernel_size, strides=strides, padding=padding)
    layer.build(x.shape)
    layer.bias.assign(rng.normal(size=4).astype("float32"))
    kernel, bias = layer.get_weights()
    expected = _keras(layer, x)
    _assert_close(reference.conv2d(x, kernel, bias, strides=strides, padding=padding), expected)
    _assert_close(reference.conv2d_loop(x[:1], kernel, bias, strides=strides,
                                        padding=padding), expected[:1])


@pytest.mark.parametrize("kind,pool_size,strides,padding,size", [
    (kind, pool, stride, padding, size)
    for pool, stride, size in [(2, None, (6, 6)), (2, None, (7, 8)), (3, 2, (7, 8)),
                               ((2, 3), 1, (6, 7))]
    for kind in ("max", "avg") for padding in ("valid", "same")])
def test_pooling_matches_keras(kind, pool_size, strides, padding, size):
    x = rng.normal(size=(2, *size, 3)).astype("float32")
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[kind](
        pool_size, strides=strides, padding=padding)
    expected = _keras(layer, x)
    vectorised = getattr(reference, f"{kind}_pool2d")
    loop = getattr(reference, f"{kind}_pool2d_loop")
    _assert_close(vectorised(x, pool_size, strides, padding=padding), expected)
    _assert_close(loop(x[:1], pool_size, strides, padding=padding), expected[:1])


def test_dense_relu_softmax_match_keras():
    x = rng.normal(size=(3, 20)).astype("float32") * 3
    layer = keras.layers.Dense(7)
    layer.build(x.shape)
    layer.bias.assign(rng.normal(size=7).astype("float32"))
    kernel, bias = layer.get_weights()
    _assert_close(reference.dense(x, kernel, bias), _keras(layer, x))
    _assert_close(reference.dense_loop(x, kernel, bias), _keras(layer, x))
    _assert_close(reference.relu(x), _keras(keras.layers.ReLU(), x))
    _assert_close(reference.relu_loop(x), _keras(keras.layers.ReLU(), x))
    scores = x * 10  # Large scores: a naive exp would overflow in float32.
    _assert_close(reference.softmax(scores), _keras(keras.layers.Softmax(), scores))
    _assert_close(reference.softmax_loop(scores), _keras(keras.layers.Softmax(), scores))


def test_rescale_and_flatten_follow_keras():
    x = rng.uniform(0, 255, size=(2, 3, 4, 5)).astype("float32")
    _assert_close(reference.rescale(x, 1 / 255), _keras(keras.layers.Rescaling(1 / 255), x))
    # Flatten order matters for the dense layer after it: Keras keeps NHWC.
    np.testing.assert_array_equal(reference.flatten(x), _keras(keras.layers.Flatten(), x))


def _randomise(model):
    """Gives every weight, biases included, random values so that no term hides."""
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", ["tutorial_5x5", "mnist_cnn"])
def test_forward_matches_whole_zoo_model(name):
    model = _randomise(cnnzoo.build(name, compile=False))
    images = rng.integers(0, 256, size=(2, 28, 28, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    actual = reference.forward(model, images)
    _assert_close(actual, expected)
    np.testing.assert_allclose(actual.sum(-1), 1.0, rtol=1e-5)
    assert (actual.argmax(-1) == expected.argmax(-1)).all()


def test_forward_with_loops_on_a_tiny_model():
    model = _randomise(cnnzoo.build("tutorial_5x5", input_shape=(6, 6, 1), num_classes=3,
                                    compile=False))
    images = rng.integers(0, 256, size=(1, 6, 6, 1)).astype("float32")
    _assert_close(reference.forward(model, images, loops=True),
                  keras.ops.convert_to_numpy(model(images)))


def test_forward_refuses_a_branching_model():
    inputs = keras.Input((6, 6, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(2, 3, padding="same", name="b")(a)
    model = keras.Model(inputs, keras.layers.Add(name="add")([a, b]), name="residual")
    with pytest.raises(ValueError, match="'add' does not take 'b'"):
        reference.forward(model, np.zeros((1, 6, 6, 1), "float32"))


def test_forward_names_a_layer_it_does_not_implement():
    model = cnnzoo.build("resnet20", input_shape=(8, 8, 1), num_classes=3, compile=False)
    with pytest.raises(ValueError, match="'stem_bn' is a BatchNormalization"):
        reference.forward(model, np.zeros((1, 8, 8, 1), "float32"))


@pytest.mark.parametrize("call,match", [
    (lambda: reference.conv2d(np.zeros((4, 4, 1)), np.zeros((3, 3, 1, 2))), "batch of images"),
    (lambda: reference.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((3, 3, 1, 2))),
     "3 input channels|takes 1 input channels"),
    (lambda: reference.conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 2)), padding="full"),
     "padding must be one of"),
    (lambda: reference.max_pool2d(np.zeros((1, 4, 4, 1)), 0), "pool_size must be"),
    (lambda: reference.dense(np.zeros((2, 3)), np.zeros((4, 5))), "dense takes"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
