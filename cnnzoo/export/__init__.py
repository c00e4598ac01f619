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

__all__ = sorted(["FORMATS", "find_saved_model", "resolve_saved_model", *_LAZY])

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
