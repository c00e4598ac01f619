"""The `cnnzoo` command line: each command is a thin call into the library.

User errors print one line and exit with status 2: bad arguments, missing or corrupt
files, models that refuse an input (the library's `ValueError`s), and a machine that
cannot do what was asked (`OSError`: a read-only folder, a full disk, a port in use;
TensorFlow's `ResourceExhaustedError`: out of disk or memory). Anything else (a
`TypeError`, an `AttributeError`...) is a bug and keeps its traceback; `-v` also shows the
traceback of a user error.
"""

import argparse
import errno
import os
import re
import sys
import traceback

from cnnzoo.doctor_cli import add_doctor_command  # Standard library only: help stays fast.


class UserError(Exception):
    """An error in what the user asked for; the CLI prints its message and exits 2."""


def model_table(names, *, markdown=False):
    """Returns the model table for `names` as text: aligned columns, or Markdown."""
    from cnnzoo.models import model_card

    rows = [("name", "family", "params", "input", "classes", "reference")]
    for name in names:
        card = model_card(name)
        rows.append((name, card.family, f"{card.num_params:,}",
                     "x".join(str(d) for d in card.default_input), str(card.num_classes),
                     card.reference))
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|---|---|--:|---|--:|---|")
        return "\n".join(lines)
    rows = [row[:5] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.rjust(w) if i == 2 else cell.ljust(w)
                  for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        for row in rows)


def _run_list(args):
    from cnnzoo.models import list_models

    names = list_models(args.pattern)
    if not names:
        raise UserError(f"no model matches {args.pattern!r}; try `cnnzoo list` for all.")
    print(model_table(names, markdown=args.markdown))


def _add_list_command(subparsers):
    parser = subparsers.add_parser(
        "list", help="list the registered models",
        description="List registered models with trainable parameters at the default input.")
    parser.add_argument("pattern", nargs="?", default="*",
                        help="wildcard filter, e.g. 'resnet*' (default: all)")
    parser.add_argument("--markdown", action="store_true",
                        help="print a Markdown table with references (as in the README)")
    parser.set_defaults(handler=_run_list)


def _one_line(error):
    """Returns `error`'s message on one line (data errors list places on several)."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


# What to do about an `OSError` the system raised, by its errno.
_OS_ERROR_HINTS = {
    errno.ENOSPC: "free some space or write to another disk, then run the command again",
    errno.EDQUOT: "free some space or write elsewhere, then run the command again",
    errno.EROFS: "choose a folder on a writable file system",
    errno.EACCES: "check the permissions, or choose another path",
    errno.EPERM: "check the permissions, or choose another path",
    errno.EADDRINUSE: "choose another --port (0 picks a free one)",
}


def _os_error_line(error):
    """Returns one line for an `OSError`: what failed, on which path, and what to do."""
    from cnnzoo.atomic import is_leftover

    if error.strerror is None:  # Raised with a message of its own, which says it all.
        return _one_line(error)
    where = None if error.filename is None else os.fsdecode(error.filename)
    if where is not None and is_leftover(os.path.basename(where)):
        where = os.path.dirname(where)  # An atomic writer's temporary: name its folder.
    line = error.strerror if where is None else f"{error.strerror}: {where!r}"
    hint = _OS_ERROR_HINTS.get(error.errno)
    return f"{line}; {hint}." if hint else f"{line}."


def _resource_line(error):
    """Returns one line for TensorFlow's `ResourceExhaustedError` (out of disk or memory)."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]", "",
                  _one_line(getattr(error, "message", error)))
    if "No space left on device" in text:
        return f"{text}; {_OS_ERROR_HINTS[errno.ENOSPC]}."
    return f"out of memory: {text}; use a smaller --batch-size or model."


def _user_error_types():
    """Returns the exception types a command reports as one line (see the module doc)."""
    types = (UserError, ValueError, OSError, FloatingPointError)
    tensorflow = sys.modules.get("tensorflow")  # Only when the command has loaded it.
    if tensorflow is not None:
        types += (tensorflow.errors.ResourceExhaustedError,)
    return types


