"""The model registry: `register_model`, `register_variant`, `list_models`, `build`, cards.

A registered model's defaults have one home: the signature of the builder it wraps (for a
variant, the family builder's signature overridden by the variant's `defaults`). Its card
reads them from there; the registered builder fills them in, and it is the one place that
handles `weights=` (through `cnnzoo.pretrained`, imported when weights are asked for).
"""

import dataclasses
import difflib
import fnmatch
import importlib
import inspect
import re
import textwrap

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What is known of a registered model.

    Attributes:
        name: the registry name, e.g. `resnet20`.
        family: `mnist_cnn`, `keras_mnist`, `tutorial`, `lenet`, `alexnet`, `vgg`, `resnet`
            or `resnet9`.
        default_input: `(height, width, channels)` the model is built at by default.
        num_classes: the default number of classes.
        num_params: trainable parameters at the default input and classes, counted as
            papers and torchvision count them (batch-norm moving statistics, which Keras's
            `count_params()` adds, are left out); a test holds the card to the model.
        reference: the paper or script the architecture follows.
        description: one line on what the model is (its builder's docstring's first
            line); a test checks the figures it states against the built model.
        options: the keyword arguments the registered builder takes besides compile
            settings (`cnnzoo.models.compile.COMPILE_OPTIONS`), `weights` included.
    """

    name: str
    family: str
    default_input: tuple
    num_classes: int
    num_params: int
    reference: str
    description: str
    options: tuple = ()

    @property
    def weights(self):
        """The trained weights that ship for this model: `cnnzoo.pretrained.PretrainedWeights`
        entries (tag, dataset, test accuracy, epochs, training time, command, machine,
        versions, date), empty when none do."""
        from cnnzoo.pretrained import weights_for

        return weights_for(self.name)


def _check_new_name(name):
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered; choose another name.")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"model names are lowercase letters, digits and '_'; received {name!r}.")


def keyword_defaults(function):
    """Returns `{name: default}` for `function`'s parameters that have a default."""
    return {key: parameter.default
            for key, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def keyword_options(function):
    """Returns the names of `function`'s named parameters (not `*args` or `**kwargs`)."""
    return tuple(key for key, parameter in inspect.signature(function).parameters.items()
                 if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD))


# Google-style docstring sections, parsed just enough to add entries to `Args:`.
_SECTION = re.compile(r"^(Args|Returns|Raises|Example|Examples|Attributes):\s*$")
_ENTRY = re.compile(r"^    (\*{0,2}\w+): ")


def args_entries(doc):
    """Returns `{argument: text}` from the `Args:` section of the docstring `doc`."""
    entries, current, in_args = {}, None, False
    for line in inspect.cleandoc(doc or "").splitlines():
        if _SECTION.match(line):
            in_args = line.startswith("Args")
            continue
        match = _ENTRY.match(line) if in_args else None
        if match:
            current = match.group(1)
            entries[current] = line[match.end():].strip()
        elif in_args and current and line.startswith("        "):
            entries[current] += " " + line.strip()
        elif in_args and line.strip():
            in_args = False
    return entries


