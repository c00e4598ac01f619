"""cnnzoo.export: SavedModels with serving signatures, .keras, TFLite and ONNX files.

Importing the package loads no TensorFlow: `FORMATS` and `find_saved_model` are plain
Python (the CLI builds its parser from them on any backend); the rest is imported on
first use.

    >>> from cnnzoo.export import FORMATS
    >>> FORMATS
    ('saved_model', 'keras', 'tflite', 'tflite_float16', 'tflite_int8', 'tflite_full_int8', 'onnx')
"""

from cnnzoo.export.formats import FORMATS
from cnnzoo.layouts.serving import find_saved_model, resolve_saved_model
from cnnzoo.lazy import lazy_attributes

# Public names in modules needing TensorFlow: name -> module, imported lazily.
_LAZY = {
    "export_model": "cnnzoo.export.formats",
    "ExportedPredictor": "cnnzoo.export.predictor",
    "ImageInputError": "cnnzoo.export.predictor",
    "load_exported": "cnnzoo.export.predictor",
    "export_saved_model": "cnnzoo.export.saved_model",
    "BYTES_SIGNATURE": "cnnzoo.export.signatures",
    "DEFAULT_SIGNATURE": "cnnzoo.export.signatures",
    "EXAMPLE_SIGNATURE": "cnnzoo.export.signatures",
}

__all__ = sorted(["FORMATS", "check_export_backend", "find_saved_model",
                  "resolve_saved_model", *_LAZY])

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


def check_export_backend():
    """Returns None when Keras runs on TensorFlow, which every export format needs (they
    are TensorFlow graphs, or converted from one).

    Raises:
        ValueError: Keras runs on another backend (jax, torch); the message says to export
            the model's `.keras` file from a TensorFlow process.
    """
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"export needs TensorFlow, and Keras runs on {backend!r} in this process; save "
            "the model as a .keras file (model.save('model.keras')) and export that file "
            "from a TensorFlow process: KERAS_BACKEND=tensorflow cnnzoo export model.keras "
            "OUTPUT.")
