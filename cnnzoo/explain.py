"""`cnnzoo explain`: a trained model's top classes for an image, and where it looked.

Grad-CAM (`cnnzoo.viz.grad_cam`) takes gradients through the model's layers, so it
needs the Keras model: a `.keras` file or a training workdir (its best.keras).

A SavedModel's serving graph (images in, probabilities out) has no layer to pick and no
gradient to take. So every export cnnzoo writes carries its Keras model as an asset
(`assets/cnnzoo_model.keras`, named by the card's `keras_model`; TF Serving copies
assets and ignores them), and `explain` uses that with the export's class names. An
export written before carried none: for it, a `.keras` file kept beside it (in the
SavedModel folder, or in the TF Serving base folder above its version folders) is used.
Either is checked against the export's own predictions before use, so a stale or
swapped file is refused rather than explained. This was chosen over a Grad-CAM signature
inside the export because such a signature would fix the layer at export time and put
gradients into what TensorFlow Serving serves; the `.keras` file keeps every layer and
class open and leaves the serving graph as TF Serving expects it.
"""

import json
import pathlib

import numpy as np

from cnnzoo.export.card import CARD_FILENAME, KERAS_ASSET
from cnnzoo.layouts.run_dir import MODEL_FILE

# The largest difference of probabilities tolerated between a Keras file and the export
# it claims to be (float32 graphs of the same weights differ by ~1e-6).
MATCH_TOLERANCE = 1e-3


def _export_class_names(saved_model):
    card = saved_model / "assets" / CARD_FILENAME
    return json.loads(card.read_text(encoding="utf-8")).get("class_names") \
        if card.is_file() else None


def keras_beside_export(saved_model, given):
    """Returns the one `.keras` file in the SavedModel folder or the folder `given`.

    Args:
        saved_model: the SavedModel folder.
        given: the folder the user named: the same, or the TF Serving base above it.

    Raises:
        ValueError: none there (saying why Grad-CAM needs one), or several.
    """
    folders = dict.fromkeys([saved_model, given])
    found = sorted({file for folder in folders for file in folder.glob("*.keras")})
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"{str(given)!r} is an export with several .keras files beside it "
                         f"({', '.join(str(f) for f in found)}); pass the one to explain.")
    raise ValueError(
        f"{str(given)!r} is a SavedModel export without its Keras model (an export made "
        f"before cnnzoo kept one in assets/{KERAS_ASSET}): its serving graph (images to "
        "probabilities) lacks the layers Grad-CAM takes gradients through. Export the "
        "model again, pass the .keras file or the training workdir it was exported from, "
        f"or keep that .keras file beside the export (e.g. {str(given / MODEL_FILE)!r}).")


def check_matches_export(model, predictor, source):
    """Returns `model` if it predicts what the export `predictor` does on probe images.

    Raises:
        ValueError: another input shape, or probabilities further apart than
            `MATCH_TOLERANCE` (`source` is not the model that was exported).
    """
    import keras

    shape = tuple(int(d) for d in model.input_shape[1:])
    if shape != tuple(predictor.input_shape):
        raise ValueError(f"{str(source)!r} takes images of shape {shape}, the export at "
                         f"{str(predictor.path)!r} {tuple(predictor.input_shape)}: it is "
                         "not the model that was exported. Pass the one that was.")
    probes = np.random.default_rng(0).integers(0, 256, (4, *shape), dtype=np.uint8)
    expected = predictor.run(probes)["probabilities"]
    received = keras.ops.convert_to_numpy(model(probes.astype("float32"), training=False))
    difference = float(np.abs(received.astype(np.float32) - expected).max())
    if not difference <= MATCH_TOLERANCE:  # NaN included.
        raise ValueError(f"{str(source)!r} is not the model exported at "
                         f"{str(predictor.path)!r}: their probabilities differ by up to "
                         f"{difference:.3g} on the same images. Pass the .keras file or "
                         "workdir the export was made from, or export the model again.")
    return model


def load_export_model(saved_model, given=None, *, predictor=None):
    """Returns the Keras model of the export at `saved_model`, checked against the export.

    The export's own copy (`assets/cnnzoo_model.keras`, which every export cnnzoo writes
    carries) or, for an export made before, the one `.keras` file beside it
    (`keras_beside_export`). Either must predict what the export does on probe images
    (`check_matches_export`).

    Args:
        saved_model: the SavedModel folder.
        given: the folder the user named (the same, or the TF Serving base above it).
        predictor: the export already loaded (`cnnzoo.export.load_exported`), or None.

    Raises:
        ValueError: no Keras model in or beside the export, several beside it, one Keras
            cannot load, or one that does not match the export.
    """
    from cnnzoo.artifacts import load_export_source
    from cnnzoo.export import load_exported

    saved_model = pathlib.Path(saved_model)
    source = saved_model / "assets" / KERAS_ASSET
    if not source.is_file():
        source = keras_beside_export(saved_model, pathlib.Path(given or saved_model))
    model, _ = load_export_source(source)
    return check_matches_export(model, predictor or load_exported(saved_model), source)