def _error_line(error):
    """Returns the one line that reports `error`, one of `_user_error_types()`."""
    if isinstance(error, OSError):
        return _os_error_line(error)
    if isinstance(error, (UserError, ValueError, FloatingPointError)):
        return _one_line(error)
    return _resource_line(error)


def _check_output_file(path, option):
    """Refuses an `option` path that exists and is no regular file (a folder, a device).

    Files are written atomically, by replacing what is there: a device such as /dev/null
    would be replaced by a regular file, and a folder cannot be.
    """
    if path and os.path.exists(path) and not os.path.isfile(path):
        raise UserError(f"{option} {path!r} exists and is not a regular file; give the path "
                        "of a file to write.")


def _run_train(args):
    from cnnzoo.job import train_job

    changes = {"epochs": args.epochs, "batch_size": args.batch_size,
               "learning_rate": args.learning_rate, "optimizer": args.optimizer,
               "schedule": args.schedule, "augment": args.augment,
               "validation_split": args.validation_split, "tta": args.tta}
    try:
        train_job(args.model, args.dataset, workdir=args.workdir, export=args.export,
                  export_version=args.export_version, seed=args.seed, data_dir=args.data_dir,
                  limit=args.limit, steps_per_epoch=args.steps_per_epoch,
                  distribute=args.distribute, mixed_precision=args.mixed_precision,
                  recipe_changes=changes, new_data=args.new_data, new_recipe=args.new_recipe,
                  verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:
        raise UserError("interrupted; run the same command again to resume after the last "
                        "finished epoch") from None


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer such as 10; received "
                                         f"{text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a share from 0 up to (not including) 1, "
                                         f"such as 0.1; received {text!r}")
    return value


