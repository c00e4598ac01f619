"""cnnzoo: classic convolutional image classifiers for Keras 3, one call away.

Models, the registry and the losses need only Keras, so `import cnnzoo` works on any Keras
backend without TensorFlow (a JAX GPU machine, say). Data pipelines, training helpers and
export use TensorFlow and are imported on first use.

Example:
    >>> import cnnzoo
    >>> model = cnnzoo.build_mnist_cnn()
    >>> model.input_shape, model.output_shape
    ((None, 28, 28, 1), (None, 10))
"""

from cnnzoo.lazy import lazy_attributes
from cnnzoo.losses import ClassificationAccuracy, ClassificationCrossentropy, TopFiveAccuracy
from cnnzoo.models import (build_alexnet_lite, build_lenet5, build_mnist_cnn, build_resnet,
                           build_resnet9, build_tutorial_3x3, build_tutorial_5x5, build_tutorial_cnn, build_vgg,
                           compile_classifier, make_optimizer)
from cnnzoo.registry import ModelCard, build, list_models, model_card

__version__ = "0.1.0"

# Public names that live in modules needing TensorFlow: name -> module, imported lazily.
_LAZY = {
    "load_dataset": "cnnzoo.data",
    "load_arrays": "cnnzoo.data",
    "DatasetInfo": "cnnzoo.data",
    "list_augment_presets": "cnnzoo.data",
    "AugmentPreset": "cnnzoo.data",
    "register_augment_preset": "cnnzoo.data",
    "DatasetNotFoundError": "cnnzoo.data",
    "fit": "cnnzoo.training",
    "evaluate": "cnnzoo.training",
    "Recipe": "cnnzoo.training",
    "get_recipe": "cnnzoo.training",
    "export_model": "cnnzoo.export",
    "export_saved_model": "cnnzoo.export",
    "load_exported": "cnnzoo.export",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
