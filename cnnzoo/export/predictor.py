"""`load_exported`: a predictor over an exported SavedModel's signatures.

It needs TensorFlow only (no Keras model code): what it runs is the serving graph that
TensorFlow Serving would run.
"""

import json

import numpy as np
import tensorflow as tf

from cnnzoo.export import signatures as sigs
from cnnzoo.export.card import CARD_FILENAME
from cnnzoo.layouts.serving import find_saved_model, resolve_saved_model  # noqa: F401
from cnnzoo.pixels import warn_if_scaled


class ImageInputError(tf.errors.InvalidArgumentError, ValueError):
    """Images the export cannot take: wrong shape, dtype or values, or undecodable bytes.

    An `InvalidArgumentError` like the signature's own, and a `ValueError` for callers
    that treat it as bad user input.
    """

    def __init__(self, message):
        super().__init__(None, None, message)


def concise_error(error):
    """Returns the message of a TensorFlow `OpError` without node names and stack notes.

    Example:
        >>> concise_error(tf.errors.InvalidArgumentError(None, None,
        ...     "Graph execution error:\\n\\nDetected at node x\\nbad image\\n\\t [[{{node x}}]]"))
        'bad image'
    """
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[", "[Op:")
    lines = [line.strip() for line in str(getattr(error, "message", error)).splitlines()]
    kept = [line for line in lines if line and not line.startswith(noise)]
    text = " ".join(kept) or str(error)
    # TF prefixes Assert messages and brackets each printed value.
    return text.replace("assertion failed: ", "").replace("] [", " ").strip("[]")


class ExportedPredictor:
    """Predictions from an exported SavedModel; made by `load_exported`.

    Attributes:
        path: the SavedModel folder.
        input_shape: `(H, W, C)` the `serving_default` signature takes.
        card: the model card dict (`{}` for an export without one).
        class_names: the class names, or None when the export has none.
        signature_names: the signatures in the SavedModel.
    """

    def __init__(self, path, loaded):
        self.path = path
        self._loaded = loaded  # Keeps the functions' variables alive.
        self._signatures = dict(loaded.signatures)
        self.signature_names = sorted(self._signatures)
        default = self._signatures.get(sigs.DEFAULT_SIGNATURE)
        spec = None if default is None else \
            default.structured_input_signature[1].get(sigs.IMAGES_INPUT)
        if spec is None or spec.dtype != tf.uint8 or spec.shape.rank != 4:
            raise ValueError(
                f"{str(path)!r} lacks the {sigs.DEFAULT_SIGNATURE!r} signature taking "
                f"uint8 {sigs.IMAGES_INPUT!r} [batch, H, W, C] that cnnzoo exports have; "
                f"its signatures are {self.signature_names}. Re-export the model with "
                "cnnzoo.export_saved_model.")
        self.input_shape = tuple(int(d) for d in spec.shape[1:])
        card_file = path / "assets" / CARD_FILENAME
        self.card = json.loads(card_file.read_text()) if card_file.is_file() else {}
        self.class_names = self.card.get("class_names")

    def __repr__(self):
        return (f"ExportedPredictor({str(self.path)!r}, input_shape={self.input_shape}, "
                f"signatures={self.signature_names})")

    def check_images(self, images):
        """Returns `images` as a uint8 array `(N, H, W, C)`.

        Floats are taken as raw pixel values and rounded to the nearest integer.

        Raises:
            ImageInputError: another rank or size, non-numeric or boolean values, NaN or
                infinite values, or values outside [0, 255].
        """
        expected = sigs.expected_images_message(self.input_shape)
        try:
            array = np.asarray(images)
        except ValueError as error:  # Ragged nested lists.
            raise ImageInputError(f"{expected}; received ragged values ({error}).") from None
        if array.dtype == np.uint8:
            pass
        elif array.dtype == bool:  # A mask passed as an image would be all but black.
            raise ImageInputError(f"{expected}; received dtype bool. Pass pixel values, "
                                  f"e.g. mask.astype('uint8') * 255.")
        elif array.dtype.kind in "iuf":
            finite = np.isfinite(array)
            if not finite.all():
                raise ImageInputError(
                    f"{expected}; received {int(array.size - finite.sum())} NaN or infinite "
                    f"values (dtype {array.dtype}). Replace them, e.g. "
                    f"np.nan_to_num(images, nan=0.0, posinf=255.0, neginf=0.0), or drop "
                    f"those images.")
            if array.size and not (array.min() >= 0 and array.max() <= 255):
                raise ImageInputError(f"{expected}; received values outside [0, 255] "
                                      f"(dtype {array.dtype}). Pass raw pixel values.")
            array = np.round(array).astype(np.uint8)
        else:
            raise ImageInputError(f"{expected}; received dtype {array.dtype} with shape "
                                  f"{list(array.shape)}.")
        if array.ndim != 4 or tuple(array.shape[1:]) != self.input_shape:
            raise ImageInputError(f"{expected}; received shape {list(array.shape)}.")
        return array

    def run(self, images, *, batch_size=256):
        """Returns the signature's outputs as NumPy arrays, by output name.

        Args:
            images: uint8 or float pixel values `(N, H, W, C)` in [0, 255], run through
                `serving_default`; or a list of encoded images (bytes: PNG, JPEG, GIF,
                BMP, WebP, any size), run through `serving_bytes`.
            batch_size: the largest batch sent to the graph at once.

        Returns:
            `{"probabilities": float32 (N, K), "class_ids": int64 (N,)}`, plus
            `"class_names"` (an array of str) when the export has class names.

        Raises:
            ValueError: `batch_size` is not a positive integer.
            ImageInputError: bad shape, dtype or values, or bytes that are no image.
        """
        _check_batch_size(batch_size)
        if isinstance(images, (bytes, bytearray)):
            images = [images]
        if isinstance(images, (list, tuple)) and images and all(
                isinstance(i, (bytes, bytearray)) for i in images):
            values, name, key = [bytes(i) for i in images], sigs.BYTES_SIGNATURE, \
                sigs.BYTES_INPUT
        else:
            values, name, key = self.check_images(images), sigs.DEFAULT_SIGNATURE, \
                sigs.IMAGES_INPUT
        return self.run_signature(name, {key: values}, batch_size=batch_size)

    def run_signature(self, name, inputs, *, batch_size=256):
        """Returns the outputs of signature `name` on `inputs` (`{input name: values}`).

        Values are sent in batches of `batch_size`; string outputs come back as str.

        Raises:
            ValueError: an unknown signature or input name, inputs that are not a dict,
                or a `batch_size` that is not a positive integer.
            ImageInputError: the graph refused the values (the message without TF noise).
        """
        _check_batch_size(batch_size)
        function = self._signatures.get(name)
        if function is None:
            raise ValueError(f"unknown signature {name!r}; this export has "
                             f"{self.signature_names}.")
        specs = function.structured_input_signature[1]
        if not isinstance(inputs, dict):
            raise ValueError(f"inputs must be a dict {{input name: values}} with the names "
                             f"{sorted(specs)}; received {type(inputs).__name__}.")
        if set(inputs) != set(specs):
            raise ValueError(f"signature {name!r} takes inputs {sorted(specs)}; received "
                             f"{sorted(inputs)}.")
        size = len(next(iter(inputs.values())))
        if size == 0:
            return {key: _to_numpy(tf.zeros([0, *spec.shape[1:]], spec.dtype))
                    for key, spec in function.structured_outputs.items()}
        chunks = []
        for start in range(0, size, batch_size):
            feed = {key: tf.constant(value[start:start + batch_size], dtype=specs[key].dtype)
                    for key, value in inputs.items()}
            try:
                chunks.append(function(**feed))
            except tf.errors.InvalidArgumentError as error:
                raise ImageInputError(self._explain(name, inputs, error)) from None
        if len(chunks) == 1:
            return {key: _to_numpy(value) for key, value in chunks[0].items()}
        return {key: _to_numpy(tf.concat([chunk[key] for chunk in chunks], axis=0))
                for key in chunks[0]}

    def _explain(self, name, inputs, error):
        if name == sigs.DEFAULT_SIGNATURE:
            return concise_error(error)
        for index, encoded in enumerate(next(iter(inputs.values()))):
            try:
                tf.io.decode_image(encoded, expand_animations=False)
            except (tf.errors.InvalidArgumentError, ValueError):
                return (f"image {index} ({len(encoded)} bytes) is not a PNG, JPEG, GIF, "
                        f"BMP or WebP image: {concise_error(error)}")
        return concise_error(error)

    def predict(self, images, *, batch_size=256):
        """Returns class probabilities, float32 `(N, K)`; `images` as in `run`.

        Raises:
            ValueError: `batch_size` is not a positive integer.
            ImageInputError: as `run`.

        Warns:
            PixelRangeWarning: every pixel of the first images lies in [0, 1].
        """
        warn_if_scaled(images, where="predict")
        return self.run(images, batch_size=batch_size)["probabilities"]

    def top_k(self, images, k=5, *, batch_size=256):
        """Returns `(class_ids, class_names, probabilities)` of the `k` likeliest classes.

        Each is `(N, k)`, most likely first; `class_names` is None when the export has no
        class names. `images` as in `run`.

        Raises:
            ValueError: `k` is not between 1 and the number of classes, or `batch_size` is
                not a positive integer.
            ImageInputError: as `run`.
        """
        # Checked before predicting: a bad k should not cost a pass over the images.
        num_classes = self._signatures[sigs.DEFAULT_SIGNATURE].structured_outputs[
            "probabilities"].shape[-1]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or \
                not 1 <= k <= num_classes:
            raise ValueError(f"k must be an integer from 1 to {num_classes}; received "
                             f"k={k!r}.")
        probabilities = self.predict(images, batch_size=batch_size)
        ids = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
        names = None if self.class_names is None else \
            [[self.class_names[i] for i in row] for row in ids]
        return ids.astype(np.int64), names, np.take_along_axis(probabilities, ids, axis=-1)


def _check_batch_size(batch_size):
    """Raises ValueError unless `batch_size` is an integer >= 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1 (the most images sent to the "
                         f"graph at once); received batch_size={batch_size!r}.")


def _to_numpy(tensor):
    array = tensor.numpy()
    if array.dtype == object:
        return np.array([v.decode("utf-8", "replace") for v in array.ravel()],
                        dtype=object).reshape(array.shape)
    return array


def load_exported(path):
    """Returns an `ExportedPredictor` over the SavedModel at `path`.

    `path` is a SavedModel folder, or a TF Serving model base whose highest numbered
    version folder is taken.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: not a SavedModel, or one without cnnzoo's `serving_default` signature.

    Example:
        >>> import tempfile, numpy as np, cnnzoo
        >>> path = cnnzoo.export_saved_model(cnnzoo.build_mnist_cnn(),
        ...                                  tempfile.mkdtemp() + "/mnist_cnn")
        >>> predictor = load_exported(path)
        >>> predictor.input_shape, predictor.signature_names
        ((28, 28, 1), ['serving_bytes', 'serving_default', 'serving_tf_example'])
        >>> predictor.predict(np.zeros((2, 28, 28, 1), np.uint8)).shape
        (2, 10)
    """
    folder = resolve_saved_model(path)
    try:
        loaded = tf.saved_model.load(str(folder))
    # TensorFlow's checkpoint reader raises IndexError ("Read less bytes than requested")
    # for a variables file cut short.
    except (OSError, IndexError, tf.errors.OpError) as error:
        raise ValueError(f"{str(folder)!r} could not be loaded as a SavedModel: "
                         f"{concise_error(error)}") from None
    return ExportedPredictor(folder.absolute(), loaded)