def _positive_number(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 < value < float("inf"):  # NaN fails both comparisons.
        raise argparse.ArgumentTypeError(f"must be a positive finite number such as 0.001; "
                                         f"received {text!r}")
    return value


def _add_train_command(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a model with its recipe, evaluate it on the test split, export it",
        description="Train MODEL on a dataset with the model's recipe (flags override it), "
                    "resumably in a workdir; evaluate the best epoch on the test split and "
                    "print the report; export it with --export.")
    parser.add_argument("model", help="a registered model, e.g. mnist_cnn (see `cnnzoo list`)")
    parser.add_argument("--dataset", required=True,
                        help="fashion_mnist, mnist, cifar10, digits, fashion_mnist_sample, a "
                             "folder... (fashion_mnist falls back to its shipped sample)")
    parser.add_argument("--epochs", type=_positive_int, help="override the recipe's epochs")
    parser.add_argument("--batch-size", type=_positive_int, help="override the batch size")
    parser.add_argument("--learning-rate", type=_positive_number,
                        help="override the peak learning rate")
    parser.add_argument("--optimizer", help="override the optimizer (adam, adamw, sgd...)")
    parser.add_argument("--schedule", choices=["constant", "cosine", "step"],
                        help="override the learning-rate schedule")
    parser.add_argument("--augment", help="override the augmentation preset (none, light, "
                                          "erasing, standard, strong, mixup, cutmix)")
    parser.add_argument("--validation-split", type=_fraction, metavar="SHARE",
                        help="share of the training split held out to pick the best epoch "
                             "(0: none)")
    parser.add_argument("--tta", choices=["none", "flip"],
                        help="override the test-time augmentation of the test evaluation")
    parser.add_argument("--workdir", help="run directory (default: runs/MODEL-DATASET); "
                                          "rerunning resumes it")
    parser.add_argument("--export", metavar="DIR",
                        help="export the trained model as a SavedModel in DIR/VERSION, so DIR "
                             "is a TensorFlow Serving model base path (other versions there "
                             "are left alone)")
    parser.add_argument("--export-version", type=_positive_int, default=1, metavar="N",
                        help="the version folder written under DIR; a rerun replaces it "
                             "(default: 1)")
    parser.add_argument("--new-data", action="store_true",
                        help="let a resume continue the workdir's run on another dataset "
                             "than the one its run.json records")
    parser.add_argument("--new-recipe", action="store_true",
                        help="resume a run with another optimizer, learning rate, schedule, "
                             "weight decay or batch size (run.json records the change)")
    parser.add_argument("--seed", type=int, help="make the run reproducible")
    parser.add_argument("--data-dir", help="a folder searched first for the dataset's files")
    parser.add_argument("--distribute", default="auto",
                        choices=["auto", "none", "mirrored", "multi_worker"],
                        help="tf.distribute strategy (default: auto)")
    parser.add_argument("--mixed-precision", default="auto",
                        choices=["auto", "float32", "mixed_float16", "mixed_bfloat16"],
                        help="dtype policy (default: what `cnnzoo doctor` found for the "
                             "model here, else mixed on GPUs, float32 on CPUs)")
    parser.add_argument("--limit", type=_positive_int,
                        help="use only the first N examples of each split (quick runs)")
    parser.add_argument("--steps-per-epoch", type=_positive_int,
                        help="cap the steps of each epoch (quick runs)")
    parser.set_defaults(handler=_run_train)


def _run_evaluate(args):
    from cnnzoo.artifacts import load_model
    from cnnzoo.job import load_split
    from cnnzoo.training import evaluate
    from cnnzoo.training.workdir import write_json

    if args.split == "validation" and not args.validation_split:
        raise UserError("--split validation is the share of the training split that training "
                        "held out: pass that share with --validation-split (0.1 unless the "
                        "run changed it) and the run's --seed, if it had one.")
    _check_output_file(args.output, "--output")
    model = load_model(args.model_path)
    data = load_split(args.dataset, args.split, data_dir=args.data_dir,
                      batch_size=args.batch_size, limit=args.limit,
                      validation_split=args.validation_split or 0.0, seed=args.seed)
    result = evaluate(model, data, tta=args.tta)
    print(result["report"])
    if args.output:
        write_json(args.output, result)
        print(f"wrote {args.output}")


def _add_evaluate_command(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a trained model on a dataset split",
        description="Print loss, accuracy, top-5 accuracy, per-class accuracy and the "
                    "confusion matrix of a trained model on a dataset split.")
    parser.add_argument("model_path", help="a .keras file, a training workdir (its "
                                           "best.keras), or a SavedModel export (its folder, "
                                           "or a TF Serving base of version folders)")
    parser.add_argument("--dataset", required=True, help="the dataset to evaluate on")
    parser.add_argument("--split", default="test", choices=["test", "train", "validation"],
                        help="the split (default: test); validation needs --validation-split")
    parser.add_argument("--validation-split", type=_fraction, metavar="SHARE",
                        help="the share of the training split that training held out (train's "
                             "default: 0.1); --split train then leaves it out too")
    parser.add_argument("--seed", type=int, default=0,
                        help="the training run's --seed, which picked the held-out images "
                             "(default: 0, as train without --seed)")
    parser.add_argument("--batch-size", type=_positive_int, default=256)
    parser.add_argument("--data-dir", help="a folder searched first for the dataset's files")
    parser.add_argument("--limit", type=_positive_int, help="only the first N examples")
    parser.add_argument("--tta", default="none", choices=["none", "flip"],
                        help="test-time augmentation: flip averages each image's prediction "
                             "with its mirror's (default: none)")
    parser.add_argument("--output", help="also write the result as JSON to this file")
    parser.set_defaults(handler=_run_evaluate)


def _export_source(source, weights):
    """Returns `source` as `load_export_source` takes it: `NAME:TAG` for `NAME --weights TAG`.

    Raises:
        UserError: `--weights` with a path, or with `NAME:TAG` naming another tag.
    """
    if weights is None:
        return source
    name, _, tag = source.partition(":")
    if os.path.exists(source) or os.sep in source or (tag and tag != weights):
        raise UserError(f"--weights {weights} takes a registered model name, such as "
                        f"mnist_cnn; received {source!r}. Leave --weights out to export a "
                        ".keras file or a workdir.")
    return f"{name}:{weights}"


def _calibration_images(args, metadata):
    """Returns the calibration sample of a full-integer export, or None for other formats.

    Raises:
        UserError: --calibration options for another format, or no dataset to draw from.
    """
    from cnnzoo.export.formats import CALIBRATED_FORMAT, calibration_sample

    if args.format != CALIBRATED_FORMAT:
        if args.calibration or args.calibration_size:
            raise UserError(f"--calibration and --calibration-size apply to --format "
                            f"{CALIBRATED_FORMAT} only.")
        return None
    dataset = args.calibration or metadata.get("dataset")
    if not dataset:
        raise UserError(f"--format {CALIBRATED_FORMAT} is calibrated on training images: "
                        "pass --calibration DATASET (the model's training data, e.g. "
                        "fashion_mnist); this source does not record its dataset.")
    return calibration_sample(dataset, args.calibration_size or 500)


def _run_export(args):
    from cnnzoo.artifacts import load_export_source
    from cnnzoo.export import check_export_backend, export_model

    check_export_backend()  # Before a model is loaded: every format needs TensorFlow.
    model, metadata = load_export_source(_export_source(args.source, args.weights))
    saved_model = args.format == "saved_model"
    class_names = args.class_names.split(",") if args.class_names else None
    calibration = _calibration_images(args, metadata)
    try:
        written = export_model(model, args.output, format=args.format,
                               overwrite=args.overwrite, class_names=class_names,
                               metadata=metadata if saved_model else None,
                               version=args.version, calibration=calibration)
    except ImportError as error:  # ONNX export without its packages.
        raise UserError(str(error)) from None
    print(f"exported {metadata['model']} as {args.format} to {written}")


def _add_export_command(subparsers):
    from cnnzoo.export.formats import FORMATS  # Plain Python: no TensorFlow for the parser.

    parser = subparsers.add_parser(
        "export", help="export a trained model for serving (SavedModel, .keras, TFLite, ONNX)",
        description="Export a .keras model, a training workdir (its best.keras, with the "
                    "dataset, class names and test accuracy of run.json/evaluation.json in "
                    "the model card) or a registered model with shipped weights (NAME "
                    "--weights TAG, or NAME:TAG). A SavedModel takes uint8 images, encoded "
                    "image bytes or tf.Examples; TensorFlow Serving loads it as it is.")
    parser.add_argument("source", help="a .keras file, a training workdir, or a registered "
                                       "model (with --weights, or as NAME:TAG)")
    parser.add_argument("output", help="the SavedModel folder (with --version: the model's "
                                       "base folder), or the .keras/.tflite/.onnx file")
    parser.add_argument("--format", default="saved_model", choices=FORMATS,
                        help="default: saved_model; tflite_float16 and tflite_int8 quantise "
                             "the weights, tflite_full_int8 weights and activations "
                             "(calibrated on --calibration)")
    parser.add_argument("--version", type=_positive_int,
                        help="write OUTPUT/VERSION, the folder layout TensorFlow Serving "
                             "loads (saved_model only)")
    parser.add_argument("--calibration", metavar="DATASET",
                        help="tflite_full_int8: the training data to calibrate on (default: "
                             "the dataset the model card records)")
    parser.add_argument("--calibration-size", type=_positive_int, metavar="N",
                        help="tflite_full_int8: training images drawn to calibrate on "
                             "(default: 500)")
    parser.add_argument("--weights", metavar="TAG",
                        help="the shipped weights of the registered model SOURCE, e.g. "
                             "fashion_mnist (see docs/pretrained.md)")
    parser.add_argument("--class-names", help="comma-separated class names (default: the "
                                              "workdir's run.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export")
    parser.set_defaults(handler=_run_export)


def _run_predict(args):
    import pathlib

    from cnnzoo.artifacts import saved_model_of
    from cnnzoo.export import load_exported
    from cnnzoo.image_header import check_image_header

    with saved_model_of(args.export) as export:
        predictor = load_exported(export)  # Loaded into memory: the folder may go.
    files = [pathlib.Path(name) for name in args.images]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"no image file {str(file)!r}.")
    # Each header is checked before anything is decoded: one image may declare gigapixels.
    images = [f.read_bytes() for f in files]
    for file, data in zip(files, images):
        check_image_header(data, name=str(file))
    ids, names, probabilities = predictor.top_k(images, k=args.top_k)
    for index, file in enumerate(files):
        labels = names[index] if names else [str(i) for i in ids[index]]
        ranked = ", ".join(f"{label} {p:.3f}" for label, p in zip(labels, probabilities[index]))
        print(f"{file}: {ranked}")


