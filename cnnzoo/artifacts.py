"""Any trained artifact by path: a `.keras` file, a training workdir or a SavedModel export.

The one place where a path becomes a model. It sits above `cnnzoo.training` and
`cnnzoo.export` (which work on models), beside the job and the CLI, so that
`cnnzoo.evaluate(path, data)`, `cnnzoo evaluate`, `cnnzoo export` and the job agree on
what a path means. What a workdir and an export hold is named in `cnnzoo.layouts`.
"""

import contextlib
import json
import os
import pathlib
import re
import tempfile
import traceback
import zipfile
import zlib

import numpy as np

from cnnzoo.layouts import run_dir
from cnnzoo.layouts.serving import find_saved_model
from cnnzoo.training.evaluate import check_tta
from cnnzoo.training.evaluate import evaluate as evaluate_model
from cnnzoo.training.workdir import read_json


class ExportedClassifier:
    """An exported SavedModel seen as `evaluate` sees a Keras model (uint8 signature)."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.name = predictor.card.get("model") or predictor.path.name
        self.input_shape = (None,) + tuple(predictor.input_shape)
        num_classes = (len(predictor.class_names) if predictor.class_names else
                       predictor.predict(np.zeros((1,) + self.input_shape[1:], "uint8")).shape[-1])
        self.output_shape = (None, num_classes)

    def predict_on_batch(self, images):
        # `run`, not `predict`: `evaluate` has already looked at the pixel range.
        return self.predictor.run(images)["probabilities"]


# `NAME:TAG`: a registered model with its shipped weights, e.g. "mnist_cnn:fashion_mnist".
_SHIPPED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<tag>[A-Za-z0-9_.-]+)$")
# Manifest fields about the file rather than the model; left out of an export's card.
_FILE_FIELDS = ("file", "sha256", "bytes", "url")


def shipped_weights(source):
    """Returns `(name, tag)` when `source` is `NAME:TAG` and no file or folder has that name.

    Returns None for anything else (a path, or text without one colon).

    Raises:
        ValueError: `NAME` is not a registered model, or `TAG` is not one of its shipped
            weights (each naming what exists).

    Example:
        >>> shipped_weights("mnist_cnn:fashion_mnist"), shipped_weights("runs/mnist_cnn")
        (('mnist_cnn', 'fashion_mnist'), None)
    """
    from cnnzoo.pretrained import _find_entry
    from cnnzoo.registry import model_card

    match = _SHIPPED.match(str(source))
    if match is None or pathlib.Path(source).expanduser().exists():
        return None
    try:
        model_card(match["name"])
    except ValueError as error:
        raise ValueError(f"no file or folder {str(source)!r}, and it is not NAME:TAG of a "
                         f"registered model: {error}") from None
    _find_entry(match["name"], match["tag"])
    return match["name"], match["tag"]


def load_shipped(name, tag):
    """Returns `(model, metadata)`: the registered model `name` with its weights `tag`.

    `metadata` holds the manifest's facts about the weights (dataset, class names,
    accuracy, the command that trained them...) for an export's model card, and `source`
    ("NAME:TAG").

    Raises:
        ValueError: an unknown model or tag, or (`WeightsIntegrityError`) a weights file
            that fails its SHA-256 check.
    """
    from cnnzoo.pretrained import _find_entry
    from cnnzoo.registry import build

    entry = _find_entry(name, tag)
    model = build(name, weights=tag, compile=False)
    metadata = {key: value for key, value in entry.to_json().items()
                if key not in _FILE_FIELDS}
    metadata["source"] = f"{name}:{tag}"
    return model, metadata


@contextlib.contextmanager
def saved_model_of(source):
    """Yields the SavedModel to load for `source`, for `cnnzoo predict` and `serve`.

    A path is yielded as it is. `NAME:TAG` is exported (`cnnzoo.export_saved_model`, with
    the weights' facts in its card) into a temporary TF Serving base, yielded as
    `BASE/NAME-TAG` and removed when the block ends.

    Raises:
        As `shipped_weights` and `load_shipped`.
    """
    shipped = shipped_weights(source)
    if shipped is None:
        yield source
        return
    from cnnzoo.export import export_saved_model

    model, metadata = load_shipped(*shipped)
    with tempfile.TemporaryDirectory(prefix="cnnzoo-export-") as folder:
        base = pathlib.Path(folder) / "-".join(shipped)
        export_saved_model(model, base, metadata=metadata, version=1)
        yield base


def find_artifact(path, *, exports=True):
    """Returns `(kind, location)` of the model at `path`, without loading it.

    `kind` is "saved_model" (`location` is the SavedModel folder: `path` itself, or the
    highest version of a TF Serving model base, as `cnnzoo.export.find_saved_model` finds
    it) or "keras" (`location` is the model file: `path`, or a folder's best.keras, else
    last.keras, else model.keras; see `cnnzoo.layouts.run_dir`).

    Args:
        path: a model file, a training workdir, a folder holding model.keras or, with
            `exports`, a SavedModel export.
        exports: whether a SavedModel export is taken.

    Raises:
        FileNotFoundError: nothing at `path`, or a folder holding no model.
    """
    path = pathlib.Path(path).expanduser()
    accepted = "a .keras file, a training workdir" + (" or an export" if exports else "")
    if path.is_dir():
        saved_model = find_saved_model(path) if exports else None
        if saved_model is not None:
            return "saved_model", saved_model
        model_file = run_dir.find_model_file(path)
        if model_file is None:
            raise FileNotFoundError(
                f"{str(path)!r} is a folder without {', '.join(run_dir.MODEL_FILES)}"
                f"{' or a SavedModel' if exports else ''}; pass {accepted}.")
        return "keras", model_file
    if not path.is_file():
        raise FileNotFoundError(f"no model file or workdir at {str(path)!r}; pass {accepted}, "
                                "such as runs/mnist_cnn-fashion_mnist, or NAME:TAG for a "
                                "registered model's shipped weights (mnist_cnn:fashion_mnist).")
    return "keras", path


# What a `.keras` file (a zip archive) holds for Keras to rebuild the model.
KERAS_CONFIG = "config.json"


def check_keras_file(path):
    """Returns the model config in the `.keras` file at `path`, read without Keras.

    Keras says "File not found" of a `.keras` file that is not a complete zip archive (a
    download or copy cut short), and fails deep inside of a config that is not JSON.

    Raises:
        ValueError: not a zip archive, no `config.json`, or a config that is not a JSON
            object naming a class; the message names the file.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read(KERAS_CONFIG))
    except (zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{str(path)!r} is not a complete .keras file ({error}): it was "
                         "cut short or is corrupt. Copy or save it again.") from None
    except KeyError:
        raise ValueError(f"{str(path)!r} is a zip archive without {KERAS_CONFIG}, so not a "
                         "Keras model; save one with model.save('model.keras').") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(path)!r} holds a {KERAS_CONFIG} that is not JSON ({error}); "
                         "the file is corrupt. Save the model again.") from None
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"{str(path)!r} holds a {KERAS_CONFIG} that is not a Keras model "
                         f"config (a JSON object with a class_name); received a "
                         f"{type(config).__name__}. Save the model again.")
    return config


