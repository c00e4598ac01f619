"""FLOP counts agree with counts done by hand and with published figures."""

import keras
import pytest

from cnnzoo.flops import forward_flops, layer_flops, training_flops, training_flops_by_pass


def test_small_network_counted_by_hand():
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same"),                 # 8*8*4 outputs x 3*3*3
        keras.layers.DepthwiseConv2D(3, strides=2, padding="same"),  # 4*4*4 outputs x 3*3
        keras.layers.Conv2D(6, 1, groups=2),                        # 4*4*6 outputs x 1*1*2
        keras.layers.Flatten(),
        keras.layers.Dense(5),                                      # 96 x 5
    ])
    first = 8 * 8 * 4 * 27
    macs = first + 4 * 4 * 4 * 9 + 4 * 4 * 6 * 2 + 96 * 5
    assert forward_flops(model) == 2 * macs
    # The first layer sees only the images: no gradient with respect to its input.
    assert training_flops_by_pass(model) == {
        "forward": 2 * macs, "input_gradient": 2 * (macs - first), "kernel_gradient": 2 * macs}
    assert training_flops(model) == 3 * 2 * macs - 2 * first
    assert training_flops_by_pass(model, layer_types=(keras.layers.Dense,)) == {
        "forward": 2 * 96 * 5, "input_gradient": 2 * 96 * 5, "kernel_gradient": 2 * 96 * 5}


def test_a_frozen_layer_has_no_kernel_gradient_and_passes_the_input_gradient_on():
    inputs = keras.Input((6, 6, 1))
    frozen = keras.layers.Conv2D(2, 3, name="frozen", trainable=False)
    first = keras.layers.Conv2D(2, 3, name="first")(inputs)            # 4*4*2 x 9
    x = frozen(keras.layers.ReLU()(first))                             # 2*2*2 x 18
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))  # 8 x 3
    assert training_flops_by_pass(model) == {
        "forward": 2 * (288 + 144 + 24),
        "input_gradient": 2 * (144 + 24),       # all but the first layer
        "kernel_gradient": 2 * (288 + 24)}      # all but the frozen one


def test_branches_from_the_images_need_no_input_gradient():
    inputs = keras.Input((4, 4, 1))
    left = keras.layers.Conv2D(2, 3)(inputs)                           # 2*2*2 x 9 each
    right = keras.layers.Conv2D(2, 3)(inputs)
    joined = keras.layers.Conv2D(1, 1)(keras.layers.Add()([left, right]))  # 2*2*1 x 2
    model = keras.Model(inputs, joined)
    assert training_flops_by_pass(model)["input_gradient"] == 2 * 8


def test_nested_models_are_counted_through():
    inner = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)], name="inner")
    outer = keras.Sequential([keras.Input((4, 4, 1)), inner, keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    assert forward_flops(outer) == 2 * (2 * 2 * 2 * 9 + 8 * 3)
    # The nested model's convolution sees the images; the dense layer after it does not.
    assert training_flops_by_pass(outer)["input_gradient"] == 2 * 8 * 3


def test_a_frozen_base_inside_a_model_has_no_kernel_gradients():
    base = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)], name="base")
    base.trainable = False
    outer = keras.Sequential([keras.Input((4, 4, 1)), base, keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    assert training_flops_by_pass(outer) == {
        "forward": 2 * (72 + 24), "input_gradient": 0, "kernel_gradient": 2 * 24}


@pytest.mark.slow
def test_resnet50_matches_the_published_count():
    import cnnzoo

    model = cnnzoo.build("resnet50", compile=False)
    # torchvision lists ResNet-50 at 4.09 G multiply-adds ("GFLOPS") at 224x224.
    assert forward_flops(model) / 2 == pytest.approx(4.09e9, rel=0.01)


def test_a_layer_never_called_has_no_shapes_to_count():
    with pytest.raises(ValueError, match="no output shape"):
        layer_flops(keras.layers.Dense(3))
