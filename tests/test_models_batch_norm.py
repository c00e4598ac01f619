"""cnnzoo's fused BatchNormalization computes what Keras's computes, and is what models use."""

import numpy as np
import pytest
import tensorflow as tf

import keras

import cnnzoo
from cnnzoo.models.batch_norm import BatchNormalization


def _pair(**kwargs):
    """Returns (fused, keras) layers built on the same input shape with equal weights."""
    fused, plain = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    for layer in (fused, plain):
        layer.build((None, 6, 5, 4))
    rng = np.random.default_rng(0)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.normal(size=4)
    for layer in (fused, plain):
        layer.gamma.assign(gamma.astype("float32"))
        layer.beta.assign(beta.astype("float32"))
    return fused, plain


def _float32_sum_tolerance(values, terms=8 * 6 * 5):
    """Returns the float32 rounding bound of batch norm's per-channel sums over `terms` values.

    A sum of n float32 terms is off by at most about n * eps times the largest term (Higham,
    Accuracy and Stability of Numerical Algorithms, 4.2); the two layers sum in different
    orders (fused kernel against separate ops), so their results may differ by that much.
    """
    return terms * np.finfo(np.float32).eps * float(np.max(np.abs(values)))


def _images(seed=1):
    return np.random.default_rng(seed).normal(3.0, 2.0, (8, 6, 5, 4)).astype("float32")


def test_training_step_matches_keras_outputs_gradients_and_moving_statistics():
    fused, plain = _pair(momentum=0.9)
    x = tf.constant(_images())
    results = []
    # Random weights on every output: no gradient is zero in exact arithmetic, so each
    # comparison is relative to a real value, not to float noise around zero.
    weights = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype("float32"))
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * weights)
        results.append((y, *tape.gradient(loss, [x, layer.gamma, layer.beta])))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=_float32_sum_tolerance(want))
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, rtol=1e-5)
    # The fused kernel keeps the unbiased variance: n / (n - 1) of Keras's, n = 8 * 6 * 5.
    n = 8 * 6 * 5
    update = (np.asarray(plain.moving_variance) - 0.9) / 0.1
    np.testing.assert_allclose(fused.moving_variance, 0.9 + 0.1 * update * n / (n - 1),
                               rtol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_training_step_matches_keras(policy):
    fused, plain = _pair(dtype=policy)
    x = tf.cast(_images(), fused.compute_dtype)
    got, want = fused(x, training=True), plain(x, training=True)
    assert got.dtype == want.dtype == fused.compute_dtype
    np.testing.assert_allclose(tf.cast(got, "float32"), tf.cast(want, "float32"), atol=0.05)
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, rtol=1e-2)


def test_fused_kernel_is_the_one_that_runs_in_a_training_graph():
    fused, _ = _pair()
    graph = tf.function(lambda x: fused(x, training=True)).get_concrete_function(
        tf.TensorSpec((None, 6, 5, 4))).graph
    ops = {op.type for op in graph.get_operations()}
    assert "FusedBatchNormV3" in ops
    assert "Mean" not in ops  # Keras's unfused moments are not computed beside it


def test_inference_masks_and_frozen_layers_take_the_keras_path():
    fused, plain = _pair(momentum=0.9)
    x = _images()
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), rtol=1e-6)
    fused.trainable = plain.trainable = False
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=True), rtol=1e-6)
    np.testing.assert_allclose(fused.moving_mean, np.zeros(4))


def test_saves_and_loads_as_a_cnnzoo_layer(tmp_path):
    model = cnnzoo.build("resnet9_w24", num_classes=3, input_shape=(16, 16, 1), compile=False)
    assert any(isinstance(layer, BatchNormalization) for layer in model.layers)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(2).uniform(0, 255, (4, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet20", "vgg11_bn", "resnet9_w24"])
def test_zoo_models_normalise_with_the_fused_layer(name):
    model = cnnzoo.build(name, input_shape=(32, 32, 1), num_classes=4, compile=False)
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(isinstance(layer, BatchNormalization) for layer in norms)
