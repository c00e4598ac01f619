"""Pretrained weights: the manifest of shipped files, their checks, and loading them.

`cnnzoo.build(name, weights=...)` calls `check_weights_request` before it builds (so bad
requests are refused before any layer exists) and `apply_weights` after. `weights` is
one of:

- None: random initialisation (nothing here runs);
- a tag, e.g. "fashion_mnist": a file listed in `cnnzoo/weights/manifest.json`, trained by
  cnnzoo's own recipe (`python -m bench.results` wrote it), verified against the
  manifest's SHA-256 before Keras reads a byte of it;
- a path to a user's `.keras` or `.weights.h5` file of the same architecture;
- an `https://` or `http://` URL of such a file ending in `#sha256=<its SHA-256>`: it is
  downloaded once into the cache (`download`), checked, and then loaded as a path.

With `include_top=False` a tag's or a `.keras` file's backbone layers are copied by
layer name from the full model, so the backbone may be built at another input size and
used with a new head (the transfer-learning path).

A manifest entry may name a `url` instead of a shipped file; it is then fetched once the
same way, checked against the manifest's SHA-256 (no entry does so today).

Keras's `.weights.h5` files store variables by the order of layers of each class
(`layers/conv2d_1/vars/0`), not by layer name, so a file of another architecture whose
shapes happened to line up would load silently; loading therefore first compares the
file's variable paths and shapes with the model's own.
"""

import dataclasses
import difflib
import hashlib
import json
import os
import pathlib
import re
import tempfile
import urllib.parse
import warnings
import zipfile

WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
WEIGHT_SUFFIXES = (".weights.h5", ".keras")
# Where downloaded weights are cached (in its `cnnzoo` folder); None: Keras's own folder,
# `$KERAS_HOME` or `~/.keras`, as `keras.utils.get_file` picks it.
DOWNLOAD_DIR = None
URL_SCHEMES = ("https://", "http://")
_SHA256_FRAGMENT = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class WeightsIntegrityError(ValueError):
    """A weights file does not match the SHA-256 or size its manifest states."""


class WeightsDownloadError(OSError):
    """Weights could not be downloaded (HTTP error, refused or cut connection)."""


@dataclasses.dataclass(frozen=True)
class PretrainedWeights:
    """One entry of the weights manifest: a file and the evidence of how it was made.

    Attributes:
        model: the registry name the weights fit.
        tag: what `weights=` asks for, e.g. "fashion_mnist".
        file: the file name, relative to the manifest's folder.
        sha256: the file's SHA-256, checked before every load.
        bytes: the file's size.
        input_shape: `(height, width, channels)` the model was trained at.
        num_classes: the classifier's classes.
        class_names: the names of the classes, in label order.
        dataset: the dataset trained and tested on.
        test_accuracy: test-set accuracy of one view of each image.
        test_accuracy_tta: test-set accuracy with the recipe's test-time augmentation, or
            None where the recipe has none.
        tta: the recipe's test-time augmentation ("none" or "flip").
        epochs: epochs trained.
        training_seconds: wall time of the training command(s).
        classic_epochs: `training_seconds` over one steady epoch of the classic script
            measured on the same machine in the same job.
        command: the exact command(s) that trained the weights.
        machine: the CPU or GPU it ran on.
        versions: cnnzoo, TensorFlow and Keras versions.
        date: when the weights were written (UTC).
        url: where to download the file when it is not shipped, or None.
    """

    model: str
    tag: str
    file: str
    sha256: str
    bytes: int
    input_shape: tuple
    num_classes: int
    class_names: tuple
    dataset: str
    test_accuracy: float
    test_accuracy_tta: float | None
    tta: str
    epochs: int
    training_seconds: float
    classic_epochs: float
    command: str
    machine: str
    versions: dict
    date: str
    url: str | None = None

    @classmethod
    def from_json(cls, entry):
        """Returns the entry from its manifest dict (lists become tuples)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        entry = {k: v for k, v in entry.items() if k in fields}
        return cls(**{**entry, "input_shape": tuple(entry["input_shape"]),
                      "class_names": tuple(entry["class_names"])})

    def to_json(self):
        """Returns the entry as a JSON-ready dict."""
        entry = dataclasses.asdict(self)
        return {**entry, "input_shape": list(self.input_shape),
                "class_names": list(self.class_names)}


def read_manifest(path=None):
    """Returns the `PretrainedWeights` entries of the manifest at `path` (default: shipped).

    A missing manifest means no weights ship: the result is empty.

    Raises:
        ValueError: the manifest is not valid JSON or lacks fields (a broken install).
    """
    path = pathlib.Path(path or MANIFEST)
    if not path.is_file():
        return ()
    try:
        return tuple(PretrainedWeights.from_json(entry)
                     for entry in json.loads(path.read_text(encoding="utf-8"))["weights"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"the weights manifest {str(path)!r} is unreadable ({error}); "
                         "reinstall cnnzoo.") from error


def weights_for(name):
    """Returns the `PretrainedWeights` entries of the model `name` (empty when none ship).

    Raises:
        ValueError: an unknown model name (with suggestions).

    Example:
        >>> [w.tag for w in weights_for("vgg16")]
        []
    """
    from cnnzoo.registry import model_card

    model_card(name)
    return tuple(entry for entry in read_manifest() if entry.model == name)


def sha256_file(path):
    """Returns the hex SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_url(weights):
    return isinstance(weights, str) and weights.lower().startswith(URL_SCHEMES)


