"""`export_model`: one entry point for every export format.

TensorFlow and Keras are imported inside the functions, so `FORMATS` is importable
without them (the CLI's parser needs it on any backend).
"""

import pathlib

from cnnzoo.atomic import atomic_file
from cnnzoo.layouts.serving import export_path

FORMATS = ("saved_model", "keras", "tflite", "tflite_float16", "tflite_int8", "onnx")
_SUFFIXES = {"keras": ".keras", "tflite": ".tflite", "tflite_float16": ".tflite",
             "tflite_int8": ".tflite", "onnx": ".onnx"}


def export_model(model, path, *, format="saved_model", class_names=None, overwrite=False,
                 metadata=None, version=None):
    """Exports `model` to `path` in `format`; returns the written path.

    Formats:

    - `saved_model`: `export_saved_model` (serving signatures, model card; `version`
      writes TF Serving's `path/<version>` layout);
    - `keras`: the Keras model file (`.keras`), to load with `keras.saving.load_model`;
    - `tflite`, `tflite_float16`, `tflite_int8`: a LiteRT flatbuffer (`.tflite`) whose
      `serving_default` signature takes uint8 `images` `[batch, H, W, C]` and returns
      `probabilities` and `class_ids`; float32 weights, float16 weights, or dynamic-range
      int8 weights (float activations);
    - `onnx`: Keras's own `model.export(format="onnx")` (needs `tf2onnx` and `onnx`);
      takes the model's float32 `images` in [0, 255].

    Every format is written to a temporary sibling and renamed into place.

    Raises:
        ValueError: an unknown format, a file name without the format's suffix, or what
            `export_saved_model` refuses; `class_names`/`metadata`/`version` for formats
            that do not store them.
        FileExistsError, NotADirectoryError: as `export_saved_model`, before writing;
            with `overwrite`, also a file at `path` that is not of `format`
            (`check_replaceable_file`): only what an export wrote is replaced.
        ImportError: `onnx` without its packages.
    """
    from cnnzoo.export.saved_model import check_classifier, export_saved_model

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {list(FORMATS)}.")
    if format == "saved_model":
        return export_saved_model(model, path, class_names=class_names, overwrite=overwrite,
                                  metadata=metadata, version=version)
    check_classifier(model)
    stored_only_in_saved_model = {"class_names": class_names, "metadata": metadata,
                                  "version": version}
    given = sorted(k for k, v in stored_only_in_saved_model.items() if v is not None)
    if given:
        raise ValueError(f"{given} are stored only in SavedModel exports; format={format!r} "
                         "keeps none of them. Leave them out or use format='saved_model'.")
    path = export_path(path)
    if path.suffix != _SUFFIXES[format]:
        raise ValueError(f"format {format!r} writes a {_SUFFIXES[format]} file; received "
                         f"path {str(path)!r}. Use e.g. {path.stem + _SUFFIXES[format]!r}.")
    if overwrite:
        check_replaceable_file(path, format)
    with atomic_file(path, overwrite=overwrite) as staging:
        if format == "keras":
            model.save(staging)
        elif format == "onnx":
            _export_onnx(model, staging)
        else:
            staging.write_bytes(tflite_bytes(model, quantization=format[len("tflite_"):]
                                             or None))
    return path.expanduser().absolute()


def _is_keras_file(path):
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _starts_like(path, test):
    with open(path, "rb") as file:
        return test(file.read(8))


# How each format's files are told apart from anything else: a .keras file is a zip
# holding config.json; a LiteRT flatbuffer carries "TFL3" at offset 4; an ONNX model is a
# protobuf ModelProto, which serialisers start with ir_version (field 1, varint: 0x08).
_LOOKS_LIKE = {
    "keras": _is_keras_file,
    "tflite": lambda p: _starts_like(p, lambda head: head[4:8] == b"TFL3"),
    "onnx": lambda p: _starts_like(p, lambda head: head[:1] == b"\x08"),
}


def check_replaceable_file(path, format):
    """Checks that an export in `format` may replace the file at `path`.

    Only a file of that format (as an export writes it) is replaced; a missing `path`
    passes. Nothing is changed here.

    Raises:
        FileExistsError: `path` is a symbolic link, or a file whose contents are not of
            `format` (a user's file that only shares the suffix); the message names it.
    """
    path = pathlib.Path(path).expanduser()
    if not (path.exists() or path.is_symlink()) or not (path.is_file() or path.is_symlink()):
        return  # Missing, or a folder or device, which `atomic_file` refuses by name.
    looks_like = _LOOKS_LIKE[format.split("_")[0]]
    if path.is_symlink() or not looks_like(path):
        what = "a symbolic link" if path.is_symlink() else f"not a {format} file"
        raise FileExistsError(
            f"refusing to replace {str(path)!r}: it is {what}, and an export replaces only "
            f"a file of its own format. Choose another path, or move it away yourself if "
            "it may go.")


def tflite_bytes(model, *, quantization=None):
    """Returns the LiteRT flatbuffer of `model`'s uint8 serving function.

    Args:
        quantization: None (float32), `"float16"` (float16 weights) or `"int8"`
            (dynamic-range: int8 weights, float activations; no calibration data needed).

    Raises:
        ValueError: an unknown quantization.
    """
    import tempfile

    import keras
    import tensorflow as tf

    from cnnzoo.export.saved_model import write_archive
    from cnnzoo.export.signatures import plain_function

    if quantization not in (None, "float16", "int8"):
        raise ValueError(f"quantization must be None, 'float16' or 'int8'; received "
                         f"{quantization!r}.")
    with tempfile.TemporaryDirectory() as scratch:
        # The converter's supported path for Keras 3 models: a SavedModel first.
        write_archive(scratch, {"serving_default": plain_function(model)})
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def _export_onnx(model, filepath):
    missing = [name for name in ("tf2onnx", "onnx") if not _importable(name)]
    if missing:
        raise ImportError(f"ONNX export needs the packages {missing}: pip install "
                          f"{' '.join(missing)}")
    import tensorflow as tf

    # Given explicitly: without it Keras derives the signature from the model's first
    # call, and refuses a model loaded from a .keras file ("has never called").
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="images")]
    model.export(str(filepath), format="onnx", verbose=False, input_signature=signature)


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None
