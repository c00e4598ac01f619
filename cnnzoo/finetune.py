"""`fine_tune`: a trained model onto new classes, head first, then the top of the backbone.

The two phases of the Keras transfer-learning guide (keras.io/guides/transfer_learning),
each a `cnnzoo.fit` run in its own sub-workdir, so a rerun resumes or skips it:

1. `head/`: the classifier `predictions` is replaced by a fresh one for the new classes
   (after a fresh dropout of the old rate, where the old head had one) and trained with
   every other layer frozen.
2. `tune/`: the top of the backbone is unfrozen too and trained at a lower learning rate.

Batch-norm layers stay frozen in both phases. In Keras 3 a frozen `BatchNormalization`
runs in inference mode (its moving statistics, not the batch's, and no update to them),
so the small new dataset never overwrites the statistics learnt on the large one.

It sits above `cnnzoo.training`, beside the job: it resolves paths and shipped weights.
"""

import difflib
import pathlib

import keras
import numpy as np

from cnnzoo.artifacts import load_model
from cnnzoo.layouts import run_dir
from cnnzoo.training import inputs
from cnnzoo.training import workdir as run_files
from cnnzoo.training.determinism import make_deterministic
from cnnzoo.training.fit import fit

PHASES = ("head", "tune")
TUNE_LEARNING_RATE_FACTOR = 0.1


def fine_tune(base, train, validation=None, *, workdir, weights="fashion_mnist",
              num_classes=None, head_epochs=2, epochs=2, unfreeze=2, learning_rate=1e-3,
              tune_learning_rate=None, resize=False, batch_size=128, steps_per_epoch=None,
              seed=None, callbacks=(), verbose="auto"):
    """Fine-tunes a trained model onto the classes of `train`; returns it and the histories.

    Phase 1 trains a new head (`predictions`, for the new number of classes) with the
    backbone frozen, in `workdir/head`; phase 2 also trains the top of the backbone, at
    `tune_learning_rate`, in `workdir/tune`. Batch-norm layers stay frozen in both
    phases, as the Keras transfer-learning guide advises, so they run in inference mode:
    they normalise with their moving statistics and never update them. Rerunning the same call
    skips a finished phase (loading its `last.keras`) and resumes an interrupted one.

    Args:
        base: a registered model name (built with `weights`), a `.keras` file, a training
            workdir (its best.keras), or a `keras.Model` (copied; the original is left
            untouched).
        train: the new data: a `tf.data.Dataset`, the `(dataset, info)` pair from
            `cnnzoo.load_dataset`, or arrays `(images, labels)` of raw 0-255 pixels.
        validation: the same forms, or None. It picks each phase's `best.keras`.
        workdir: the run directory; the phases train in its `head` and `tune` folders.
        weights: the shipped weights tag for a model name (see `cnnzoo.pretrained`).
        num_classes: the new number of classes (default: from the data's info or labels).
        head_epochs: the epochs of phase 1, >= 1.
        epochs: the epochs of phase 2; 0 stops after phase 1.
        unfreeze: what phase 2 trains besides the head: an integer k, the top k layers
            with weights (batch norm not counted) and everything above them, or a layer
            name, every layer after it.
        learning_rate: phase 1's learning rate (Adam).
        tune_learning_rate: phase 2's (default: `learning_rate` / 10).
        resize: resize images of another height and width to the base's input size
            (bilinear); without it such data is refused. Channels must always match.
        batch_size: the batch size for array data.
        steps_per_epoch: cap the steps of each epoch (quick runs).
        seed: an integer for a reproducible run, or None.
        callbacks: more Keras callbacks, for both phases.
        verbose: as `cnnzoo.fit`.

    Returns:
        `(model, histories)`: the fine-tuned `keras.Model` (compiled; the state after the
        last epoch) and a dict from phase ("head", "tune") to the Keras `History` of the
        epochs trained in this call, or None for a phase skipped as finished or not run.

    Raises:
        ValueError: an unknown name, a base without a Dense `predictions` head, data whose
            channels (or, without `resize`, size) differ from the base's input, a bad
            `unfreeze` (count out of range, unknown layer name), or bad epochs; as
            `cnnzoo.fit` for the rest.
        FileNotFoundError: a path with no model.

    Example:
        >>> import tempfile, numpy as np
        >>> x = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1)).astype("uint8")
        >>> y = np.arange(16) % 3
        >>> model, histories = fine_tune("mnist_cnn", (x, y), workdir=tempfile.mkdtemp(),
        ...                              head_epochs=1, epochs=1, verbose=0)
        >>> model.output_shape, sorted(histories)
        ((None, 3), ['head', 'tune'])
    """
    _check_epochs(head_epochs, "head_epochs", minimum=1)
    _check_epochs(epochs, "epochs", minimum=0)
    if seed is not None:
        make_deterministic(seed)  # before the new head's weights are drawn
    model = _load_base(base, weights)
    train = _fit_to_input(train, model, resize=resize, argument="train")
    if validation is not None:
        validation = _fit_to_input(validation, model, resize=resize, argument="validation")
    num_classes = num_classes or _count_classes(inputs.as_data(train))
    model = with_new_head(model, num_classes)
    head_layers = _head_layer_names(model)
    start = _unfreeze_start(model, unfreeze, len(head_layers))  # refused before training

    workdir = pathlib.Path(workdir)
    run_info = {"fine_tune": {"base": str(base) if isinstance(base, (str, pathlib.Path))
                              else base.name, "weights": weights, "unfreeze": unfreeze}}
    common = {"batch_size": batch_size, "steps_per_epoch": steps_per_epoch, "seed": seed,
              "verbose": verbose, "num_classes": num_classes, "callbacks": list(callbacks)}
    histories = dict.fromkeys(PHASES)
    set_trainable(model, lambda index, layer: layer.name in head_layers)
    model, histories["head"] = _phase(
        model, train, validation, workdir / "head", epochs=head_epochs,
        learning_rate=learning_rate, run_info={**run_info, "phase": "head"}, **common)
    if epochs:
        set_trainable(model, lambda index, layer: index >= start)
        model, histories["tune"] = _phase(
            model, train, validation, workdir / "tune", epochs=epochs,
            learning_rate=tune_learning_rate or learning_rate * TUNE_LEARNING_RATE_FACTOR,
            run_info={**run_info, "phase": "tune"}, **common)
    return model, histories