def _add_predict_command(subparsers):
    parser = subparsers.add_parser(
        "predict", help="classify image files with an exported SavedModel",
        description="Print the top-K classes and probabilities of each image (PNG, JPEG, "
                    "GIF, BMP or WebP of any size; resized in the exported graph).")
    parser.add_argument("export", help="a SavedModel folder, a base folder of versions, or "
                                       "NAME:TAG (a registered model with shipped weights)")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--top-k", type=_positive_int, default=3,
                        help="classes shown per image (default: 3)")
    parser.set_defaults(handler=_run_predict)


def _port(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535; received "
                                         f"{text!r}")
    return value


def _run_serve(args):
    from cnnzoo.artifacts import saved_model_of
    from cnnzoo.serve import check_loopback, serve

    check_loopback(args.host)  # Before NAME:TAG is exported.
    with saved_model_of(args.export) as export:
        serve(export, host=args.host, port=args.port, model_name=args.model_name)


def _add_serve_command(subparsers):
    parser = subparsers.add_parser(
        "serve", help="serve an export over TensorFlow Serving's REST API (development)",
        description="A development server on loopback speaking TensorFlow Serving's REST "
                    "API: POST /v1/models/NAME:predict with {\"instances\": [...]} or "
                    "{\"inputs\": ...}, GET /v1/models/NAME for status.")
    parser.add_argument("export", help="a SavedModel folder, a base folder of versions, or "
                                       "NAME:TAG (a registered model with shipped weights)")
    parser.add_argument("--port", type=_port, default=8501,
                        help="0 to 65535, 0 picks a free one (default: 8501, as TF Serving)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default: "
                                                            "127.0.0.1)")
    parser.add_argument("--model-name", help="NAME in the URLs (default: the model's name)")
    parser.set_defaults(handler=_run_serve)


