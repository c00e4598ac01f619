"""Backbones without their top, and named multi-stage features (issue 15, Features)."""

import math

import keras
import numpy as np
import pytest

import cnnzoo
from cnnzoo.models import FeatureStage, feature_info, features

# One model per family, at an input each takes.
FAMILIES = [("mnist_cnn", (28, 28, 1)), ("keras_mnist_convnet", (28, 28, 1)),
            ("tutorial_5x5", (28, 28, 1)), ("lenet5", (32, 32, 1)),
            ("alexnet_lite", (32, 32, 3)), ("vgg11_bn", (32, 32, 3)),
            ("resnet20", (32, 32, 3)), ("resnet18", (64, 64, 3)), ("resnet9_w24", (28, 28, 1))]


@pytest.mark.parametrize(("name", "shape"), FAMILIES)
def test_include_top_false_gives_the_map_or_its_global_pool(name, shape):
    backbone = cnnzoo.build(name, input_shape=shape, include_top=False)
    assert len(backbone.output_shape) == 4 and not backbone.compiled
    channels = backbone.output_shape[-1]
    assert backbone.output_shape[-1] == feature_info(backbone)[-1].channels
    for pooling, layer in (("avg", "avg_pool"), ("max", "max_pool")):
        pooled = cnnzoo.build(name, input_shape=shape, include_top=False, pooling=pooling)
        assert pooled.output_shape == (None, channels)
        assert pooled.layers[-1].name == layer
        assert not any(isinstance(x, keras.layers.Dense) for x in pooled.layers)


@pytest.mark.parametrize(("name", "shape"), FAMILIES)
def test_stages_are_the_deepest_layer_at_each_stride(name, shape):
    stages = feature_info(name, input_shape=shape)
    assert [stage.name for stage in stages] == [f"stage{i}" for i in range(1, len(stages) + 1)]
    strides = [stage.stride for stage in stages]
    assert strides == sorted(set(strides)) and all(s & (s - 1) == 0 for s in strides)
    for stage in stages:
        assert stage.shape[-1] == stage.channels
        # Each halving at most halves the map (rounding up); valid convolutions trim more.
        assert stage.shape[0] <= math.ceil(shape[0] / stage.stride)
    extractor = features(name, input_shape=shape)
    images = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    maps = extractor.predict_on_batch(images)
    assert list(maps) == [stage.name for stage in stages]
    for stage in stages:
        assert maps[stage.name].shape == (2, *stage.shape)


def test_resnet18_stages_match_torchvision_strides():
    stages = feature_info("resnet18", input_shape=(64, 64, 3))
    assert stages[0] == FeatureStage("stage1", "stem_relu", 2, 64, (32, 32, 64))
    assert [(s.layer, s.stride, s.channels) for s in stages[1:]] == [
        ("stage1_block2_out", 4, 64), ("stage2_block2_out", 8, 128),
        ("stage3_block2_out", 16, 256), ("stage4_block2_out", 32, 512)]


def test_valid_convolutions_keep_their_nominal_stride():
    # 28 -> 26 -> 13 -> 11 -> 5 -> 3: sizes would say stride 9 for conv3; layers say 4.
    stages = feature_info("mnist_cnn")
    assert [(s.layer, s.stride, s.shape[0]) for s in stages] == [
        ("conv1", 1, 26), ("conv2", 2, 11), ("conv3", 4, 3)]


def test_features_of_a_trained_model_share_its_weights_and_values():
    model = cnnzoo.build("mnist_cnn", compile=False)
    extractor = features(model, layers=["stage2", "conv3", "fc1"])
    assert list(extractor.output) == ["stage2", "conv3", "fc1"]
    assert {id(w) for w in extractor.weights} <= {id(w) for w in model.weights}
    images = np.random.default_rng(1).uniform(0, 255, (3, 28, 28, 1)).astype("float32")
    direct = keras.Model(model.input, model.get_layer("conv3").output).predict_on_batch(images)
    np.testing.assert_allclose(extractor.predict_on_batch(images)["conv3"], direct, atol=1e-6)
    model.get_layer("conv3").kernel.assign(np.zeros(model.get_layer("conv3").kernel.shape))
    assert float(np.abs(extractor.predict_on_batch(images)["conv3"]).max()) == 0.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layers": ["stage9"]}, "mnist_cnn has no stage or layer 'stage9'; its stages are"),
    ({"layers": []}, "layers must be a list of distinct"),
    ({"layers": "stage1"}, "layers must be a list"),
    ({"layers": ["conv1", "conv1"]}, "distinct"),
])
def test_bad_layer_requests_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        features("mnist_cnn", **kwargs)


def test_build_options_apply_to_names_only():
    model = cnnzoo.build("mnist_cnn", compile=False)
    with pytest.raises(ValueError, match="apply to a model given by name"):
        features(model, input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="registered model name or a keras.Model"):
        feature_info(3)
    extractor = features("mnist_cnn", input_shape=(36, 36, 1), batch_norm=True)
    assert extractor.output["stage1"].shape == (None, 34, 34, 32)
    assert "conv1_bn" in [layer.name for layer in extractor.layers]


def test_top_level_names():
    assert cnnzoo.models.features is features
    assert cnnzoo.models.build_keras_mnist_convnet(compile=False).count_params() == 34_826
