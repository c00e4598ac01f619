"""Every registered model, driven by the registry: build, shapes, a training step, cards."""

import re

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo.losses import ClassificationCrossentropy
from test_models_layout import LAYOUTS, layout_digest

ALL_MODELS = cnnzoo.list_models()


def _small_input(card):
    """The smallest convenient input each model takes: 32 px for deep downsamplers."""
    channels = card.default_input[-1]
    size = 32 if card.family in ("vgg", "resnet", "alexnet", "lenet") else 28
    return (size, size, channels)


def _trainable_params(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def _fixed_batch(input_shape, num_classes, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(batch, *input_shape)).astype("float32")
    labels = np.arange(batch) % num_classes
    return images, labels


@pytest.mark.parametrize("name", ALL_MODELS)
def test_builds_at_small_input_with_other_head_and_takes_a_step(name):
    card = cnnzoo.model_card(name)
    input_shape = _small_input(card)
    # Eager steps: tracing a 150-layer graph costs more than the two steps it would speed.
    model = cnnzoo.build(name, input_shape=input_shape, num_classes=7, run_eagerly=True)
    assert model.name == name
    assert model.input_shape == (None, *input_shape)
    assert model.output_shape == (None, 7)
    assert isinstance(model.loss, ClassificationCrossentropy)

    images, labels = _fixed_batch(input_shape, 7)
    probabilities = model.predict_on_batch(images)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    loss = float(model.train_on_batch(images, labels)[0])
    assert np.isfinite(loss)
    assert set(model.get_metrics_result()) == {"loss", "accuracy", "top5_accuracy"}
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


# The smallest model of each family: a training step on a fixed batch must lower its loss.
ONE_PER_FAMILY = ["mnist_cnn", "keras_mnist_convnet", "tutorial_3x3", "tutorial_5x5", "lenet5", "alexnet_lite",
                  "vgg11", "vgg11_bn", "resnet20", "resnet18"]


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_training_steps_lower_the_loss_on_a_fixed_batch(name):
    card = cnnzoo.model_card(name)
    input_shape = _small_input(card)
    # No dropout noise, and a learning rate small enough for plain VGG's first steps.
    kwargs = {"dropout": 0.0} if card.family in ("vgg", "alexnet", "tutorial",
                                                 "keras_mnist") else {}
    model = cnnzoo.build(name, input_shape=input_shape, num_classes=5, learning_rate=1e-4,
                         run_eagerly=True, **kwargs)
    images, labels = _fixed_batch(input_shape, 5)
    losses = [float(model.train_on_batch(images, labels)[0]) for _ in range(5)]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], f"{name}: loss did not fall on a fixed batch: {losses}"
    assert set(model.get_metrics_result()) == {"loss", "accuracy"}


def _description_facts(model, description):
    """Returns `(stated, built)` pairs for each figure `description` states about `model`."""
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    facts = []
    for count in re.findall(r"([\d,]+) params", description):
        facts.append((int(count.replace(",", "")), _trainable_params(model)))
    for shape in re.findall(r" at (\d+x\d+x\d+)", description):
        facts.append((shape, "x".join(map(str, model.input_shape[1:]))))
    for classes in re.findall(r"(\d+) classes", description):
        facts.append((int(classes), model.output_shape[-1]))
    for width in re.findall(r"width (\d+)", description):
        facts.append((int(width), convs[0].filters))
    for series in re.findall(r"(\d+(?:-\d+)+) filters", description):
        distinct = list(dict.fromkeys(conv.filters for conv in convs))
        facts.append(([int(n) for n in series.split("-")], distinct))
    stated_convs = [int(n) for group in re.findall(r"Conv ?(\d+(?:/\d+)*)", description)
                    for n in group.split("/")]
    if stated_convs:
        facts.append((stated_convs, [conv.filters for conv in convs]))
    for units in re.findall(r"Dense ?(\d+)", description):
        dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        facts.append((int(units), int(units) if int(units) in dense else dense))
    for rate in re.findall(r"Dropout (\d\.\d+)", description):
        rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        facts.append((float(rate), float(rate) if float(rate) in rates else rates))
    return facts


@pytest.mark.parametrize("name", ALL_MODELS)
def test_card_matches_model_at_default_input(name):
    card = cnnzoo.model_card(name)
    model = cnnzoo.build(name, compile=False)
    assert model.input_shape == (None, *card.default_input)
    assert model.output_shape == (None, card.num_classes)
    assert _trainable_params(model) == card.num_params
    assert card.reference and card.description
    if name in LAYOUTS["digests"]:  # default options keep the layout weights were saved in
        assert layout_digest(model) == LAYOUTS["digests"][name]["sha256"]
    # Every description states the parameter count, so its figures are always checked.
    assert re.search(r"[\d,]+ params", card.description), card.description
    for stated, built in _description_facts(model, card.description):
        assert stated == built, f"{name}: the card says {stated}, the model has {built}"