def split_url(url):
    """Returns `(url without its fragment, sha256, file name)` of a weights URL.

    Raises:
        ValueError: no `#sha256=<64 hex digits>` fragment, or a file name that is not a
            `.keras` or `.weights.h5` file.

    Example:
        >>> split_url("https://example.org/w/m.weights.h5#sha256=" + "ab" * 32)[2]
        'm.weights.h5'
    """
    address, _, fragment = url.partition("#")
    found = _SHA256_FRAGMENT.match(fragment)
    if found is None:
        raise ValueError(f"a weights URL must end in '#sha256=<the file's SHA-256>' (64 hex "
                         f"digits, as `sha256sum FILE` prints), so the download can be "
                         f"checked; received {url!r}.")
    name = pathlib.PurePosixPath(urllib.parse.urlsplit(address).path).name
    if not name.endswith(WEIGHT_SUFFIXES):
        raise ValueError(f"a weights URL must name a .keras or .weights.h5 file; received "
                         f"{address!r}.")
    return address, found[1].lower(), name


def _cache_dir():
    """Returns the folder downloads are cached in: `DOWNLOAD_DIR` or Keras's, + `cnnzoo`."""
    base = DOWNLOAD_DIR or os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return pathlib.Path(base).expanduser() / "cnnzoo"


def download(url, sha256, name):
    """Returns the cached file `name` downloaded from `url`, once its SHA-256 is `sha256`.

    A cached file with that SHA-256 is returned without a download. Otherwise
    `keras.utils.get_file` fetches the file into a temporary beside the cache's `name`
    and checks its hash; only then is it renamed into place (`cnnzoo.atomic.atomic_file`):
    `get_file` itself would leave a file failing its hash, or a kill's half download,
    under the final name.

    Raises:
        WeightsDownloadError: an HTTP error (404...), a refused or cut connection.
        WeightsIntegrityError: the file's SHA-256 is not `sha256` (nothing is cached).
    """
    from cnnzoo.atomic import atomic_file

    target = _cache_dir() / name
    if target.is_file() and sha256_file(target) == sha256:
        return target
    with atomic_file(target, overwrite=True) as temporary:
        _fetch(url, sha256, temporary)
    return target


def _fetch(url, sha256, path):
    """Downloads `url` to `path` with `keras.utils.get_file`, which checks the SHA-256.

    Raises:
        WeightsIntegrityError, WeightsDownloadError: as `download`.
    """
    import keras

    try:
        keras.utils.get_file(path.name, origin=url, file_hash=sha256,
                             hash_algorithm="sha256", cache_dir=str(path.parent),
                             cache_subdir="", force_download=True)
    except ValueError as error:  # get_file's hash check.
        raise WeightsIntegrityError(
            f"refusing the weights downloaded from {url}: their SHA-256 is not {sha256} "
            "(the file is corrupt, cut short or another one); nothing was cached.") from None
    except Exception as error:  # get_file wraps HTTP errors in Exception; others are raw.
        raise WeightsDownloadError(f"could not download weights from {url}: {error}. "
                                   "Check the URL and the connection; nothing was "
                                   "cached.") from None


def _is_path(weights):
    return (isinstance(weights, os.PathLike) or os.sep in weights
            or weights.endswith(WEIGHT_SUFFIXES) or os.path.isfile(weights))


