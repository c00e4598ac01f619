"""The options every family shares, passed to every registered model (issue 15).

Each model is built at a small input: the options act on every layer the same way at any
size, and the 224 px ImageNet ResNets would cost seconds each at their default input.
"""

import sys
import types

import keras
import pytest

import cnnzoo
import cnnzoo.models
from cnnzoo.models.compile import COMPILE_OPTIONS

ALL_MODELS = cnnzoo.list_models()


def _small_input(card):
    size = 32 if card.family in ("vgg", "resnet") else 18
    return (size, size, card.default_input[-1])


def _kernels(model):
    return [layer for layer in model.layers
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]


def _fixed_options(name):
    """The options a variant fixes: those of its family builder that it does not take."""
    return {"vgg": ("depth", "batch_norm"), "resnet": ("depth", "layout"),
            "resnet9": ("width",), "tutorial": ("filters", "kernel_size", "hidden_units")
            }.get(cnnzoo.model_card(name).family, ())


@pytest.mark.parametrize("name", ALL_MODELS)
def test_dropout_initializer_batch_norm_and_clipnorm(name):
    card = cnnzoo.model_card(name)
    batch_norm = {"batch_norm": True} if "batch_norm" in card.options else {}
    model = cnnzoo.build(name, input_shape=_small_input(card), num_classes=4, dropout=0.25,
                         kernel_initializer="he_normal", clipnorm=1.0, **batch_norm)
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert rates and set(rates) == {0.25}
    assert all(isinstance(layer.kernel_initializer, keras.initializers.HeNormal)
               for layer in _kernels(model))
    assert model.optimizer.clipnorm == 1.0 and model.optimizer.global_clipnorm is None
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if batch_norm or name.endswith("_bn") or card.family in ("resnet", "resnet9"):
        # Batch norm on: after every convolution, or (pre-activation) before it.
        assert len(norms) >= len(convs) - sum(c.name.endswith("_0_conv") for c in convs)
    else:
        assert not norms


@pytest.mark.parametrize("name", ALL_MODELS)
def test_initializer_instance_and_global_clipnorm(name):
    card = cnnzoo.model_card(name)
    initializer = keras.initializers.HeUniform()
    model = cnnzoo.build(name, input_shape=_small_input(card), kernel_initializer=initializer,
                         global_clipnorm=2.0)
    assert all(isinstance(layer.kernel_initializer, keras.initializers.HeUniform)
               for layer in _kernels(model))
    assert model.optimizer.global_clipnorm == 2.0 and model.optimizer.clipnorm is None


@pytest.fixture
def no_layer_may_be_built(monkeypatch):
    """Makes building the first layer fail, so a test sees whether a check came first."""
    def refuse(*args, **kwargs):
        raise AssertionError("a layer was built before the options were checked")

    monkeypatch.setattr(keras, "Input", refuse)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_unknown_options_are_refused_before_a_layer_is_built(name, no_layer_may_be_built):
    card = cnnzoo.model_card(name)
    with pytest.raises(ValueError) as error:
        cnnzoo.build(name, clip_norm=1.0)
    message = str(error.value)
    assert f"{name} takes no option clip_norm." in message
    assert "Did you mean clipnorm" in message
    # The message names every option the model takes and every compile setting.
    for option in [o for o in card.options if o != "weights"] + list(COMPILE_OPTIONS):
        assert option in message, option


@pytest.mark.parametrize("name", [name for name in ALL_MODELS
                                  if "batch_norm" not in cnnzoo.model_card(name).options])