def test_description_facts_catch_the_drift_that_once_happened():
    model = cnnzoo.build("resnet9_w24", compile=False)
    drifted = "ResNet-9 at width 16: 16-32-64-128 filters (412,666 params), for 28x28."
    mismatches = [(s, b) for s, b in _description_facts(model, drifted) if s != b]
    assert mismatches == [(412_666, 926_578), (16, 24), ([16, 32, 64, 128], [24, 48, 96, 192])]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_config_round_trip(name):
    card = cnnzoo.model_card(name)
    model = cnnzoo.build(name, input_shape=_small_input(card), compile=False)
    clone = model.__class__.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.count_params() == model.count_params()


@pytest.mark.parametrize(("builder", "kwargs", "expected"), [
    (cnnzoo.build_mnist_cnn, {"input_shape": (28, 28, 1), "num_classes": 10}, 93_322),
    (cnnzoo.build_lenet5, {"input_shape": (32, 32, 1), "num_classes": 10}, 61_706),
    (cnnzoo.build_vgg, {"depth": 16, "head": "classic", "input_shape": (224, 224, 3),
                        "num_classes": 1000}, 138_357_544),
    (cnnzoo.build_resnet, {"depth": 50, "input_shape": (224, 224, 3), "num_classes": 1000},
     25_557_032),
])
def test_reference_parameter_counts(builder, kwargs, expected):
    assert _trainable_params(builder(compile=False, **kwargs)) == expected


def test_resnet50_total_count_adds_batch_norm_statistics():
    model = cnnzoo.build_resnet(50, input_shape=(224, 224, 3), num_classes=1000, compile=False)
    moving = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert model.count_params() == 25_557_032 + moving


@pytest.mark.parametrize(("depth", "low", "high"), [(20, 0.26e6, 0.28e6),
                                                    (110, 1.6e6, 1.8e6)])
def test_cifar_resnet_sizes_match_the_paper(depth, low, high):
    assert low < _trainable_params(cnnzoo.build_resnet(depth, compile=False)) < high


@pytest.mark.parametrize("depth", [20, 50])
def test_preactivation_resnet_builds_and_ends_in_bn_relu(depth):
    shape = (32, 32, 3)
    model = cnnzoo.build_resnet(depth, preact=True, input_shape=shape, compile=False)
    assert model.name == f"resnet{depth}_preact"
    names = [layer.name for layer in model.layers]
    assert names[-4:] == ["post_bn", "post_relu", "avg_pool", "predictions"]
    assert not any(name.endswith("_out") for name in names)


def test_batch_norm_vgg_has_a_batch_norm_after_every_conv():
    model = cnnzoo.build("vgg11_bn", compile=False)
    convs = [layer.name for layer in model.layers if layer.name.endswith(("_conv1", "_conv2"))]
    norms = {layer.name for layer in model.layers if layer.name.endswith("_bn")}
    assert len(convs) == 8 and all(f"{conv}_bn" in norms for conv in convs)


def test_resnet9_has_pages_layout_at_any_width():
    model = cnnzoo.build_resnet9(width=8, input_shape=(28, 28, 1), compile=False)
    convs = [layer for layer in model.layers if layer.name.endswith("_conv")]
    assert [conv.filters for conv in convs] == [8, 16, 16, 16, 32, 64, 64, 64]
    assert [layer.name for layer in model.layers if layer.name.endswith("_add")] == [
        "layer1_add", "layer3_add"]
    assert model.get_layer("layer3_add").output.shape[1:] == (3, 3, 64)
    assert model.layers[-2].name == "max_pool"  # Page pools by max, not average


def test_resnet9_refuses_a_width_that_is_not_a_positive_integer():
    with pytest.raises(ValueError, match="width must be a positive integer.*width=0"):
        cnnzoo.build_resnet9(width=0)
    with pytest.raises(ValueError, match="resnet9_w24 fixes width=24.*build_resnet9"):
        cnnzoo.build("resnet9_w24", width=16)


def test_models_take_raw_pixels_and_rescale_them_first():
    model = cnnzoo.build_mnist_cnn(compile=False)
    assert model.layers[1].name == "rescale"
    assert float(model.layers[1].scale) == pytest.approx(1 / 255)
    assert model.inputs[0].dtype == "float32"


def test_include_top_false_returns_features_as_keras_applications():
    assert cnnzoo.build("resnet20", include_top=False).output_shape == (None, 8, 8, 64)
    assert cnnzoo.build("resnet20", include_top=False, pooling="avg").output_shape == (None, 64)
    model = cnnzoo.build("resnet20", include_top=False, pooling="max")
    assert model.layers[-1].name == "max_pool" and model.output_shape == (None, 64)


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet20", "vgg11_bn"])
def test_keras_file_round_trip_gives_the_same_outputs(name, tmp_path):
    import keras

    card = cnnzoo.model_card(name)
    input_shape = _small_input(card)
    model = cnnzoo.build(name, input_shape=input_shape, label_smoothing=0.1, run_eagerly=True)
    images, labels = _fixed_batch(input_shape, card.num_classes)
    model.train_on_batch(images, labels)  # moves weights and batch-norm statistics off init
    path = tmp_path / f"{name}.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)
    expected = model.predict_on_batch(images)
    np.testing.assert_allclose(loaded.predict_on_batch(images), expected, atol=1e-6)
    assert isinstance(loaded.loss, ClassificationCrossentropy)
    assert float(loaded.loss(labels, expected)) == pytest.approx(
        float(model.loss(labels, expected)))
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