def _run_explain(args):
    from cnnzoo.explain import explain

    _check_output_file(args.out, "--out")
    result = explain(args.model, args.image, out=args.out, target=args.target,
                     layer=args.layer, top_k=args.top_k)
    ranked = ", ".join(f"{name} {p:.3f}" for name, p in result["top_classes"])
    print(f"{args.image}: {ranked}")
    print(f"Grad-CAM for {result['class_name']!r} at layer {result['layer']}: wrote "
          f"{result['out']}")


def _add_explain_command(subparsers):
    parser = subparsers.add_parser(
        "explain", help="show where a model looks in an image (Grad-CAM) and its top classes",
        description="Print the top classes of IMAGE and write a Grad-CAM figure (the image, "
                    "the heat map and their overlay) for the predicted class or --class. "
                    "Grad-CAM needs the Keras model: an export is explained through the "
                    "one it carries (older exports: a .keras file kept beside it).")
    parser.add_argument("model", help="a .keras file, a training workdir, NAME:TAG (shipped "
                                      "weights, e.g. mnist_cnn:fashion_mnist), or an export")
    parser.add_argument("image", help="an image file (PNG, JPEG, GIF, BMP or WebP; resized "
                                      "to the model's input)")
    parser.add_argument("--out", required=True, help="the PNG file to write")
    parser.add_argument("--class", dest="target", metavar="CLASS",
                        help="the class to explain, by name or index (default: the "
                             "predicted one)")
    parser.add_argument("--layer", help="the convolutional layer (default: the last one)")
    parser.add_argument("--top-k", type=_positive_int, default=3,
                        help="classes printed (default: 3)")
    parser.set_defaults(handler=_run_explain)