def load_explainable(path):
    """Returns `(model, class_names)` for Grad-CAM from a path.

    Args:
        path: a `.keras` file, a training workdir (class names from its run.json),
            `NAME:TAG` (a registered model with shipped weights), or a SavedModel export
            (its Keras model: see `load_export_model`; class names from its card).

    Returns:
        A `keras.Model` and a list of class names, or None where none are recorded.

    Raises:
        FileNotFoundError: nothing at `path`, or a folder holding no model.
        ValueError: as `load_export_model` for an export, an unknown `NAME:TAG`, or a file
            Keras cannot load.
    """
    from cnnzoo.artifacts import find_artifact, load_export_source, shipped_weights

    if shipped_weights(path) is None:
        path = pathlib.Path(path).expanduser()
        kind, location = find_artifact(path)
        if kind == "saved_model":
            return load_export_model(location, path), _export_class_names(location)
    model, metadata = load_export_source(path)
    return model, metadata.get("class_names")


def decode_image(data, input_shape):
    """Returns encoded image bytes as float32 raw pixels of shape `input_shape`.

    Decoded, converted to gray or RGB and resized exactly as an export's `serving_bytes`
    signature does (`cnnzoo.export.signatures`), so `cnnzoo explain`, the served page and
    `cnnzoo predict` see the same pixels.

    Raises:
        ValueError: bytes that are not a PNG, JPEG, GIF, BMP or WebP image, or an image
            whose header declares more than `cnnzoo.image_header.MAX_IMAGE_PIXELS`.
    """
    import tensorflow as tf

    from cnnzoo.export.signatures import _decode
    from cnnzoo.image_header import check_image_size

    check_image_size(data)  # From the header: a decompression bomb is never decoded.
    try:
        image = _decode(tf.constant(data), tuple(input_shape))
    except tf.errors.InvalidArgumentError:
        raise ValueError("not an image TensorFlow can decode; pass a PNG, JPEG, GIF, BMP "
                         "or WebP file.") from None
    return image.numpy().astype(np.float32)


def read_image(path, input_shape):
    """Returns the image file at `path` as float32 raw pixels (see `decode_image`).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: a file that is not a PNG, JPEG, GIF, BMP or WebP image, or one whose
            header declares more than `cnnzoo.image_header.MAX_IMAGE_PIXELS` (named).
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no image file {str(path)!r}.")
    from cnnzoo.image_header import check_image_size

    data = check_image_size(path.read_bytes(), name=repr(str(path)))
    try:
        return decode_image(data, input_shape)
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is {error}") from None


def _class_index(target, class_names, num_classes):
    """Returns the class index `target` names: an index, its text, or a class name."""
    if target is None or isinstance(target, (int, np.integer)):
        return target
    if class_names and target in class_names:
        return list(class_names).index(target)
    if str(target).isdigit():
        return int(target)
    choices = list(class_names) if class_names else list(range(num_classes))
    raise ValueError(f"unknown class {target!r}; choose one of {choices} (or its index).")


def explain(model, image, *, out=None, target=None, layer=None, top_k=3):
    """Returns the top classes of `image` and its Grad-CAM; writes the figure to `out`.

    Args:
        model: a `keras.Model`, or a path for `load_explainable` (a `.keras` file, a
            training workdir, `NAME:TAG`, or a SavedModel export).
        image: an image file path, or raw pixels `(H, W, C)` the model takes.
        out: where to write the figure (image, heat map, overlay) as PNG; None writes
            nothing.
        target: the class to explain (an index or a class name); None for the predicted
            class.
        layer: the layer, from `cnnzoo.viz.layer_names(model)`; None for the last
            convolutional feature map.
        top_k: how many classes to return.

    Returns:
        A dict: `model` (its name), `top_classes` (a list of `(name, probability)`, best
        first), `class_index` and `class_name` (the class explained), `layer`,
        `heatmap` (float32 in [0, 1], at the layer's resolution) and `out` (the
        `pathlib.Path` written, or None).

    Raises:
        FileNotFoundError: no model or image at a path.
        ValueError: as `load_explainable`, `read_image` and `cnnzoo.viz.grad_cam`, or an
            unknown class.
    """
    from cnnzoo import viz

    class_names = None
    if isinstance(model, (str, pathlib.Path)):
        model, class_names = load_explainable(model)
    if isinstance(image, (str, pathlib.Path)):
        image = read_image(image, model.input_shape[1:])
    class_index = _class_index(target, class_names, model.output_shape[-1])
    result = viz.grad_cam(model, image, class_index=class_index, layer=layer)
    if out is not None:
        figure = viz.plot_grad_cam(model, image, result=result, class_names=class_names)
        out = viz.save_figure(figure, out)
    names = class_names or [str(i) for i in range(len(result.probabilities))]
    return {"model": model.name,
            "top_classes": viz.top_classes(result.probabilities, names, k=top_k),
            "class_index": result.class_index, "class_name": names[result.class_index],
            "layer": result.layer, "heatmap": result.heatmap, "out": out}
