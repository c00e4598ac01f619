"""The model card saved with every export: what the model is and how to call it."""

import json

CARD_FILENAME = "cnnzoo_card.json"
CARD_FORMAT = "cnnzoo-model-card/1"
# The Keras model an export carries beside its card, for Grad-CAM (see `cnnzoo.explain`).
KERAS_ASSET = "cnnzoo_model.keras"


def check_class_names(class_names, num_classes):
    """Returns `class_names` as a list of `num_classes` strings, or None when None.

    Raises:
        ValueError: not one non-empty string per class.

    Example:
        >>> check_class_names(("cat", "dog"), 2)
        ['cat', 'dog']
        >>> check_class_names(["cat"], 2)
        Traceback (most recent call last):
        ...
        ValueError: class_names must hold one name per class (2); received 1: ['cat'].
    """
    if class_names is None:
        return None
    if isinstance(class_names, str):
        raise ValueError(f"class_names must be a list of names; received the string "
                         f"{class_names!r}.")
    names = list(class_names)
    if len(names) != num_classes:
        raise ValueError(f"class_names must hold one name per class ({num_classes}); "
                         f"received {len(names)}: {names!r}.")
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"class_names must be non-empty strings; received {names!r}.")
    return names


def save_keras_asset(model, path):
    """Saves `model` as a `.keras` file at `path` without its optimizer's state.

    The export needs the layers and weights only; a model fresh from training would also
    save its optimizer's variables (twice the weights, for Adam).
    """
    import keras

    if getattr(model, "optimizer", None) is not None and model.optimizer.variables:
        plain = keras.models.clone_model(model)
        plain.set_weights(model.get_weights())
        model = plain
    model.save(path)


def make_card(model, *, class_names, metadata, signatures):
    """Returns the model card (a JSON-ready dict) of `model` as exported.

    `metadata` (dataset, test accuracy, training run…) is copied in first; the keys
    computed from the model (`name`, `input_shape`, `class_names`…) take precedence.

    Raises:
        ValueError: `metadata` is not a dict of JSON-serialisable values.
    """
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict; received {type(metadata).__name__}.")
    card = dict(metadata or {})
    card.update({
        "format": CARD_FORMAT,
        "name": model.name,
        "input_shape": [int(d) for d in model.input_shape[1:]],
        "input_dtype": "uint8",
        "num_classes": int(model.output_shape[-1]),
        "class_names": class_names,
        "signatures": signatures,
        "keras_model": KERAS_ASSET,
    })
    try:
        json.dumps(card)
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata must hold JSON values (str, numbers, lists, dicts); "
                         f"{error}.") from None
    return card