def finetune_job(base, dataset, *, workdir, data_dir=None, limit=None, batch_size=128,
                 seed=None, say=print, **fine_tune_kwargs):
    """Fine-tunes `base` on a named dataset, evaluates it on the test split; returns results.

    The job behind `cnnzoo finetune`: images of another size are resized to the base's
    input (`resize=True`), and the test accuracy is said and written to the workdir's
    `evaluation.json`.

    Args:
        base: as `fine_tune`.
        dataset: a dataset name or path (see `cnnzoo.load_dataset`).
        workdir: as `fine_tune`.
        data_dir, limit: as `cnnzoo.load_dataset`.
        batch_size: the training batch size.
        seed: as `fine_tune`; also seeds the shuffling.
        say: where progress lines go.
        **fine_tune_kwargs: the rest of `fine_tune`'s settings.

    Returns:
        The dict `cnnzoo.evaluate` returns for the test split.

    Raises:
        ValueError, FileNotFoundError, DatasetNotFoundError: as `fine_tune` and
            `cnnzoo.load_dataset`.
    """
    from cnnzoo.job import load_split
    from cnnzoo.training.evaluate import evaluate
    from cnnzoo.training.workdir import write_json

    train = load_split(dataset, "train", say=say, data_dir=data_dir, batch_size=batch_size,
                       seed=seed or 0, limit=limit)
    test = load_split(dataset, "test", say=say, data_dir=data_dir, batch_size=256,
                      limit=limit)
    model, _ = fine_tune(base, train, workdir=workdir, resize=True, seed=seed,
                         **fine_tune_kwargs)
    results = evaluate(model, _fit_to_input(test, model, resize=True, argument="test"),
                       class_names=train[1].class_names)
    write_json(pathlib.Path(workdir) / run_dir.EVALUATION_FILE, results)
    say(f"{model.name} fine-tuned on {dataset}: test accuracy {results['accuracy']:.4f} "
        f"({results['num_examples']} images); each phase's best.keras and last.keras are in "
        f"{workdir}/head and {workdir}/tune.")
    return results


def _check_epochs(value, argument, *, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}; received "
                         f"{argument}={value!r}.")


def _count_classes(data):
    """Returns the classes the data's info, one-hot labels or integer label arrays show."""
    labels = data.data[1] if data.is_arrays else inputs.first_batch(data)[1]
    counted = inputs.infer_num_classes(data, labels)
    if counted is None and data.is_arrays:
        counted = int(np.max(labels)) + 1
    if counted is None:
        raise ValueError("the number of new classes is unknown: the data is a dataset of "
                         "integer labels without info; pass num_classes= or the (dataset, "
                         "info) pair.")
    return counted


def _load_base(base, weights):
    """Returns a fresh, uncompiled copy of the base model."""
    if isinstance(base, keras.Model):
        copy = keras.models.clone_model(base)
        copy.set_weights(base.get_weights())
        return copy
    if not isinstance(base, (str, pathlib.Path)):
        raise ValueError(f"base must be a model name, a path or a keras.Model; received "
                         f"{type(base).__name__}.")
    if isinstance(base, str) and not pathlib.Path(base).expanduser().exists():
        from cnnzoo.registry import build, model_card

        try:
            model_card(base)
        except ValueError as error:
            raise ValueError(f"base={base!r} is neither a file or workdir nor a registered "
                             f"model: {error}") from None
        return build(base, weights=weights, compile=False)
    model = load_model(base, compile=False)
    if not isinstance(model, keras.Model):
        raise ValueError(f"{str(base)!r} is a SavedModel export, which cannot be trained; "
                         "pass the .keras file or the workdir it was exported from.")
    return model