def _find_entry(name, tag):
    """Returns the entry of `name`'s weights `tag`, or raises naming the tags that exist."""
    entries = weights_for(name)
    for entry in entries:
        if entry.tag == tag:
            return entry
    tags = [entry.tag for entry in entries]
    close = difflib.get_close_matches(tag, tags, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    have = (f"its tags are {', '.join(repr(t) for t in tags)}" if tags
            else "cnnzoo ships no weights for it")
    raise ValueError(
        f"unknown weights {tag!r} for model {name!r}: {have}.{hint} Pass weights=None for "
        f"random weights, or the path of a .keras or .weights.h5 file of {name}.")


def check_weights_request(name, weights, *, input_shape, num_classes, include_top):
    """Checks a `weights=` request before the model is built; returns the shapes to build.

    Args:
        name: the registered model name.
        weights: None, a tag, or a path (str or `os.PathLike`).
        input_shape: the requested `(height, width, channels)`, or None for the weights'
            own (a tag's training shape; a path leaves it to the builder's default).
        num_classes: the requested classes, or None (as `input_shape`).
        include_top: False builds the backbone only; a tag's head is then not loaded, so
            `num_classes` is free, and so is the image size (not the channel count).

    Returns:
        `(input_shape, num_classes)` to build with: the request, with a tag's own values
        where the request left them None.

    Raises:
        ValueError: an unknown model, an unknown tag (naming the tags that exist), a tag
            trained at another input shape or number of classes than requested (unless
            `include_top=False`), or a file that is neither `.keras` nor `.weights.h5`.
        FileNotFoundError: a path that does not exist.
        TypeError: `weights` is neither None, a str nor a path.

    Example:
        >>> check_weights_request("mnist_cnn", None, input_shape=None, num_classes=None,
        ...                       include_top=True)
        (None, None)
    """
    if weights is None:
        return input_shape, num_classes
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, a tag such as 'fashion_mnist', or a file "
                        f"path; received {type(weights).__name__} {weights!r}.")
    if _is_url(weights):
        name = split_url(weights)[2]
        if not include_top and not name.endswith(".keras"):
            raise ValueError(_BACKBONE_NEEDS_KERAS + f"received {weights!r}.")
        return input_shape, num_classes
    if _is_path(weights):
        _check_path(weights, include_top=include_top)
        return input_shape, num_classes
    entry = _find_entry(name, weights)
    if input_shape is not None:
        input_shape = tuple(input_shape)
        if not include_top and input_shape[-1:] != entry.input_shape[-1:]:
            raise ValueError(
                f"the {entry.tag!r} weights of {name} take {entry.input_shape[-1]}-channel "
                f"images; received input_shape={input_shape}. Use "
                f"{entry.input_shape[-1]} channels, or weights=None.")
        if include_top and input_shape != entry.input_shape:
            raise ValueError(_shape_mismatch(entry, "input_shape", input_shape))
    if include_top and num_classes is not None and num_classes != entry.num_classes:
        raise ValueError(_shape_mismatch(entry, "num_classes", num_classes))
    return (input_shape or entry.input_shape,
            entry.num_classes if include_top and num_classes is None else num_classes)


def _shape_mismatch(entry, argument, received):
    return (f"the {entry.tag!r} weights of {entry.model} were trained at "
            f"input_shape={entry.input_shape} with num_classes={entry.num_classes}; "
            f"received {argument}={received}. Leave {argument} out to build at the "
            "weights' own, or pass include_top=False to load the backbone only and train a "
            "new head (transfer learning).")


def _check_path(path, *, include_top):
    path = pathlib.Path(path).expanduser()
    if not path.name.endswith(WEIGHT_SUFFIXES):
        raise ValueError(f"weights files end in .keras or .weights.h5 (Keras 3's formats); "
                         f"received {str(path)!r}. Pass a tag such as 'fashion_mnist' for "
                         "shipped weights.")
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {str(path)!r}; check the path, or pass "
                                "a tag such as 'fashion_mnist' for shipped weights.")
    if not include_top and not path.name.endswith(".keras"):
        raise ValueError(_BACKBONE_NEEDS_KERAS + f"received {str(path)!r}. Save the full "
                         "model with model.save('model.keras').")


_BACKBONE_NEEDS_KERAS = ("include_top=False needs a .keras file or a shipped tag: a "
                         ".weights.h5 file does not say the input and classes its head was "
                         "built for; ")


