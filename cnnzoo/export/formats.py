"""`export_model`: one entry point for every export format.

TensorFlow and Keras are imported inside the functions, so `FORMATS` is importable
without them (the CLI's parser needs it on any backend).
"""

import pathlib

from cnnzoo.atomic import atomic_file
from cnnzoo.layouts.serving import export_path

FORMATS = ("saved_model", "keras", "tflite", "tflite_float16", "tflite_int8",
           "tflite_full_int8", "onnx")
_SUFFIXES = {"keras": ".keras", "tflite": ".tflite", "tflite_float16": ".tflite",
             "tflite_int8": ".tflite", "tflite_full_int8": ".tflite", "onnx": ".onnx"}
# The format that is calibrated on sample images (`calibration`).
CALIBRATED_FORMAT = "tflite_full_int8"


def export_model(model, path, *, format="saved_model", class_names=None, overwrite=False,
                 metadata=None, version=None, calibration=None):
    """Exports `model` to `path` in `format`; returns the written path.

    Formats:

    - `saved_model`: `export_saved_model` (serving signatures, model card; `version`
      writes TF Serving's `path/<version>` layout);
    - `keras`: the Keras model file (`.keras`), to load with `keras.saving.load_model`;
    - `tflite`, `tflite_float16`, `tflite_int8`: a LiteRT flatbuffer (`.tflite`) whose
      `serving_default` signature takes uint8 `images` `[batch, H, W, C]` and returns
      `probabilities` and `class_ids`; float32 weights, float16 weights, or dynamic-range
      int8 weights (float activations);
    - `tflite_full_int8`: a full-integer LiteRT flatbuffer for integer-only hardware:
      int8 weights and activations calibrated on `calibration`, uint8 `images` in (raw
      pixels: scale 1, zero point 0) and uint8 `probabilities` out (scale 1/256), with
      int64 `class_ids` (`full_int8_tflite_bytes`);
    - `onnx`: Keras's own `model.export(format="onnx")` (needs `tf2onnx` and `onnx`);
      takes the model's float32 `images` in [0, 255].

    Every format is written to a temporary sibling and renamed into place.

    Args:
        calibration: for `tflite_full_int8` only (and needed by it): a representative
            sample of the training images, raw pixels `(N, H, W, C)` (a few hundred).

    Raises:
        ValueError: an unknown format, a file name without the format's suffix, or what
            `export_saved_model` refuses; `class_names`/`metadata`/`version` for formats
            that do not store them; `calibration` missing for `tflite_full_int8`, not
            images the model takes, or given for another format.
        FileExistsError, NotADirectoryError: as `export_saved_model`, before writing;
            with `overwrite`, also a file at `path` that is not of `format`
            (`check_replaceable_file`): only what an export wrote is replaced.
        ImportError: `onnx` without its packages.
    """
    from cnnzoo.export.saved_model import check_classifier, export_saved_model

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {list(FORMATS)}.")
    if (calibration is not None) != (format == CALIBRATED_FORMAT):
        raise ValueError(f"calibration images are taken by format={CALIBRATED_FORMAT!r} only, "
                         f"which needs them; received format={format!r} "
                         f"{'with' if calibration is not None else 'without'} them.")
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
        elif format == CALIBRATED_FORMAT:
            staging.write_bytes(full_int8_tflite_bytes(model, calibration))
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


def calibration_sample(dataset, size=500, *, seed=0, data_dir=None):
    """Returns `size` images drawn at random (seeded) from `dataset`'s training split.

    The representative sample `tflite_full_int8` is calibrated on (TensorFlow suggests a
    few hundred images); uint8 raw pixels `(N, H, W, C)`, all of them when fewer.

    Raises:
        As `cnnzoo.load_arrays`: a dataset that is nowhere, bad arguments.
    """
    import numpy as np

    from cnnzoo.data import load_arrays

    images, _, _ = load_arrays(dataset, "train", data_dir=data_dir)
    chosen = np.random.default_rng(seed).permutation(len(images))[:size]
    return images[np.sort(chosen)]


def check_calibration(images, input_shape):
    """Returns calibration `images` as float32 raw pixels `(N, H, W, C)`.

    Raises:
        ValueError: not numeric images of `input_shape`, none, NaN or values outside
            [0, 255].
    """
    import numpy as np

    array = np.asarray(images)
    expected = f"calibration images must be raw pixels (N, {', '.join(map(str, input_shape))})"
    if array.dtype.kind not in "uif" or array.ndim != 4 or array.shape[1:] != input_shape \
            or not len(array):
        raise ValueError(f"{expected} of 0-255 values; received dtype {array.dtype}, shape "
                         f"{list(array.shape)}.")
    if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 255):
        raise ValueError(f"{expected} of 0-255 values; received NaN, infinite or "
                         "out-of-range values. Pass the images as the model takes them.")
    return array.astype(np.float32)


def full_int8_tflite_bytes(model, calibration):
    """Returns a full-integer LiteRT flatbuffer of `model` calibrated on `calibration`.

    Weights and activations are int8, quantised on the ranges the activations take over
    `calibration` (TensorFlow's post-training integer quantisation, with a
    representative dataset); the `serving_default` signature takes uint8 `images` (raw
    pixels) and returns uint8 `probabilities` (scale 1/256) and int64 `class_ids`. No
    float tensor remains.

    Raises:
        ValueError: as `check_calibration`.
        RuntimeError: the converter did not make the input raw uint8 pixels.
    """
    import tempfile

    import numpy as np
    import tensorflow as tf

    from cnnzoo.export.saved_model import write_archive

    input_shape = tuple(int(d) for d in model.input_shape[1:])
    images = check_calibration(calibration, input_shape).copy()
    # The input's quantisation comes from the range calibration covers; one black and one
    # white pixel pin it to 0-255, so the uint8 input is the raw pixels (scale 1, zero
    # point 0) whatever the sample holds, at a cost of two pixels to every other range.
    images[0].flat[0], images[0].flat[-1] = 0.0, 255.0

    def classify(pixels):
        probabilities = model(pixels, training=False)
        return {"probabilities": probabilities,
                "class_ids": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

    signature = [tf.TensorSpec((None, *input_shape), tf.float32, name="images")]
    with tempfile.TemporaryDirectory() as scratch:
        # A float input, quantised by the converter: a uint8 one would keep a float Cast.
        write_archive(scratch, {"serving_default": (classify, signature)})
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
        flatbuffer = converter.convert()
    scale, zero_point = _input_quantization(flatbuffer)
    if not (np.isclose(scale, 1.0) and zero_point == 0):
        raise RuntimeError(f"the converter quantised the input with scale {scale} and zero "
                           f"point {zero_point}, not as raw pixels (1, 0).")
    return flatbuffer


def _input_quantization(flatbuffer):
    """Returns `(scale, zero_point)` of a LiteRT flatbuffer's first input."""
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tf.lite.Interpreter's LiteRT notice.
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    return interpreter.get_input_details()[0]["quantization"]


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