def _fit_to_input(data, model, *, resize, argument):
    """Returns `data`, resized to the model's input where asked; refuses what cannot fit."""
    images, _ = inputs.first_batch(inputs.as_data(data, argument=argument))
    height, width, channels = model.input_shape[1:]
    got = tuple(images.shape[1:])
    if len(got) != 3 or got[2] != channels:
        raise ValueError(
            f"{argument} images have shape {got}, but {model.name} was trained on "
            f"{channels}-channel images {(height, width, channels)}; fine-tuning keeps the "
            "channels. Convert the images (grayscale <-> RGB) first, or choose a base trained "
            f"on {got[-1]}-channel images.")
    if got[:2] == (height, width):
        return data
    if not resize:
        raise ValueError(
            f"{argument} images are {got[0]}x{got[1]}, but {model.name} takes "
            f"{height}x{width}; pass resize=True (or resize them yourself).")
    return _resized(data, (height, width))


def _resized(data, size):
    if isinstance(data, tuple) and len(data) == 2 and inputs.as_data(data).is_arrays:
        # keras.ops, not tf.image: arrays train on every backend, TensorFlow absent too.
        images = np.asarray(data[0], np.float32)
        resized = keras.ops.convert_to_numpy(
            keras.ops.image.resize(images, size, interpolation="bilinear"))
        # Bilinear weights sum to 1, but PyTorch's round-off can step past 255.
        return np.clip(resized, images.min(), images.max()), np.asarray(data[1])

    import tensorflow as tf

    def resize(images, labels):
        return tf.image.resize(images, size), labels

    if isinstance(data, tuple):
        return data[0].map(resize, num_parallel_calls=tf.data.AUTOTUNE), data[1]
    return data.map(resize, num_parallel_calls=tf.data.AUTOTUNE)


def with_new_head(model, num_classes):
    """Returns `model` with its classifier replaced by a fresh one for `num_classes`.

    The classifier is the chain of Dense and Dropout layers at the top (`fc1`...,
    `predictions`, as `include_top=False` leaves them out); the cut is below it, after
    the top's pooling (`flatten`, `avg_pool`). The new head is a dropout of the old rate,
    where the old head had one, and a softmax `predictions`. The backbone's layers are
    shared with `model`.

    Raises:
        ValueError: `model` does not end in a Dense classifier.
    """
    top = model.layers[-1]
    if not isinstance(top, keras.layers.Dense):
        raise ValueError(f"{model.name} ends in {type(top).__name__} {top.name!r}, not a Dense "
                         "classifier; fine_tune replaces a Dense `predictions` head.")
    features, dropout = top.input, 0.0
    for layer in reversed(model.layers[:-1]):
        if layer.output is not features or not isinstance(
                layer, (keras.layers.Dense, keras.layers.Dropout)):
            break
        if isinstance(layer, keras.layers.Dropout):
            dropout = max(dropout, layer.rate)
        features = layer.input
    x = keras.layers.Dropout(dropout, name="head_dropout")(features) if dropout else features
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 name="predictions")(x)
    return keras.Model(model.inputs, outputs, name=model.name)


def _head_layer_names(model):
    return {layer.name for layer in model.layers[-2:]
            if layer.name in ("head_dropout", "predictions")}


def _is_batch_norm(layer):
    return isinstance(layer, keras.layers.BatchNormalization)


def set_trainable(model, rule):
    """Sets each layer's `trainable` to `rule(index, layer)`; batch norm stays frozen."""
    for index, layer in enumerate(model.layers):
        layer.trainable = bool(rule(index, layer)) and not _is_batch_norm(layer)


def _unfreeze_start(model, unfreeze, head_size):
    """Returns the index of the first layer phase 2 trains (`head_size`: the new head's).

    Raises:
        ValueError: a count outside 1..(layers with weights), or an unknown layer name.
    """
    layers = model.layers[:-head_size]
    if isinstance(unfreeze, str):
        names = [layer.name for layer in layers]
        if unfreeze not in names:
            near = difflib.get_close_matches(unfreeze, names, n=3)
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else (
                f"its backbone's layers run from {names[0]!r} to {names[-1]!r} "
                "(see model.summary()).")
            raise ValueError(f"unfreeze={unfreeze!r} names no layer of {model.name}; {hint}")
        return names.index(unfreeze) + 1
    weighted = [index for index, layer in enumerate(layers)
                if layer.weights and not _is_batch_norm(layer)]
    if isinstance(unfreeze, bool) or not isinstance(unfreeze, int) \
            or not 1 <= unfreeze <= len(weighted):
        raise ValueError(f"unfreeze must be a layer name or a count from 1 to "
                         f"{len(weighted)} (the layers with weights of {model.name}, batch "
                         f"norm not counted); received unfreeze={unfreeze!r}.")
    return weighted[-unfreeze]


def _phase(model, train, validation, workdir, *, epochs, learning_rate, run_info, **common):
    """Runs one phase through `fit`; returns `(model, history)`, history None when skipped."""
    record = run_files.read_run(workdir)
    last = workdir / run_dir.LAST_MODEL
    if record and record.get("status") == "finished" and record.get("epochs") == epochs \
            and last.is_file():
        return load_model(last, compile=True), None
    history = fit(model, train, validation, epochs=epochs, workdir=workdir,
                  learning_rate=learning_rate, run_info=run_info, **common)
    return history.model, history
