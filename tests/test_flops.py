"""FLOP counts agree with counts done by hand and with published figures."""

import keras
import pytest

from cnnzoo.flops import forward_flops, layer_flops, training_flops


def test_small_network_counted_by_hand():
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same"),                 # 8*8*4 outputs x 3*3*3
        keras.layers.DepthwiseConv2D(3, strides=2, padding="same"),  # 4*4*4 outputs x 3*3
        keras.layers.Conv2D(6, 1, groups=2),                        # 4*4*6 outputs x 1*1*2
        keras.layers.Flatten(),
        keras.layers.Dense(5),                                      # 96 x 5
    ])
    macs = 8 * 8 * 4 * 27 + 4 * 4 * 4 * 9 + 4 * 4 * 6 * 2 + 96 * 5
    assert forward_flops(model) == 2 * macs
    assert training_flops(model) == 3 * 2 * macs


def test_nested_models_are_counted_through():
    inner = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3)], name="inner")
    outer = keras.Sequential([keras.Input((4, 4, 1)), inner, keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    assert forward_flops(outer) == 2 * (2 * 2 * 2 * 9 + 8 * 3)


@pytest.mark.slow
def test_resnet50_matches_the_published_count():
    import cnnzoo

    model = cnnzoo.build("resnet50", compile=False)
    # torchvision lists ResNet-50 at 4.09 G multiply-adds ("GFLOPS") at 224x224.
    assert forward_flops(model) / 2 == pytest.approx(4.09e9, rel=0.01)


def test_a_layer_never_called_has_no_shapes_to_count():
    with pytest.raises(ValueError, match="no output shape"):
        layer_flops(keras.layers.Dense(3))