def with_args_section(doc, entries):
    """Returns `doc` with its `Args:` section replaced by `entries` (name -> text).

    The section goes where the old one was, else before `Returns:`, else at the end.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    kept, position, in_args = [], None, False
    for line in lines:
        section = _SECTION.match(line)
        if section and section.group(1) == "Args":
            position, in_args = len(kept), True
            continue
        if in_args and (section or (line.strip() and not line.startswith("    "))):
            in_args = False
        if in_args:
            continue
        if section and position is None and section.group(1) == "Returns":
            position = len(kept)
        kept.append(line)
    if position is None:
        kept.append("")
        position = len(kept)
    block = ["Args:"] + [_wrap_entry(name, text) for name, text in entries.items()] + [""]
    return "\n".join(kept[:position] + block + kept[position:]).rstrip() + "\n"


def _wrap_entry(name, text, width=88):
    """Returns one `Args:` entry, wrapped with continuation lines indented by four more."""
    return "\n".join(textwrap.wrap(f"{name}: {text}", width=width, initial_indent="    ",
                                   subsequent_indent="        ", break_on_hyphens=False))


_WEIGHTS_ARG = (
    "None (random initialisation), the tag of weights that ship with cnnzoo (listed on "
    "`cnnzoo.model_card(name)`; see `cnnzoo.pretrained`), or the path of a `.keras` or "
    "`.weights.h5` file of this architecture. The request is checked before a layer is "
    "built; with `include_top=False` only the backbone's weights load.")


def _register(name, builder, *, family, num_params, reference, description, defaults,
              options):
    """Records the card and returns the registered builder around `builder`."""
    _check_new_name(name)
    card = ModelCard(name=name, family=family, default_input=tuple(defaults["input_shape"]),
                     num_classes=defaults["num_classes"], num_params=num_params,
                     reference=reference, description=description,
                     options=tuple(options) + ("weights",))

    def build_registered(*, weights=None, **kwargs):
        include_top = kwargs.get("include_top", defaults.get("include_top", True))
        if weights is not None:
            pretrained = importlib.import_module("cnnzoo.pretrained")
            # Before the defaults: a tag fills the shapes it was trained at, not the card's.
            kwargs["input_shape"], kwargs["num_classes"] = pretrained.check_weights_request(
                name, weights, input_shape=kwargs.get("input_shape"),
                num_classes=kwargs.get("num_classes"), include_top=include_top)
        for key in ("input_shape", "num_classes"):
            if kwargs.get(key) is None:
                kwargs[key] = defaults[key]
        model = builder(**kwargs)
        if weights is None:
            return model
        return pretrained.apply_weights(model, name=name, weights=weights,
                                        include_top=include_top)

    build_registered.__name__ = build_registered.__qualname__ = builder.__name__
    build_registered.__module__ = builder.__module__
    entries = {key: text for key, text in args_entries(builder.__doc__).items()
               if key != "**compile_kwargs"}
    entries["weights"] = _WEIGHTS_ARG
    entries.update({key: text for key, text in args_entries(builder.__doc__).items()
                    if key == "**compile_kwargs"})
    build_registered.__doc__ = with_args_section(builder.__doc__, entries)
    build_registered.__signature__ = _signature(options, defaults)
    _REGISTRY[name] = (card, build_registered)
    return build_registered


def _signature(options, defaults):
    """Returns the registered builder's signature: keyword options, `weights`, settings."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter(key, keyword, default=defaults.get(key, None))
                  for key in options]
    parameters.append(inspect.Parameter("weights", keyword, default=None))
    parameters.append(inspect.Parameter("compile_kwargs", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def register_model(name, *, family, num_params, reference):
    """Registers the decorated builder under `name`; returns the registered builder.

    The builder's signature states the defaults (`input_shape`, `num_classes` and the
    rest), and the card reads them there. The registered builder fills `input_shape` and
    `num_classes` given as None, and takes `weights=` (see `build`). The card's
    description is the docstring's first line, whose figures a test checks.

    Args:
        name: the registry name: lowercase letters, digits and `_`.
        family: the card's family (recipes are chosen by family).
        num_params: trainable parameters at the default input (a test checks it).
        reference: the paper or script the architecture follows.

    Returns:
        A decorator that registers a builder and returns the registered builder.

    Raises:
        ValueError: `name` is already registered, or not lowercase letters, digits and `_`.
    """
    _check_new_name(name)

    def decorator(builder):
        doc = (builder.__doc__ or "").strip().splitlines()
        return _register(name, builder, family=family, num_params=num_params,
                         reference=reference, description=doc[0] if doc else "",
                         defaults=keyword_defaults(builder), options=keyword_options(builder))

    return decorator


def register_variant(name, family_builder, *, fixed, defaults=None, family, num_params,
                     reference, summary, builder_name=None):
    """Registers `name` as `family_builder` with the options `fixed`; returns its builder.

    `register_variant("resnet20", build_resnet, fixed={"depth": 20, "layout": "cifar"},
    ...)` makes `build_resnet20(**options)`: every option of `build_resnet` except those
    fixed. Its docstring is `summary` followed by the family builder's Args, less the
    fixed ones.

    Args:
        name: the registry name.
        family_builder: the family's general builder.
        fixed: the options the variant fixes (given again, they raise a ValueError that
            points to `family_builder`).
        defaults: options whose default differs from `family_builder`'s (`input_shape`,
            `name`, ...).
        family: the card's family.
        num_params: the card's parameter count at the default input (a test checks it).
        reference: the card's reference.
        summary: one line stating the variant's facts: the card's description, checked
            by a test against the built model.
        builder_name: the returned function's name; None gives `build_<name>`.

    Returns:
        The registered builder.

    Raises:
        ValueError: a badly formed or taken name, or `fixed`/`defaults` naming an option
            the family builder does not take.
    """
    _check_new_name(name)
    defaults = dict(defaults or {})
    family_options = keyword_options(family_builder)
    unknown = sorted((set(fixed) | set(defaults)) - set(family_options))
    if unknown:
        raise ValueError(f"{family_builder.__name__} takes no option {unknown}; "
                         f"received for variant {name!r}.")
    fixed_text = ", ".join(f"{key}={value!r}" for key, value in fixed.items())

    def builder(**kwargs):
        clashes = sorted(set(kwargs) & set(fixed))
        if clashes:
            given = ", ".join(f"{key}={kwargs[key]!r}" for key in clashes)
            fixes = ", ".join(f"{key}={fixed[key]!r}" for key in clashes)
            raise ValueError(
                f"{name} fixes {fixes}; received {given}. Call "
                f"cnnzoo.{family_builder.__name__}(...) to choose it, or build another "
                "registered model.")
        return family_builder(**fixed, **{**defaults, **kwargs})

    builder.__name__ = builder.__qualname__ = builder_name or f"build_{name}"
    builder.__module__ = family_builder.__module__
    family_entries = args_entries(family_builder.__doc__)
    default_text = ", ".join(f"{key}={value!r}" for key, value in defaults.items())
    builder.__doc__ = with_args_section(
        f"{summary}\n\n`cnnzoo.{family_builder.__name__}` with {fixed_text}"
        + (f"; defaults {default_text}." if defaults else ".")
        + f"\n\nReturns:\n    A `keras.Model`, compiled unless `compile=False`.\n\n"
        f"Raises:\n    ValueError: an option {name} fixes, or anything "
        f"`{family_builder.__name__}` refuses.",
        {key: text for key, text in family_entries.items() if key not in fixed})
    all_defaults = {**keyword_defaults(family_builder), **defaults}
    return _register(name, builder, family=family, num_params=num_params, reference=reference,
                     description=summary,
                     defaults={k: v for k, v in all_defaults.items() if k not in fixed},
                     options=[key for key in family_options if key not in fixed])


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


def build(name, /, *, weights=None, include_top=True, **kwargs):
    """Builds the registered model `name` and returns it, compiled unless `compile=False`.

    Args:
        name: a registered name (`cnnzoo.list_models()`); positional, so that the
            keyword `name=` names the built model, as every builder's option does.
        weights: None (random), a tag of weights shipped for `name`, or the path of a
            `.keras` or `.weights.h5` file; checked before a layer is built.
        include_top: False drops the classifier and returns the backbone's features (with
            `pooling=None`, `"avg"` or `"max"`); never compiled.
        **kwargs: the model's options (`cnnzoo.model_card(name).options`: `input_shape`,
            `num_classes`, `dropout`, `kernel_initializer`, the family's own such as
            `batch_norm` or `width`), `compile`, and compile settings (`optimizer`,
            `learning_rate`, `weight_decay`, `clipnorm`, `global_clipnorm`,
            `label_smoothing`, `metrics`, `jit_compile`, ...).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: an unknown name (with suggestions), an option the model does not take
            (naming those it takes), a value it refuses, or a weights request that does not
            fit; each before a layer is built.

    Example:
        >>> import cnnzoo
        >>> model = cnnzoo.build("mnist_cnn")
        >>> model.count_params(), model.output_shape
        (93322, (None, 10))
    """
    return _lookup(name)[1](weights=weights, include_top=include_top, **kwargs)
