"""Registry look-ups, wildcards, natural order, and the errors users see."""

import pytest

import cnnzoo
import cnnzoo.models
from cnnzoo.registry import register_model, register_variant


def test_lists_every_family_with_the_issue_names():
    names = cnnzoo.list_models()
    for expected in ["mnist_cnn", "lenet5", "alexnet_lite", "tutorial_3x3", "tutorial_5x5",
                     "vgg11", "vgg19_bn", "resnet18", "resnet152", "resnet20", "resnet110",
                     "resnet9", "resnet9_w24", "keras_mnist_convnet"]:
        assert expected in names
    assert {cnnzoo.model_card(n).family for n in names} == {
        "mnist_cnn", "keras_mnist", "tutorial", "lenet", "alexnet", "vgg", "resnet", "resnet9"}


def test_wildcards_sort_naturally_and_exclude():
    assert cnnzoo.list_models("resnet1*") == ["resnet18", "resnet101", "resnet110",
                                              "resnet152"]
    assert cnnzoo.list_models("vgg*", exclude="*_bn") == ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert cnnzoo.list_models(family="lenet") == ["lenet5"]
    assert cnnzoo.list_models("nothing*") == []


def test_named_builder_and_build_agree():
    assert cnnzoo.build_mnist_cnn(compile=False).count_params() == \
        cnnzoo.build("mnist_cnn", compile=False).count_params()


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown model 'resnt20'; did you mean 'resnet20'"):
        cnnzoo.build("resnt20")
    with pytest.raises(ValueError, match="unknown model 'xyz'"):
        cnnzoo.model_card("xyz")


def test_duplicate_and_badly_formed_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("mnist_cnn", family="x", num_params=0, reference="")
    with pytest.raises(ValueError, match="lowercase"):
        register_model("ResNet", family="x", num_params=0, reference="")
    with pytest.raises(ValueError, match="already registered"):
        register_variant("resnet20", cnnzoo.build_resnet, fixed={"depth": 20}, family="x",
                         num_params=0, reference="", summary="")
    with pytest.raises(ValueError, match="build_resnet takes no option \\['width'\\]"):
        register_variant("resnet_wide", cnnzoo.build_resnet, fixed={"width": 2}, family="x",
                         num_params=0, reference="", summary="")
    assert "resnet_wide" not in cnnzoo.list_models()


def test_a_variant_is_its_family_builder_with_fixed_options():
    variant = cnnzoo.build("resnet9_w24", compile=False)
    family = cnnzoo.build_resnet9(width=24, input_shape=(28, 28, 1), name="resnet9_w24",
                                  compile=False)
    assert [(w.path, w.shape) for w in variant.weights] == [
        (w.path, w.shape) for w in family.weights]
    assert "width=24" in cnnzoo.models.build_resnet9_w24.__doc__


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("vgg16", {"input_shape": (28, 28, 3)}, r"at least 32x32 pixels.*input_shape=\(28, 28, 3\)"),
    ("resnet50", {"input_shape": (16, 16, 3)}, "at least 32x32"),
    ("mnist_cnn", {"input_shape": (12, 12, 1)}, "at least 18x18"),
    ("lenet5", {"input_shape": (8, 8, 1)}, "at least 16x16"),
    ("mnist_cnn", {"input_shape": (28, 28, 4)}, "1 \\(grayscale\\) or 3 \\(RGB\\).*4 channels"),
    ("mnist_cnn", {"input_shape": (28, 28)}, "input_shape must be \\(height, width, channels\\)"),
    ("mnist_cnn", {"input_shape": (28, -1, 1)}, "positive integers"),
    ("mnist_cnn", {"num_classes": 1}, "at least 2; received num_classes=1"),
    ("mnist_cnn", {"num_classes": 2.5}, "received num_classes=2.5"),
    ("mnist_cnn", {"optimizer": "adamm"}, "unknown optimizer 'adamm'"),
    ("mnist_cnn", {"label_smoothing": 1.5}, "label_smoothing must be in"),
    ("mnist_cnn", {"compile": False, "learning_rate": 0.1}, "not compiled"),
    ("mnist_cnn", {"pooling": "mean"}, "pooling in"),
    ("lenet5", {"subsampling": "median"}, "subsampling in"),
    ("mnist_cnn", {"learning_rate": -1}, "learning_rate must be positive"),
    ("vgg16", {"depth": 11}, r"vgg16 fixes depth=16; received depth=11.*build_vgg"),
    ("resnet20", {"layout": "imagenet"}, "resnet20 fixes layout='cifar'"),
    ("tutorial_3x3", {"filters": (8, 16)}, "tutorial_3x3 fixes filters=\\(32, 64\\)"),
])
def test_bad_arguments_are_refused_with_the_received_value(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build(name, **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"depth": 12}, "depth in \\[11, 13, 16, 19\\]"),
    ({"depth": 16, "head": "huge"}, "head in"),
])
def test_vgg_refuses_unsupported_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build_vgg(**kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"depth": 21}, "depth 6n\\+2.*depth=21"),
    ({"depth": 18, "layout": "cifar"}, "depth 6n\\+2"),
    ({"depth": 20, "layout": "imagenet"}, "depth in \\[18, 34, 50, 101, 152\\]"),
    ({"depth": 20, "layout": "tiny"}, "layout in"),
    ({"depth": [20]}, "depth must be an integer.*received depth=\\[20\\]"),
])
def test_resnet_refuses_unsupported_depths(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build_resnet(**kwargs)


def test_optimizer_instance_and_weight_decay():
    import keras

    model = cnnzoo.build("mnist_cnn", optimizer=keras.optimizers.SGD(0.01))
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    model = cnnzoo.build("mnist_cnn", optimizer="adamw", weight_decay=5e-4, learning_rate=3e-3)
    assert float(model.optimizer.weight_decay) == pytest.approx(5e-4)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    with pytest.raises(ValueError, match="given by name"):
        cnnzoo.build("mnist_cnn", optimizer=keras.optimizers.SGD(), learning_rate=0.1)


def test_learning_rate_schedule_is_accepted():
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100)
    model = cnnzoo.build("mnist_cnn", learning_rate=schedule)
    assert model.optimizer.learning_rate is not None


def test_two_classes_compile_without_top5():
    model = cnnzoo.build("tutorial_5x5", num_classes=2, run_eagerly=True)
    import numpy as np

    model.train_on_batch(np.zeros((2, 28, 28, 1), "float32"), np.array([0, 1]))
    assert set(model.get_metrics_result()) == {"loss", "accuracy"}


PUBLIC_BUILDERS = sorted(name for name in dir(cnnzoo.models) if name.startswith("build_"))


@pytest.mark.parametrize("builder_name", PUBLIC_BUILDERS)
def test_every_public_builder_documents_each_argument(builder_name):
    import inspect

    from cnnzoo.registry import args_entries

    builder = getattr(cnnzoo.models, builder_name)
    entries = args_entries(builder.__doc__)
    for key, parameter in inspect.signature(builder).parameters.items():
        key = f"**{key}" if parameter.kind is parameter.VAR_KEYWORD else key
        assert entries.get(key), f"{builder_name} does not document {key}"
    assert "\nReturns:\n" in builder.__doc__ and "\nRaises:\n" in builder.__doc__


def test_every_registered_model_has_a_public_builder():
    names = {f"build_{name}" for name in cnnzoo.list_models()} - {"build_resnet9"}
    assert names <= set(PUBLIC_BUILDERS)
    assert cnnzoo.models.build_resnet9_paper.__name__ == "build_resnet9_paper"