def _raised_by_keras(error):
    """Whether `error` was raised in Keras's code rather than cnnzoo's (or Python's)."""
    import keras

    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(os.path.dirname(keras.__file__))


def _load_keras(path, *, compile):
    import keras

    import cnnzoo.models  # noqa: F401  Registers cnnzoo's layers and losses for Keras.

    if str(path).endswith(".keras"):
        check_keras_file(path)
    try:
        return keras.saving.load_model(path, compile=compile)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        reason = str(error)
    except KeyError as error:
        reason = f"its config lacks the entry {error}"
    except TypeError as error:
        # Keras's deserializer raises TypeError for a config naming a class it will not
        # load (unknown, or from a module outside Keras) or holding malformed entries: the
        # file's fault. A TypeError raised in cnnzoo's own code is a bug: it propagates.
        if not _raised_by_keras(error):
            raise
        reason = re.split(r"\s*Full (?:object )?config:", str(error))[0]
    raise ValueError(f"{str(path)!r} could not be loaded as a Keras model: {reason}") \
        from None


def load_model(path, *, compile=True):
    """Returns the model at `path`, ready for `cnnzoo.training.evaluate`.

    Args:
        path: a `.keras` file, a training workdir (its best.keras, else last.keras), a
            folder holding model.keras, or an export from `cnnzoo.export` (a SavedModel
            folder, or a TF Serving model base whose highest version is used), read
            through its uint8 `serving_default` signature as an `ExportedClassifier`.
        compile: compile a Keras model as it was saved (Keras's own default).

    Returns:
        A `keras.Model`, or an `ExportedClassifier` for an export.

    Raises:
        FileNotFoundError: nothing loadable at `path`.
        ValueError: a file Keras cannot load.
    """
    shipped = shipped_weights(path)
    if shipped is not None:
        return load_shipped(*shipped)[0]
    kind, location = find_artifact(path)
    if kind == "saved_model":
        from cnnzoo.export import load_exported

        return ExportedClassifier(load_exported(location))
    return _load_keras(location, compile=compile)


