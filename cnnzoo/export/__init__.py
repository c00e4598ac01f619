"""cnnzoo.export: SavedModels with serving signatures, .keras, TFLite and ONNX files.

    >>> from cnnzoo.export import FORMATS
    >>> FORMATS
    ('saved_model', 'keras', 'tflite', 'tflite_float16', 'tflite_int8', 'onnx')
"""

from cnnzoo.export.formats import FORMATS, export_model
from cnnzoo.export.predictor import ExportedPredictor, ImageInputError, load_exported
from cnnzoo.export.saved_model import export_saved_model
from cnnzoo.export.signatures import BYTES_SIGNATURE, DEFAULT_SIGNATURE, EXAMPLE_SIGNATURE

__all__ = ["BYTES_SIGNATURE", "DEFAULT_SIGNATURE", "EXAMPLE_SIGNATURE", "ExportedPredictor",
           "FORMATS", "ImageInputError", "export_model", "export_saved_model",
           "load_exported"]
