"""cnnzoo: classic convolutional image classifiers for Keras 3, one call away.

Example:
    >>> import cnnzoo
    >>> model = cnnzoo.build_mnist_cnn()
    >>> model.input_shape, model.output_shape
    ((None, 28, 28, 1), (None, 10))
"""

from cnnzoo.export import export_model, export_saved_model, load_exported
from cnnzoo.losses import ClassificationAccuracy, ClassificationCrossentropy, TopFiveAccuracy
from cnnzoo.models import (build_alexnet_lite, build_lenet5, build_mnist_cnn, build_resnet,
                           build_tutorial_3x3, build_tutorial_5x5, build_tutorial_cnn, build_vgg,
                           compile_classifier, make_optimizer)
from cnnzoo.registry import ModelCard, build, list_models, model_card
from cnnzoo.training import Recipe, evaluate, fit, get_recipe

__version__ = "0.1.0"