def _workdir_metadata(workdir):
    """Returns the model card facts a workdir's run.json and evaluation.json record."""
    run = read_json(workdir / run_dir.RUN_FILE) or {}
    evaluation = read_json(workdir / run_dir.EVALUATION_FILE) or {}
    metadata = {"model": run.get("model"), "dataset": run.get("dataset"),
                "class_names": run.get("class_names"), "epochs": run.get("epochs")}
    test_metrics = run.get("test_metrics") or {}
    accuracy = evaluation.get("accuracy", test_metrics.get("accuracy"))
    if accuracy is not None:
        metadata["test_accuracy"] = float(accuracy)
        metadata["test_split"] = evaluation.get("split", "test")
    return {k: v for k, v in metadata.items() if v is not None}


def load_export_source(path):
    """Returns `(model, metadata)` from a `.keras` file, a training workdir or `NAME:TAG`.

    A workdir gives its `best.keras` (else `last.keras`, `model.keras`) and, for the
    model card, the model name, dataset and class names in its `run.json` and the test
    accuracy in its `evaluation.json` (or `run.json`'s `test_metrics`). `NAME:TAG` gives
    the registered model with its shipped weights and their manifest facts
    (`load_shipped`).

    Raises:
        FileNotFoundError: nothing at `path`, or a folder without a `.keras` model.
        ValueError: a file Keras cannot load, a `run.json` that is not JSON, or an
            unknown `NAME:TAG`.
    """
    shipped = shipped_weights(path)
    if shipped is not None:
        return load_shipped(*shipped)
    path = pathlib.Path(path).expanduser()
    _, model_file = find_artifact(path, exports=False)
    metadata = _workdir_metadata(path) if path.is_dir() else {}
    model = _load_keras(model_file, compile=False)
    metadata.setdefault("model", model.name)
    metadata["source"] = model_file.name
    return model, metadata


def evaluate(model, data, **kwargs):
    """Evaluates a model, or the model at a path, on `data`; returns a dict of results.

    `cnnzoo.evaluate`: `cnnzoo.training.evaluate` after `load_model` for a path.

    Args:
        model: a `keras.Model` taking raw pixels, or a path (see `load_model`: a `.keras`
            file, a workdir or a SavedModel export).
        data: see `cnnzoo.training.evaluate`.
        **kwargs: `class_names`, `batch_size`, `tta` (see `cnnzoo.training.evaluate`).

    Returns:
        The dict `cnnzoo.training.evaluate` returns.

    Raises:
        FileNotFoundError: a path with no model.
        ValueError: as `cnnzoo.training.evaluate`, or a file Keras cannot load.

    Example:
        >>> import tempfile, numpy as np, cnnzoo
        >>> path = tempfile.mkdtemp() + "/model.keras"
        >>> cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3,
        ...              compile=False).save(path)
        >>> x, y = np.zeros((6, 8, 8, 1), "float32"), np.array([0, 1, 2, 0, 1, 2])
        >>> evaluate(path, (x, y))["num_examples"]
        6
    """
    if not hasattr(model, "predict_on_batch"):
        check_tta(kwargs.get("tta"))  # Refused before the model is loaded.
        model = load_model(model)
    return evaluate_model(model, data, **kwargs)