def verified_file(entry, manifest=None):
    """Returns the path of `entry`'s file once its size and SHA-256 match the manifest.

    A shipped file lies beside the manifest; an entry with a `url` is downloaded once into
    the cache (`download`).

    Raises:
        FileNotFoundError: a shipped file is missing (a broken install).
        WeightsIntegrityError: the file's size or SHA-256 differs from the manifest's: it
            is corrupted or was swapped, and is not loaded.
        WeightsDownloadError: an entry's `url` cannot be downloaded.
    """
    if entry.url:
        try:
            return download(entry.url, entry.sha256, entry.file)
        except (WeightsIntegrityError, WeightsDownloadError) as error:
            raise type(error)(f"the {entry.tag!r} weights of {entry.model}: "
                              f"{error}") from error
    path = pathlib.Path(manifest or MANIFEST).parent / entry.file
    if not path.is_file():
        raise FileNotFoundError(f"the {entry.tag!r} weights of {entry.model} should be at "
                                f"{str(path)!r} and are missing; reinstall cnnzoo.")
    size, digest = path.stat().st_size, sha256_file(path)
    if size != entry.bytes or digest != entry.sha256:
        raise WeightsIntegrityError(
            f"refusing to load {str(path)!r}: its SHA-256 is {digest} ({size} bytes) but the "
            f"manifest states {entry.sha256} ({entry.bytes} bytes) for the {entry.tag!r} "
            f"weights of {entry.model}. The file is corrupted or was replaced; reinstall "
            "cnnzoo.")
    return path


def apply_weights(model, *, name, weights, include_top):
    """Loads `weights` into the freshly built `model` of architecture `name`; returns it.

    Args:
        model: the model `cnnzoo.build` made, after `check_weights_request`.
        name: its registry name.
        weights: None (returns `model` as it is), a tag, or a file path.
        include_top: whether `model` has its classifier head; False copies the backbone's
            layers by name from the full model the weights belong to.

    Returns:
        `model`, with the weights loaded.

    Raises:
        ValueError: as `check_weights_request`; or the file belongs to another
            architecture or shape (names the first differences), or a file of yours holds
            NaN, infinite or absurd values (corrupted bytes; see `check_loaded_values`).
        WeightsIntegrityError: a shipped file fails its SHA-256 check (nothing is loaded).
        FileNotFoundError: the file is missing.
    """
    if weights is None:
        return model
    if _is_url(weights) or _is_path(weights):
        path = download(*split_url(weights)) if _is_url(weights) else weights
        _check_path(path, include_top=include_top)
        path = pathlib.Path(path).expanduser()
        if path.name.endswith(".weights.h5"):
            _load_weights_file(model, path, name=name)
        else:
            _copy_from_keras_file(model, path, name=name, include_top=include_top)
        return check_loaded_values(model, path)
    entry = _find_entry(name, weights)
    path = verified_file(entry)
    if include_top:
        built_at = tuple(model.input_shape[1:])
        if built_at != entry.input_shape:
            raise ValueError(_shape_mismatch(entry, "input_shape", built_at))
        _load_weights_file(model, path, name=name)
        return model
    from cnnzoo.registry import build

    full = build(name, input_shape=entry.input_shape, num_classes=entry.num_classes,
                 compile=False)
    _load_weights_file(full, path, name=name)
    copy_layers_by_name(full, model, source_name=f"the {entry.tag!r} weights",
                        exact=False)
    return model


# No trained weight comes near this; corrupted bytes read as floats often do (3.4e38).
MAX_WEIGHT_MAGNITUDE = 1e15


def check_loaded_values(model, path):
    """Returns `model` once every weight it loaded from `path` is finite and plausible.

    A file whose bytes were damaged can still load: its floats come out NaN, infinite or
    absurd (3.4e38), and the model then predicts nonsense without an error.

    Raises:
        ValueError: naming the file and the first variables holding NaN, infinite values or
            magnitudes above `MAX_WEIGHT_MAGNITUDE`.
    """
    import keras
    import numpy as np

    bad = []
    for variable in model.weights:
        values = np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")
        if not (np.isfinite(values).all() and np.abs(values).max(initial=0)
                <= MAX_WEIGHT_MAGNITUDE):
            bad.append(f"{variable.path} (largest magnitude {np.nanmax(np.abs(values)):.3g})")
    if bad:
        raise ValueError(
            f"the weights in {str(path)!r} hold NaN, infinite or absurd values (above "
            f"{MAX_WEIGHT_MAGNITUDE:g}) in {', '.join(bad[:3])}"
            f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}: the file is corrupted. "
            "Use an intact copy of it.")
    return model