def _unfreeze_value(text):
    return int(text) if text.isdigit() else text


def _run_finetune(args):
    from cnnzoo.finetune import finetune_job

    settings = {"head_epochs": args.head_epochs, "epochs": args.epochs,
                "unfreeze": args.unfreeze, "learning_rate": args.learning_rate,
                "weights": args.weights}
    try:
        finetune_job(args.base, args.dataset, workdir=args.workdir, data_dir=args.data_dir,
                     limit=args.limit, batch_size=args.batch_size, seed=args.seed,
                     verbose=1 if sys.stdout.isatty() else 2,
                     **{key: value for key, value in settings.items() if value is not None})
    except KeyboardInterrupt:
        raise UserError("interrupted; run the same command again to resume") from None


def _add_finetune_command(subparsers):
    parser = subparsers.add_parser(
        "finetune", help="fine-tune a trained model onto a new dataset (transfer learning)",
        description="Replace BASE's classifier for the new classes, train it with the "
                    "backbone frozen (WORKDIR/head), then also the top of the backbone at a "
                    "tenth of the learning rate (WORKDIR/tune); evaluate on the test split. "
                    "Images are resized to BASE's input; rerunning resumes.")
    parser.add_argument("base", help="a model with shipped weights (mnist_cnn, lenet5, "
                                     "tutorial_3x3...), a .keras file or a training workdir")
    parser.add_argument("--dataset", required=True, help="the new dataset, e.g. digits")
    parser.add_argument("--workdir", required=True, help="run directory; rerunning resumes it")
    parser.add_argument("--weights", help="the shipped weights of a model name (default: "
                                          "fashion_mnist)")
    parser.add_argument("--head-epochs", type=_positive_int, metavar="N",
                        help="epochs of the new head alone (default: 2)")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="epochs with the top of the backbone unfrozen; 0: none (default: 2)")
    parser.add_argument("--unfreeze", type=_unfreeze_value, metavar="K|LAYER",
                        help="the top K layers with weights, or every layer after LAYER "
                             "(default: 2)")
    parser.add_argument("--learning-rate", type=_positive_number,
                        help="the head's learning rate (default: 0.001); the tuning uses 1/10")
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--seed", type=int, help="make the run reproducible")
    parser.add_argument("--data-dir", help="a folder searched first for the dataset's files")
    parser.add_argument("--limit", type=_positive_int,
                        help="use only the first N examples of each split (quick runs)")
    parser.set_defaults(handler=_run_finetune)


_VERBOSE_HELP = "show TensorFlow's own log lines (hidden by default)"


def build_parser():
    """Returns the argparse parser of the `cnnzoo` command."""
    parser = argparse.ArgumentParser(
        prog="cnnzoo", description="Classic CNN image classifiers for Keras 3: list, "
                                   "train, evaluate, export, predict and serve.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_list_command(subparsers)
    _add_train_command(subparsers)
    _add_evaluate_command(subparsers)
    _add_export_command(subparsers)
    _add_predict_command(subparsers)
    _add_serve_command(subparsers)
    _add_explain_command(subparsers)
    _add_finetune_command(subparsers)
    add_doctor_command(subparsers)
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    for command in subparsers.choices.values():  # Also after the command: `cnnzoo list -v`.
        command.add_argument("-v", "--verbose", action="store_true",
                             default=argparse.SUPPRESS, help=_VERBOSE_HELP)
    return parser


def main(argv=None):
    """Runs the command line; returns the process exit status.

    Nothing imports Keras or TensorFlow before the arguments are parsed, so `--help` and
    malformed options answer at once.
    """
    args = build_parser().parse_args(argv)
    if not args.verbose:
        from cnnzoo.tf_logs import quiet_tensorflow_logs

        quiet_tensorflow_logs()
    try:
        args.handler(args)
    except _user_error_types() as error:  # Evaluated once the command has run.
        if args.verbose:
            traceback.print_exc()
        print(f"cnnzoo {args.command}: error: {_error_line(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
