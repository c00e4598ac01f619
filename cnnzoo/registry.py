"""The model registry: `register_model`, `list_models`, `build`, and model cards."""

import dataclasses
import difflib
import fnmatch
import functools
import re

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What is known of a registered model.

    Attributes:
        name: the registry name, e.g. `resnet20`.
        family: `mnist_cnn`, `tutorial`, `lenet`, `alexnet`, `vgg`, `resnet` or `resnet9`.
        default_input: `(height, width, channels)` the model is built at by default.
        num_classes: the default number of classes.
        num_params: trainable parameters at the default input and classes, counted as
            papers and torchvision count them (batch-norm moving statistics, which Keras's
            `count_params()` adds, are left out); a test holds the card to the model.
        reference: the paper or script the architecture follows.
        description: one line on what the model is.
    """

    name: str
    family: str
    default_input: tuple
    num_classes: int
    num_params: int
    reference: str
    description: str


def register_model(name, *, family, default_input, num_classes, num_params, reference):
    """Registers a builder under `name`; returns the builder with the card's defaults.

    The returned function fills `input_shape` and `num_classes` from the card when the
    caller leaves them out, so `build(name)` and the named builder agree.

    Raises:
        ValueError: `name` is already registered, or not lowercase letters, digits and `_`.
    """
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered; choose another name.")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"model names are lowercase letters, digits and '_'; received {name!r}.")

    def decorator(builder):
        @functools.wraps(builder)
        def build_with_defaults(*, input_shape=None, num_classes=None, **kwargs):
            return builder(
                input_shape=card.default_input if input_shape is None else input_shape,
                num_classes=card.num_classes if num_classes is None else num_classes,
                **kwargs)

        doc = (builder.__doc__ or "").strip().splitlines()
        card = ModelCard(name=name, family=family, default_input=tuple(default_input),
                         num_classes=num_classes, num_params=num_params,
                         reference=reference, description=doc[0] if doc else "")
        _REGISTRY[name] = (card, build_with_defaults)
        return build_with_defaults

    return decorator


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_models(pattern="*", *, exclude=None, family=None):
    """Returns registered names matching the wildcard `pattern`, in natural order.

    Example:
        >>> import cnnzoo
        >>> cnnzoo.list_models("resnet*0")[:3]
        ['resnet20', 'resnet50', 'resnet110']
        >>> cnnzoo.list_models("vgg1?", exclude="*_bn")
        ['vgg11', 'vgg13', 'vgg16', 'vgg19']
    """
    names = [n for n in _registered() if fnmatch.fnmatchcase(n, pattern)]
    if exclude:
        names = [n for n in names if not fnmatch.fnmatchcase(n, exclude)]
    if family:
        names = [n for n in names if _REGISTRY[n][0].family == family]
    return sorted(names, key=_natural_key)


def _registered():
    """Returns the registry with the built-in models in it (importing `cnnzoo.models` once).

    `import cnnzoo` is lazy, so `from cnnzoo.registry import build` alone registers nothing.
    """
    import cnnzoo.models  # noqa: F401  (it imports this module, so not at the top)

    return _REGISTRY


def _lookup(name):
    if name not in _registered():
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown model {name!r}{hint} `cnnzoo.list_models()` lists all "
            f"{len(_REGISTRY)} models.")
    return _REGISTRY[name]


def model_card(name):
    """Returns the `ModelCard` of `name`.

    Raises:
        ValueError: an unknown name; the message suggests the closest registered names.
    """
    return _lookup(name)[0]


def build(name, **kwargs):
    """Builds the registered model `name` and returns it, compiled unless `compile=False`.

    Keyword arguments go to the model's builder: `input_shape`, `num_classes`,
    `compile`, compile settings (`optimizer`, `learning_rate`, `weight_decay`,
    `label_smoothing`, `metrics`) and the family's own options.

    Raises:
        ValueError: an unknown name (with suggestions), or arguments the model refuses.

    Example:
        >>> import cnnzoo
        >>> model = cnnzoo.build("mnist_cnn")
        >>> model.count_params(), model.output_shape
        (93322, (None, 10))
    """
    return _lookup(name)[1](**kwargs)