def test_batch_norm_is_refused_where_the_architecture_or_name_decides_it(
        name, no_layer_may_be_built):
    fixed = "batch_norm" in _fixed_options(name)
    match = f"{name} fixes batch_norm" if fixed else "takes no option batch_norm"
    with pytest.raises(ValueError, match=match):
        cnnzoo.build(name, batch_norm=False)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"clipnorm": 0}, "clipnorm must be a positive number; received clipnorm=0"),
    ({"global_clipnorm": "1"}, "global_clipnorm must be a positive number"),
    ({"clipnorm": 1.0, "global_clipnorm": 1.0}, "clipnorm or global_clipnorm, not both"),
    ({"optimizer": keras.optimizers.SGD(), "clipnorm": 1.0}, "clipnorm apply to an optimizer "
                                                               "given by name"),
    ({"dropout": 1.0}, "dropout must be a rate in \\[0, 1\\); received dropout=1.0"),
    ({"dropout": "0.5"}, "dropout must be a rate"),
    ({"kernel_initializer": "he_nrmal"}, "kernel_initializer must be a Keras initializer "
                                         "name.*'he_nrmal'"),
    ({"kernel_initializer": None}, "kernel_initializer must be"),
    ({"pooling": "avg"}, "pooling applies with include_top=False"),
    ({"include_top": False, "pooling": "flatten"}, "pooling in \\[None, 'avg', 'max'\\]"),
    ({"include_top": False, "learning_rate": 0.1}, "not compiled"),
    ({"activation": "tahn"}, "takes no option activation"),
])
def test_bad_values_are_refused_before_a_layer_is_built(kwargs, message, no_layer_may_be_built):
    with pytest.raises(ValueError, match=message):
        cnnzoo.build("mnist_cnn", **kwargs)


def test_lenet_refuses_an_unknown_activation_before_building(no_layer_may_be_built):
    with pytest.raises(ValueError, match="activation='tahn'"):
        cnnzoo.build("lenet5", activation="tahn")


def test_family_builders_check_options_too(no_layer_may_be_built):
    with pytest.raises(ValueError, match="resnet20 takes no option weights.*"
                                         "cnnzoo.build\\(name, weights=...\\)"):
        cnnzoo.models.build_resnet(20, weights="fashion_mnist")
    with pytest.raises(ValueError, match="vgg11 takes no option clip"):
        cnnzoo.models.build_vgg(11, clip=1)


def test_batch_norm_option_keeps_layer_names_stable():
    model = cnnzoo.build("mnist_cnn", batch_norm=True, compile=False)
    names = [layer.name for layer in model.layers]
    assert names[2:6] == ["conv1", "conv1_bn", "conv1_relu", "pool1"]
    assert model.get_layer("conv1").use_bias is False
    lenet = cnnzoo.build("lenet5", batch_norm=True, compile=False)
    assert "c3_tanh" in [layer.name for layer in lenet.layers]


class _FakePretrained(types.ModuleType):
    """Stands in for `cnnzoo.pretrained`, recording what the registry asks of it."""

    def __init__(self):
        super().__init__("cnnzoo.pretrained")
        self.calls = []

    def check_weights_request(self, name, weights, *, input_shape, num_classes, include_top):
        self.calls.append(("check", name, weights, input_shape, num_classes, include_top))
        if weights == "imagenet":
            raise ValueError("no weights 'imagenet' for mnist_cnn; tags: fashion_mnist")
        return input_shape, num_classes

    def apply_weights(self, model, *, name, weights, include_top):
        self.calls.append(("apply", name, weights, model.name, include_top))
        return model


def test_weights_are_checked_before_building_and_applied_after(monkeypatch):
    fake = _FakePretrained()
    monkeypatch.setitem(sys.modules, "cnnzoo.pretrained", fake)
    model = cnnzoo.build("resnet9_w24", weights="fashion_mnist", include_top=False,
                         compile=False)
    assert model.name == "resnet9_w24" and len(model.output_shape) == 4
    assert fake.calls == [
        ("check", "resnet9_w24", "fashion_mnist", None, None, False),
        ("apply", "resnet9_w24", "fashion_mnist", "resnet9_w24", False)]
    fake.calls.clear()
    cnnzoo.models.build_mnist_cnn(weights="w.weights.h5", num_classes=3, compile=False)
    assert [call[0] for call in fake.calls] == ["check", "apply"]
    assert fake.calls[0][3:] == (None, 3, True)
    fake.calls.clear()
    monkeypatch.setattr(keras, "Input", lambda *a, **k: pytest.fail("built before the check"))
    with pytest.raises(ValueError, match="no weights 'imagenet'"):
        cnnzoo.build("mnist_cnn", weights="imagenet")


def test_weights_none_never_imports_pretrained(monkeypatch):
    monkeypatch.setitem(sys.modules, "cnnzoo.pretrained", None)  # any import would fail
    assert cnnzoo.build("mnist_cnn", weights=None, compile=False).name == "mnist_cnn"
