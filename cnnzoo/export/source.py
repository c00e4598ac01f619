"""What `cnnzoo export` starts from: a `.keras` file or a training workdir."""

import json
import pathlib

# A training workdir (see `cnnzoo.training.workdir`): the best epoch is preferred.
_WORKDIR_MODELS = ("best.keras", "last.keras", "model.keras")


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}.") from None


def _workdir_metadata(workdir):
    run = _read_json(workdir / "run.json")
    evaluation = _read_json(workdir / "evaluation.json")
    metadata = {"model": run.get("model"), "dataset": run.get("dataset"),
                "class_names": run.get("class_names"), "epochs": run.get("epochs")}
    test_metrics = run.get("test_metrics") or {}
    accuracy = evaluation.get("accuracy", test_metrics.get("accuracy"))
    if accuracy is not None:
        metadata["test_accuracy"] = float(accuracy)
        metadata["test_split"] = evaluation.get("split", "test")
    return {k: v for k, v in metadata.items() if v is not None}


def load_export_source(path):
    """Returns `(model, metadata)` from a `.keras` file or a training workdir.

    A workdir gives its `best.keras` (else `last.keras`, `model.keras`) and, for the
    model card, the model name, dataset and class names in `run.json` and the test
    accuracy in `evaluation.json` (or `run.json`'s `test_metrics`).

    Raises:
        FileNotFoundError: nothing at `path`, or a folder without a `.keras` model.
        ValueError: a file that is not a `.keras` model, or a `run.json` that is not JSON.
    """
    import keras

    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no model or workdir at {str(path)!r}.")
    metadata = {}
    if path.is_dir():
        found = [path / name for name in _WORKDIR_MODELS if (path / name).is_file()]
        if not found:
            raise FileNotFoundError(
                f"{str(path)!r} is a folder without {', '.join(_WORKDIR_MODELS)}; pass a "
                "training workdir (`cnnzoo train ... --workdir`) or a .keras file.")
        metadata, path = _workdir_metadata(path), found[0]
    elif path.suffix != ".keras":
        raise ValueError(f"{str(path)!r} is not a .keras model file; pass a .keras file or "
                         "a training workdir.")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{str(path)!r} could not be loaded as a Keras model: {error}") \
            from None
    metadata.setdefault("model", model.name)
    metadata["source"] = path.name
    return model, metadata
