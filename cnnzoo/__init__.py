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

from cnnzoo.lazy import lazy_attributes

__version__ = "0.1.0"

_MODELS = ("build", "list_models", "model_card", "ModelCard", "compile_classifier",
           "make_optimizer", "build_alexnet_lite", "build_lenet5", "build_mnist_cnn",
           "build_resnet", "build_resnet9", "build_tutorial_3x3", "build_tutorial_5x5",
           "build_tutorial_cnn", "build_vgg",
           "build_keras_mnist_convnet", "features", "feature_info", "FeatureStage")
_DATA = ("load_dataset", "load_arrays", "DatasetInfo", "list_augment_presets", "AugmentPreset",
         "register_augment_preset", "DatasetNotFoundError")

# Public name -> the module that defines it. The registry's functions are taken from
# `cnnzoo.models`, whose import registers every built-in model before they are used.
_LAZY = {
    **dict.fromkeys(_MODELS, "cnnzoo.models"),
    **dict.fromkeys(("ClassificationAccuracy", "ClassificationCrossentropy",
                     "TopFiveAccuracy"), "cnnzoo.losses"),
    **dict.fromkeys(_DATA, "cnnzoo.data"),
    **dict.fromkeys(("fit", "evaluate", "Recipe", "get_recipe"), "cnnzoo.training"),
    **dict.fromkeys(("export_model", "export_saved_model", "load_exported"), "cnnzoo.export"),
    "PixelRangeWarning": "cnnzoo.pixels",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
