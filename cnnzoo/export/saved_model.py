"""`export_saved_model`: a SavedModel that TensorFlow Serving takes as it is."""

import contextlib
import json
import logging

import keras
import tensorflow as tf

from cnnzoo.atomic import atomic_directory
from cnnzoo.export import check_export_backend
from cnnzoo.export import signatures as sigs
from cnnzoo.export.card import (CARD_FILENAME, KERAS_ASSET, check_class_names, make_card,
                                save_keras_asset)
from cnnzoo.layouts.serving import check_replaceable_export, export_path, version_folder


def check_classifier(model):
    """Returns `(input_shape, num_classes)` of a cnnzoo-style Keras classifier.

    Raises:
        ValueError: not a built Keras model with one `(H, W, C)` image input (C = 1 or 3)
            and one `(K,)` output, or a Keras backend other than TensorFlow.
    """
    check_export_backend()
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model; received {type(model).__name__}. Build "
                         "one with cnnzoo.build(name) or load a .keras file first.")
    try:
        input_shape, output_shape = model.input_shape, model.output_shape
    except (AttributeError, ValueError):
        raise ValueError(f"model {model.name!r} is not built; call it on a batch or "
                         "build it with cnnzoo.build(name) first.") from None
    if (not isinstance(input_shape, tuple) or len(input_shape) != 4
            or input_shape[-1] not in (1, 3) or None in input_shape[1:]):
        raise ValueError(f"export takes models with one image input (batch, H, W, C) with "
                         f"C in (1, 3) and fixed H, W; model {model.name!r} has input "
                         f"shape {input_shape}.")
    if not isinstance(output_shape, tuple) or len(output_shape) != 2:
        raise ValueError(f"export takes classifiers with one (batch, classes) output; "
                         f"model {model.name!r} has output shape {output_shape}. "
                         "Rebuild it with include_top=True.")
    return tuple(int(d) for d in input_shape[1:]), int(output_shape[-1])


@contextlib.contextmanager
def quiet_saved_model_logs():
    """Raises TensorFlow's Python logger to WARNING while a SavedModel is written.

    `tf.saved_model.save` logs "Assets written to: <folder>" at INFO whatever `verbose`
    says, and the folder is our temporary one; the level is restored afterwards.
    """
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def write_archive(folder, endpoints):
    """Writes a SavedModel of `endpoints` (`{name: (function, input signature)}`) to `folder`.

    The model is deliberately not `track()`ed: `add_endpoint` already tracks every
    variable the functions use, and tracking the model as well stores each weight twice,
    once as its `keras.Variable` and once as the `tf.Variable` inside it
    (keras-team/keras#23553: twice the size on disk and in TF Serving's memory).
    """
    archive = keras.export.ExportArchive()
    for name, (function, input_signature) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    with quiet_saved_model_logs():
        archive.write_out(str(folder), verbose=False)


def _describe_signatures(input_shape, num_classes, with_names):
    outputs = {"probabilities": f"float32 [None, {num_classes}]", "class_ids": "int64 [None]"}
    if with_names:
        outputs["class_names"] = "string [None]"
    image = f"uint8 [None, {', '.join(str(d) for d in input_shape)}]"
    return {
        sigs.DEFAULT_SIGNATURE: {"inputs": {sigs.IMAGES_INPUT: image}, "outputs": outputs},
        sigs.BYTES_SIGNATURE: {"inputs": {sigs.BYTES_INPUT: "string [None] (PNG/JPEG/GIF/BMP/"
                                                             "WebP, any size)"},
                               "outputs": outputs},
        sigs.EXAMPLE_SIGNATURE: {"inputs": {sigs.EXAMPLE_INPUT: "string [None] (serialized "
                                            f"tf.Example, '{sigs.EXAMPLE_IMAGE_FEATURE}')"},
                                 "outputs": outputs},
    }


def export_saved_model(model, path, *, class_names=None, overwrite=False, metadata=None,
                       version=None):
    """Writes `model` as a SavedModel with serving signatures; returns its folder.

    Signatures (see `cnnzoo.export.signatures`):

    - `serving_default`: `images` uint8 `[None, H, W, C]` → `probabilities` float32
      `[None, K]`, `class_ids` int64 `[None]` and, with class names, `class_names` string
      `[None]`; a wrong shape raises `InvalidArgumentError` naming the expected one;
    - `serving_bytes`: `image_bytes` string `[None]` (encoded PNG/JPEG/GIF/BMP/WebP of
      any size, decoded and resized in the graph) → the same outputs;
    - `serving_tf_example`: `examples` string `[None]` (serialized `tf.Example`s with the
      image in `image/encoded`) → the same outputs.

    The model card (`assets/cnnzoo_card.json`: name, input shape, class names,
    signatures and `metadata` such as `dataset` and `test_accuracy`) is saved as an asset.
    The export is written to a temporary folder beside the target and renamed into place.

    Args:
        model: a cnnzoo classifier (raw [0, 255] pixels in, softmax probabilities out).
        path: the SavedModel folder, or with `version` the model's base folder.
        class_names: one name per class, or None; taken from `metadata["class_names"]`
            when None.
        overwrite: replace an existing export at the target: only a SavedModel folder
            cnnzoo exported (holding its model card and nothing else) or an empty folder;
            anything else there is refused, never deleted.
        metadata: JSON-serialisable facts for the model card.
        version: None, or a positive integer: write to `path/<version>`, the layout
            TensorFlow Serving loads (`--model_base_path=path`).

    Returns:
        The `pathlib.Path` of the SavedModel folder.

    Raises:
        FileExistsError: the target exists and `overwrite` is False, or it is not a
            cnnzoo export (nothing is written or deleted).
        NotADirectoryError: the target lies inside a file (nothing is written).
        ValueError: an empty path, not a classifier, bad class names, metadata or
            version.

    Example:
        >>> import tempfile, cnnzoo
        >>> folder = tempfile.mkdtemp()
        >>> path = export_saved_model(cnnzoo.build_mnist_cnn(), f"{folder}/mnist_cnn",
        ...                           class_names=list("0123456789"), version=1)
        >>> path.relative_to(folder).as_posix(), sorted(p.name for p in path.iterdir())
        ('mnist_cnn/1', ['assets', 'fingerprint.pb', 'saved_model.pb', 'variables'])
    """
    input_shape, num_classes = check_classifier(model)
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict; received {type(metadata).__name__}.")
    if class_names is None and metadata:
        class_names = metadata.get("class_names")
    class_names = check_class_names(class_names, num_classes)
    path = export_path(path)
    if version is not None:
        path = version_folder(path, version)
    if overwrite:
        check_replaceable_export(path)
    card = make_card(model, class_names=class_names, metadata=metadata,
                     signatures=_describe_signatures(input_shape, num_classes,
                                                     class_names is not None))
    with atomic_directory(path, overwrite=overwrite) as staging:
        write_archive(staging, sigs.serving_functions(model, class_names=class_names))
        # Written into `assets/` after saving (ExportArchive keeps no plain files): TF
        # Serving copies it with the version folder and any reader finds it by name.
        (staging / "assets").mkdir(exist_ok=True)
        (staging / "assets" / CARD_FILENAME).write_text(json.dumps(card, indent=2) + "\n")
        save_keras_asset(model, staging / "assets" / KERAS_ASSET)  # For Grad-CAM.
    return path.expanduser().absolute()