def _h5_variables(handle):
    """Returns `{variable path: shape}` of every dataset in an open h5py file or group."""
    import h5py

    found = {}
    handle.visititems(lambda path, item: found.__setitem__(path, tuple(item.shape))
                      if isinstance(item, h5py.Dataset) else None)
    return found


def weights_structure(path):
    """Returns `{variable path: shape}` of a Keras `.weights.h5` file, without the
    optimizer's variables (a compiled model saves them; weights never carry them over)."""
    import h5py

    with h5py.File(path, "r") as handle:
        return {key: shape for key, shape in _h5_variables(handle).items()
                if not key.startswith("optimizer/")}


def model_weights_structure(model):
    """Returns what `weights_structure` reads from `model`'s own `.weights.h5` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "model.weights.h5"
        model.save_weights(path)
        return weights_structure(path)


def _describe(differences, limit=3):
    shown = "; ".join(differences[:limit])
    more = len(differences) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def _load_weights_file(model, path, *, name):
    """Loads a `.weights.h5` file after checking it holds exactly `model`'s variables."""
    try:
        found = weights_structure(path)
    except OSError as error:
        raise ValueError(f"{str(path)!r} is not a readable Keras .weights.h5 file "
                         f"({error}).") from error
    expected = model_weights_structure(model)
    differences = [f"{key}: file has {found.get(key)}, model has {expected.get(key)}"
                   for key in sorted(set(found) | set(expected))
                   if found.get(key) != expected.get(key)]
    if differences:
        raise ValueError(
            f"{str(path)!r} holds the weights of another architecture or shape than {name} "
            f"at input_shape={tuple(model.input_shape[1:])} with "
            f"{model.output_shape[-1]} outputs: {_describe(differences)}. Load it into the "
            "model it was saved from, or pass the input_shape and num_classes it was "
            "trained with.")
    with warnings.catch_warnings():
        # Weights files carry no optimizer state (checked above); a compiled model's
        # optimizer starts fresh, which Keras would announce on every load.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def _copy_from_keras_file(model, path, *, name, include_top):
    import keras

    import cnnzoo.models  # noqa: F401  (registers cnnzoo's layers, which the file names)

    if not zipfile.is_zipfile(path):
        raise ValueError(f"{str(path)!r} is not a Keras .keras archive (a zip file).")
    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for archives it cannot rebuild.
        raise ValueError(f"could not read the model in {str(path)!r} ({error}); it must "
                         f"be a .keras file of {name} saved by cnnzoo or Keras 3.") from error
    copy_layers_by_name(source, model, source_name=repr(str(path)), exact=include_top)


def copy_layers_by_name(source, target, *, source_name, exact):
    """Copies every weighted layer of `target` from the layer of the same name in `source`.

    Args:
        source: the model the weights come from.
        target: the model they go into, changed in place.
        source_name: how error messages name `source`.
        exact: True also requires `source` to have no weighted layer `target` lacks (the
            same architecture); False lets `source` have more (a backbone from a full
            model).

    Raises:
        ValueError: a layer of `target` missing from `source`, or with other weight shapes
            (names the first differences, before anything is copied).
    """
    sources = {layer.name: layer for layer in _weighted_layers(source)}
    targets = {layer.name: layer for layer in _weighted_layers(target)}
    differences = [f"layer {n!r} is not in {source_name}" for n in targets if n not in sources]
    differences += [
        f"layer {n!r}: {source_name} has {_shapes(sources[n])}, the model {_shapes(layer)}"
        for n, layer in targets.items() if n in sources and
        _shapes(sources[n]) != _shapes(layer)]
    if exact:
        differences += [f"{source_name} has layer {n!r}, the model has not"
                        for n in sources if n not in targets]
    if differences:
        raise ValueError(
            f"{source_name} does not fit {target.name} (another architecture or shape): "
            f"{_describe(differences)}.")
    for name, layer in targets.items():
        layer.set_weights(sources[name].get_weights())


def _weighted_layers(model):
    """Yields the layers with weights of `model`, inside nested models too."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


def _shapes(layer):
    return [tuple(weight.shape) for weight in layer.weights]
