"""cnnzoo: classic convolutional image classifiers for Keras 3, one call away.

Every public name is imported on first use (PEP 562), so `import cnnzoo` and the command
line's `--help` load neither Keras nor TensorFlow. Models, the registry and the losses
need only Keras, so they work on any Keras backend without TensorFlow (a JAX GPU machine,
say); data pipelines, training helpers and export use TensorFlow.

Example:
    >>> import cnnzoo
    >>> model = cnnzoo.build_mnist_cnn()
    >>> model.input_shape, model.output_shape
    ((None, 28, 28, 1), (None, 10))
"""

import sys

from cnnzoo.lazy import lazy_attributes

__version__ = "0.1.0"

# Every public name of `cnnzoo.models` (a test holds the two lists together).
_MODELS = ("build", "list_models", "model_card", "ModelCard", "compile_classifier",
           "make_optimizer", "features", "feature_info", "FeatureStage", "build_alexnet_lite",
           "build_keras_mnist_convnet", "build_lenet5", "build_mnist_cnn", "build_resnet",
           "build_resnet18", "build_resnet20", "build_resnet32", "build_resnet34",
           "build_resnet44", "build_resnet50", "build_resnet56", "build_resnet101",
           "build_resnet110", "build_resnet152", "build_resnet9", "build_resnet9_paper",
           "build_resnet9_w24", "build_tutorial_3x3", "build_tutorial_5x5", "build_tutorial_cnn",
           "build_vgg", "build_vgg11", "build_vgg11_bn", "build_vgg13", "build_vgg13_bn",
           "build_vgg16", "build_vgg16_bn", "build_vgg19", "build_vgg19_bn")
_DATA = ("load_dataset", "load_arrays", "DatasetInfo", "list_augment_presets", "AugmentPreset",
         "register_augment_preset", "DatasetNotFoundError")

# Public name -> the module that defines it. The registry's functions are taken from
# `cnnzoo.models`, whose import registers every built-in model before they are used.
_LAZY = {
    **dict.fromkeys(_MODELS, "cnnzoo.models"),
    **dict.fromkeys(("ClassificationAccuracy", "ClassificationCrossentropy",
                     "TopFiveAccuracy"), "cnnzoo.losses"),
    **dict.fromkeys(_DATA, "cnnzoo.data"),
    **dict.fromkeys(("fit", "Recipe", "get_recipe"), "cnnzoo.training"),
    "WorkdirInUseError": "cnnzoo.training.lock",
    **dict.fromkeys(("evaluate", "load_model"), "cnnzoo.artifacts"),  # Paths load here.
    **dict.fromkeys(("export_model", "export_saved_model", "load_exported"), "cnnzoo.export"),
    "PixelRangeWarning": "cnnzoo.pixels",
    "fine_tune": "cnnzoo.finetune",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if "keras" in sys.modules:
    # Keras is loaded already, so registering cnnzoo's layers and losses costs nothing,
    # and `keras.saving.load_model` then reads cnnzoo's `.keras` files as it did before
    # the names became lazy. (Without Keras loaded, `cnnzoo.load_model` registers them.)
    import cnnzoo.models  # noqa: E402,F401
