"""Grad-CAM finds what it should: the class evidence, where the data put it.

Small models are trained for a few seconds on images of noise holding one bright bar;
the class is the bar's orientation (horizontal or vertical) and its place is random. A
correct Grad-CAM for the predicted class peaks on the bar, so the peak must lie within
the bar's box (give or take a pixel of the heat map's coarser grid). That holds only if
the gradients, the channel weights, the ReLU and the resizing are all right: a heat map
that ignored the gradients, took the wrong sign, or flipped an axis would miss the bar.
"""

import keras
import numpy as np
import pytest

from cnnzoo.training.precision import dtype_policy
from cnnzoo.viz import grad_cam, layer_names
from cnnzoo.viz.gradcam import resize_heatmap

SIZE, LENGTH, WIDTH = 16, 6, 2
# The heat maps below are 8x8 for 16x16 images: one cell covers 2x2 pixels.
MARGIN = 2


def bar_images(count, seed):
    """Returns `(images, labels, boxes)`: noise 0-100, one bar and one square of 255.

    Label 0: a horizontal bar (WIDTH x LENGTH), 1: a vertical one; `boxes` holds each
    bar's `(top, left, bottom, right)`, bottom and right exclusive. A 3x3 square, as
    bright as the bar, lies elsewhere in every image: it excites the convolutions too
    but says nothing about the class, so only a map steered by the class's gradients
    prefers the bar.
    """
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 100, size=(count, SIZE, SIZE, 1)).astype("float32")
    labels = rng.integers(0, 2, size=count)
    boxes = []
    for image, label in zip(images, labels):
        height, width = (WIDTH, LENGTH) if label == 0 else (LENGTH, WIDTH)
        top, left = rng.integers(0, SIZE - height + 1), rng.integers(0, SIZE - width + 1)
        image[top:top + height, left:left + width] = 255.0
        boxes.append((top, left, top + height, left + width))
        while True:  # The square keeps a pixel of noise between itself and the bar.
            row, column = rng.integers(0, SIZE - 2, size=2)
            if row + 3 < top - 1 or row > top + height or column + 3 < left - 1 \
                    or column > left + width:
                image[row:row + 3, column:column + 3] = 255.0
                break
    return images, labels, boxes


def sequential_model():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Rescaling(1 / 255, name="rescale"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="avg_pool"),
        keras.layers.Dense(2, activation="softmax", name="predictions"),
    ], name="bar_sequential")


def residual_model():
    inputs = keras.Input((SIZE, SIZE, 1), name="images")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem_conv")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block_1_conv")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="block_2_conv")(y)
    x = keras.layers.Add(name="block_add")([x, y])
    x = keras.layers.Activation("relu", name="block_out")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="bar_residual")


def _train(build):
    keras.utils.set_random_seed(1)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels, _ = bar_images(1024, seed=1)
    model.fit(images, labels, epochs=5, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained():
    return {"sequential": _train(sequential_model), "residual": _train(residual_model)}


def _peak(heatmap):
    """Returns the (row, column) image pixel where the heat map, resized, is hottest."""
    return np.unravel_index(np.argmax(resize_heatmap(heatmap, (SIZE, SIZE))), (SIZE, SIZE))


def _on_bar(heatmap, box):
    (row, column), (top, left, bottom, right) = _peak(heatmap), box
    return (top - MARGIN <= row < bottom + MARGIN) and (left - MARGIN <= column < right + MARGIN)


def _share_on_bar(model, images, boxes, **kwargs):
    """Returns the share of images whose heat map peaks on the bar."""
    return float(np.mean([_on_bar(grad_cam(model, image, **kwargs).heatmap, box)
                          for image, box in zip(images, boxes)]))


@pytest.mark.parametrize("kind", ["sequential", "residual"])
def test_heat_map_peaks_where_the_class_signal_is(trained, kind):
    model = trained[kind]
    images, labels, boxes = bar_images(32, seed=2)
    right = model.predict(images, verbose=0).argmax(-1) == labels
    assert right.mean() >= 0.9, f"the model did not learn the task (accuracy {right.mean()})"
    # For the predicted class at the last feature map (the defaults), on the images the
    # model gets right. A peak thrown at random lands on the bar (with its margin) for
    # about a quarter of the images; one that follows the activations alone, ignoring
    # the gradients, lands on the square about as often as on the bar.
    assert _share_on_bar(model, images[right], [b for b, r in zip(boxes, right) if r]) >= 0.95


def test_heat_map_for_a_given_class_and_layer(trained):
    model = trained["residual"]
    images, labels, boxes = bar_images(12, seed=3)
    hits = []
    for image, label, box in zip(images, labels, boxes):
        result = grad_cam(model, image, class_index=int(label), layer="block_add")
        assert result.class_index == label and result.layer == "block_add"
        assert result.heatmap.shape == (SIZE, SIZE)
        assert result.heatmap.max() == pytest.approx(1.0) and result.heatmap.min() >= 0
        hits.append(_on_bar(result.heatmap, box))
    assert np.mean(hits) >= 0.85


def test_nested_model_gives_the_same_map(trained):
    inner = trained["sequential"]
    inputs = keras.Input((SIZE, SIZE, 1))
    outer = keras.Model(inputs, inner(inputs), name="outer")
    assert "bar_sequential/conv2" in layer_names(outer)
    image = bar_images(1, seed=4)[0][0]
    expected = grad_cam(inner, image, layer="conv2")
    for name in ("bar_sequential/conv2", "conv2"):
        result = grad_cam(outer, image, layer=name)
        np.testing.assert_allclose(result.heatmap, expected.heatmap, atol=1e-5)
        assert result.class_index == expected.class_index


def test_raw_uint8_pixels_give_the_float_map(trained):
    image = bar_images(1, seed=5)[0][0].round()
    as_float = grad_cam(trained["sequential"], image)
    as_uint8 = grad_cam(trained["sequential"], image.astype("uint8"))
    np.testing.assert_allclose(as_uint8.heatmap, as_float.heatmap, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_model(trained, policy):
    with dtype_policy(policy):
        model = residual_model()
    assert model.get_layer("block_add").compute_dtype != "float32"
    model.set_weights(trained["residual"].get_weights())
    images, _, boxes = bar_images(8, seed=6)
    results = [grad_cam(model, image) for image in images]
    assert all(r.heatmap.dtype == np.float32 and np.isfinite(r.heatmap).all()
               for r in results)
    assert np.mean([_on_bar(r.heatmap, box) for r, box in zip(results, boxes)]) >= 0.85


def test_bad_layers_images_and_classes_raise_clear_errors(trained):
    model = trained["residual"]
    image = np.zeros((SIZE, SIZE, 1))
    with pytest.raises(ValueError, match=r"'conv9' is not a layer.*choose one of \['stem_conv'"):
        grad_cam(model, image, layer="conv9")
    with pytest.raises(ValueError, match="'avg_pool' is not a convolutional feature map"):
        grad_cam(model, image, layer="avg_pool")
    with pytest.raises(ValueError, match="takes 1 channel"):
        grad_cam(model, np.zeros((SIZE, SIZE, 3)))
    with pytest.raises(ValueError, match="takes 16x16 images"):
        grad_cam(model, np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="one image"):
        grad_cam(model, np.zeros((2, SIZE, SIZE, 1)))
    with pytest.raises(ValueError, match="from 0 to 1"):
        grad_cam(model, image, class_index=2)
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="mlp")
    with pytest.raises(ValueError, match="no convolutional layers"):
        layer_names(dense_only)
