"""One table of bad inputs across cnnzoo's public surface, each refused clearly.

Every row does one bad thing through a public entry point (the builders, the data
readers, `fit`/`evaluate`, export, the exported predictor, the development server's HTTP
API, the command line) and names what must come back: the exact exception type (or the
HTTP status, or the CLI's exit status 2 with one `cnnzoo CMD: error:` line) and a word
its message must contain. Tiny models are built once per module, and every row fails
before any training step, so the whole table runs in seconds.
"""

import base64
import functools
import http.client
import io
import json
import os
import pathlib
import pickle
import shutil
import struct
import threading
import zipfile
import zlib
from typing import Callable, NamedTuple

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.data.files import DataFormatError
from cnnzoo.data.folders import ImageFolderError, read_image_folder
from cnnzoo.data.idx import IdxFormatError, read_idx
from cnnzoo.export import ImageInputError, export_model, export_saved_model, load_exported
from cnnzoo.serve import make_server
from cnnzoo.training.lock import WorkdirInUseError, workdir_lock

SHAPE = (8, 8, 1)
CLASSES = [f"c{i}" for i in range(3)]


class Http(NamedTuple):
    """An HTTP status the server must answer (with the word in its JSON "error")."""
    status: int


class Exit(NamedTuple):
    """A CLI exit status (with the word on stderr's last line)."""
    status: int


class Row(NamedTuple):
    id: str
    call: Callable  # Takes the module's `Ctx`; does the bad thing.
    expected: object  # An exception type (matched exactly), `Http` or `Exit`.
    word: str  # Must appear in the message (case-insensitive).


# -- helpers that make bad files ---------------------------------------------------------

def _png(pixels):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=None)
def png_bomb(width=5000, height=5000):
    """A valid gray PNG of `width`x`height` zeros: a few KB that decode to width*height bytes."""
    deflate = zlib.compressobj(9)
    rows = b"".join(deflate.compress(b"\0" * (width + 1)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", rows + deflate.flush()) + _png_chunk(b"IEND", b""))


def image_folder(root, name, bad_file=None, bad_bytes=b""):
    """An image folder of two gray 8x8 classes, plus `bad_file` holding `bad_bytes`."""
    folder = root / name
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        (folder / label / "0.png").write_bytes(_png(rng.integers(0, 256, (8, 8), np.uint8)))
    if bad_file:
        (folder / bad_file).write_bytes(bad_bytes)
    return str(folder)


def keras_file_with_config(ctx, name, config):
    """A copy of the module's `.keras` file whose config.json holds `config` (bytes)."""
    path = ctx.tmp / name
    with zipfile.ZipFile(ctx.keras_file) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.namelist():
            target.writestr(item, config if item == "config.json" else source.read(item))
    return str(path)


def renamed_class_config(ctx, module, class_name):
    config = json.loads(zipfile.ZipFile(ctx.keras_file).read("config.json"))
    config.update(module=module, class_name=class_name)
    return json.dumps(config).encode()


def truncated_copy(source, target, size):
    target.write_bytes(source.read_bytes()[:size])
    return str(target)


class Ctx:
    """What the rows share: a tiny model, its files, an export and a running server."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.x = np.random.default_rng(0).integers(0, 256, (6, *SHAPE), np.uint8)
        self.y = np.array([0, 1, 2, 0, 1, 2])
        self.model = cnnzoo.build("tutorial_5x5", input_shape=SHAPE, num_classes=3)
        self.keras_file = tmp / "model.keras"
        self.model.save(self.keras_file)
        self.export = export_saved_model(self.model, tmp / "export", class_names=CLASSES)
        self.predictor = load_exported(self.export)
        self.server = make_server(self.export, port=0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.png = _png(np.zeros((8, 8), np.uint8))
        self._count = 0

    def path(self, name):
        """A fresh path under the module's folder (each row its own)."""
        self._count += 1
        return self.tmp / f"{self._count}-{name}"

    def truncated_export(self):
        """A copy of the export whose variables data file is cut to 100 bytes."""
        copy = self.path("truncated_export")
        shutil.copytree(self.export, copy)
        data = next((copy / "variables").glob("variables.data-*"))
        data.write_bytes(data.read_bytes()[:100])
        return str(copy)

    def request(self, method, path, body=b"", headers=None):
        """Returns `(status, JSON reply)` of one raw HTTP request to the server."""
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request(method, f"/v1/models/{self.server.service.name}{path}",
                               body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def predict_json(self, payload):
        return self.request("POST", ":predict", json.dumps(payload).encode(),
                            {"Content-Type": "application/json"})

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    context = Ctx(tmp_path_factory.mktemp("bad_inputs"))
    yield context
    context.close()


def cli(*argv):
    """Runs `cnnzoo ARGV` in-process; returns its exit status (argparse's too)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as error:
        return error.code


def fit_tiny(ctx, train=None, **kwargs):
    """`cnnzoo.fit` of tutorial_5x5 on the tiny arrays, into a fresh workdir."""
    kwargs.setdefault("workdir", ctx.path("run"))
    kwargs.setdefault("epochs", 1)
    kwargs.setdefault("num_classes", 3)
    return cnnzoo.fit("tutorial_5x5", train if train is not None else (ctx.x, ctx.y),
                      verbose=0, tensorboard=False, **kwargs)


def fit_while_locked(ctx):
    workdir = ctx.path("locked")
    held, done = threading.Event(), threading.Event()

    def hold():
        with workdir_lock(workdir):
            held.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    try:
        fit_tiny(ctx, workdir=workdir)
    finally:
        done.set()
        holder.join()


def later_bad_label(ctx):
    """A `tf.data.Dataset` of two batches whose second holds the label 7 (of 3 classes)."""
    return tf.data.Dataset.from_tensor_slices((ctx.x, np.array([0, 1, 2, 0, 1, 7]))).batch(3)


def nested(depth):
    return ("[" * depth + "]" * depth).encode()


def idx_file(ctx, data):
    path = ctx.path("x-idx3-ubyte")
    path.write_bytes(data)
    return str(path)


def cifar_python_with(ctx, payload):
    folder = ctx.path("cifar")
    folder.mkdir()
    (folder / "test_batch").write_bytes(payload)
    return str(folder)


class _System:
    """Pickles as a call of os.system: what a crafted CIFAR batch may hold."""

    def __reduce__(self):
        import os

        return os.system, ("true",)


def lying_gzip_idx(ctx):
    path = ctx.path("lie-idx3-ubyte.gz")
    header = bytes([0, 0, 8, 3]) + np.array([60000, 1000, 1000], ">u4").tobytes()
    path.write_bytes(zlib.compress(header, wbits=31))
    return str(path)


# -- issue 27: training and resume (helpers) ----------------------------------------------

def broken_workdir(ctx, *, weights="whole", state='{"epoch": 1, "batch": 0}', run=None,
                   history=None):
    """A workdir as a one-epoch run of `fit_tiny` leaves it, with one file broken for real.

    `weights`: "whole" (the module model's weights, which fit_tiny's model takes),
    "missing" or "truncated"; `state`, `run`, `history`: the text of the backup's epoch
    file, run.json and history.csv (None: none, or for run.json a record of a run at
    learning rate 0.001).
    """
    workdir = ctx.path("broken-run")
    (workdir / "backup").mkdir(parents=True)
    (workdir / "backup" / "training_metadata.json").write_text(state)
    if weights != "missing":
        path = workdir / "backup" / "latest.weights.h5"
        ctx.model.save_weights(path)
        if weights == "truncated":
            path.write_bytes(path.read_bytes()[:2000])
    (workdir / "run.json").write_text(run or json.dumps({
        "model": "tutorial_5x5", "epochs": 1, "recipe_now": {
            "optimizer": "adam", "learning_rate": 0.001, "schedule": "constant",
            "warmup_epochs": 0, "weight_decay": None, "batch_size": 6}}))
    if history is not None:
        (workdir / "history.csv").write_bytes(history)
    return workdir


def corrupted_weights_file(ctx):
    """A copy of the module model's `.weights.h5` whose first kernel's bytes read 3.4e38."""
    import h5py

    path = ctx.path("mine.weights.h5")
    ctx.model.save_weights(path)
    with h5py.File(path, "r") as handle:
        kernels = []
        handle.visititems(lambda name, item: kernels.append(name)
                          if isinstance(item, h5py.Dataset) and name.endswith("vars/0") else None)
        offset = handle[kernels[0]].id.get_offset()
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(b"\x7f\x7f\x7f\x7f")
    return str(path)


# -- issue 27: export, server, image headers (helpers) ------------------------------------

def in_folder(ctx, call):
    """Runs `call()` inside a fresh folder holding a user's file, and back; returns its result.

    An empty export path once meant the current folder: a regression must not take the
    checkout with it.
    """
    folder = users_folder(ctx.path("cwd"))
    previous = os.getcwd()
    os.chdir(folder)
    try:
        return call()
    finally:
        os.chdir(previous)


def users_folder(folder):
    """`folder` holding a user's notes.txt (made with its parents)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("mine")
    return folder


def raw_http(ctx, headers, body=b"{}"):
    """Returns `(status, JSON reply)` of a predict request sent with `headers` as they are."""
    host, port = ctx.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.putrequest("POST", f"/v1/models/{ctx.server.service.name}:predict")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@functools.lru_cache(maxsize=None)
def jpeg_behind_app_segments(width=20000, height=20000):
    """A JPEG declaring `width`x`height`, its frame header behind two 64 KB APP segments."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    frame = jpeg.index(b"\xff\xc0")
    jpeg = jpeg[:frame + 5] + struct.pack(">HH", height, width) + jpeg[frame + 9:]
    segments = b"".join(bytes([0xFF, marker]) + (65535).to_bytes(2, "big") + b"\0" * 65533
                        for marker in (0xE2, 0xE3))
    return jpeg[:2] + segments + jpeg[2:]


@functools.lru_cache(maxsize=None)
def png_16_bit_rgba(width=4096, height=4096):
    """A PNG of 16-bit RGBA zeros: 127 KB, within the pixel limit, 128 MiB decoded."""
    deflate = zlib.compressobj(9)
    rows = b"".join(deflate.compress(b"\0" * (1 + 8 * width)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0))
            + _png_chunk(b"IDAT", rows + deflate.flush()) + _png_chunk(b"IEND", b""))


def b64_instance(data):
    return {"instances": [{"b64": base64.b64encode(data).decode()}]}


# -- issue 27: data (helpers) ---------------------------------------------------------------

def damaged_folder(ctx, name, damage):
    """An `image_folder` whose class `a` then gets `damage(path of class a)` done to it."""
    folder = pathlib.Path(image_folder(ctx.tmp, f"{ctx.path(name).name}"))
    damage(folder / "a")
    return str(folder)


def write_at(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def split_folders(ctx, train, test):
    """A folder of train/ and test/ image folders with the given class names."""
    root = ctx.path("splits")
    for split, classes in (("train", train), ("test", test)):
        for name in classes:
            write_at(root / split / name / "0.png", ctx.png)
    return str(root)


def npz_with_labels(ctx, labels):
    path = ctx.path("labels.npz")
    np.savez(path, x_train=ctx.x[..., 0], y_train=labels, x_test=ctx.x[..., 0],
             y_test=ctx.y)
    return str(path)


def idx_folder_with_label(ctx, label):
    from cnnzoo.data.idx import write_idx

    folder = ctx.path("idx")
    folder.mkdir()
    labels = np.arange(30) % 10
    labels[7] = label
    write_idx(str(folder / "train-images-idx3-ubyte"), np.zeros((30, 4, 4), np.uint8))
    write_idx(str(folder / "train-labels-idx1-ubyte"), labels.astype(np.uint8))
    return str(folder)


def later_batch(ctx, images):
    """A dataset of the module's images whose second batch is `images` (3 of them)."""
    first = tf.data.Dataset.from_tensor_slices((ctx.x[:3].astype("float32"), ctx.y[:3]))
    later = tf.data.Dataset.from_tensor_slices((images.astype("float32"), ctx.y[3:]))
    return first.batch(3).concatenate(later.batch(3))


# -- the table ---------------------------------------------------------------------------

ROWS = [
    # Builders.
    Row("build-unknown-name", lambda c: cnnzoo.build("resnt20"), ValueError, "resnet20"),
    Row("build-num-classes-zero", lambda c: cnnzoo.build("mnist_cnn", num_classes=0),
        ValueError, "num_classes"),
    Row("build-num-classes-bool", lambda c: cnnzoo.build("mnist_cnn", num_classes=True),
        ValueError, "num_classes"),
    Row("build-input-too-small", lambda c: cnnzoo.build("vgg16", input_shape=(8, 8, 3)),
        ValueError, "input"),
    Row("build-input-rank", lambda c: cnnzoo.build("mnist_cnn", input_shape=(28, 28)),
        ValueError, "input_shape"),
    Row("build-input-zero-channels", lambda c: cnnzoo.build("mnist_cnn", input_shape=(28, 28, 0)),
        ValueError, "input_shape"),
    Row("build-unknown-option", lambda c: cnnzoo.build("mnist_cnn", dropuot=0.5),
        ValueError, "dropuot"),
    Row("build-dropout-above-1", lambda c: cnnzoo.build("mnist_cnn", dropout=1.5),
        ValueError, "dropout"),
    Row("build-unknown-weights", lambda c: cnnzoo.build("mnist_cnn", weights="imagenet"),
        ValueError, "weights"),
    Row("build-bad-pooling", lambda c: cnnzoo.build("resnet20", include_top=False,
                                                     pooling="median"), ValueError, "pooling"),
    Row("model-card-unknown", lambda c: cnnzoo.model_card("vgg17"), ValueError, "vgg"),
    # Data sources and their arguments.
    Row("dataset-unknown-name", lambda c: cnnzoo.load_dataset("fashon_mnist"),
        ValueError, "did you mean ['fashion_mnist'"),
    Row("dataset-bad-split", lambda c: cnnzoo.load_dataset("digits", "valid"), ValueError,
        "split='valid'"),
    Row("dataset-batch-size-zero", lambda c: cnnzoo.load_dataset((c.x, c.y), batch_size=0),
        ValueError, "batch_size"),
    Row("dataset-validation-split-1", lambda c: cnnzoo.load_dataset(
        (c.x, c.y), validation_split=1.0), ValueError, "validation_split"),
    Row("dataset-limit-zero", lambda c: cnnzoo.load_dataset((c.x, c.y), limit=0),
        ValueError, "limit"),
    Row("dataset-unknown-augment", lambda c: cnnzoo.load_dataset((c.x, c.y), augment="wild"),
        ValueError, "augment"),
    Row("arrays-label-count", lambda c: cnnzoo.load_arrays((c.x, c.y[:4])), ValueError, "6"),
    Row("arrays-negative-label", lambda c: cnnzoo.load_arrays((c.x, -c.y)), ValueError,
        "label"),
    Row("arrays-nan-pixel", lambda c: cnnzoo.load_arrays(
        (np.where(np.arange(c.x.size).reshape(c.x.shape) == 7, np.nan, c.x), c.y)),
        ValueError, "NaN"),
    Row("arrays-empty", lambda c: cnnzoo.load_arrays((c.x[:0], c.y[:0])), ValueError,
        "0 images"),
    Row("dataset-device-file", lambda c: cnnzoo.load_arrays("/dev/zero"), DataFormatError,
        "/dev/zero"),
    Row("idx-bad-magic", lambda c: read_idx(idx_file(c, b"\x1f\x00\x08\x01" + bytes(8))),
        IdxFormatError, "magic"),
    Row("idx-truncated", lambda c: read_idx(idx_file(
        c, bytes([0, 0, 8, 1]) + np.array([10], ">u4").tobytes() + bytes(4))),
        IdxFormatError, "truncated"),
    Row("idx-gzip-lies-about-size", lambda c: read_idx(lying_gzip_idx(c)), IdxFormatError,
        "gzip"),
    Row("idx-empty-shape-overflows", lambda c: read_idx(idx_file(
        c, bytes([0, 0, 8, 3]) + np.array([0, 2**32 - 1, 2**32 - 1], ">u4").tobytes())),
        IdxFormatError, "x-idx3-ubyte"),
    Row("cifar-binary-truncated", lambda c: cnnzoo.load_arrays(
        (lambda folder: (folder.mkdir(), (folder / "test_batch.bin").write_bytes(bytes(3000)),
                         str(folder))[-1])(c.path("cifar_bin")), "test"),
        DataFormatError, "records"),
    Row("cifar-python-unsafe-pickle", lambda c: cnnzoo.load_arrays(
        cifar_python_with(c, pickle.dumps(_System())), "test"), DataFormatError, "refusing"),
    Row("npz-not-a-zip", lambda c: cnnzoo.load_arrays(
        (lambda path: (path.write_bytes(b"PK\x03\x04 cut"), str(path))[-1])(c.path("d.npz"))),
        DataFormatError, "d.npz"),
    Row("npz-missing-arrays", lambda c: cnnzoo.load_arrays(
        (lambda path: (np.savez(path, a=c.x), str(path))[-1])(c.path("data.npz"))),
        DataFormatError, "x_train"),
    Row("folder-corrupt-png", lambda c: read_image_folder(image_folder(
        c.path("f"), "pets", "b/1.png", _png(np.zeros((8, 8), np.uint8))[:40])),
        ImageFolderError, "1.png"),
    Row("folder-png-cut-short", lambda c: read_image_folder(image_folder(
        c.path("f"), "pets", "b/1.png",
        _png(np.random.default_rng(1).integers(0, 256, (64, 64), np.uint8))[:1500]),
        color_mode="grayscale"), ImageFolderError, "1.png"),
    Row("folder-decompression-bomb", lambda c: read_image_folder(image_folder(
        c.path("f"), "pets", "b/1.png", png_bomb())), ImageFolderError, "5000x5000"),
    Row("folder-stray-text-file", lambda c: read_image_folder(image_folder(
        c.path("f"), "pets", "a/notes.txt", b"hello")), ImageFolderError, "notes.txt"),
    Row("folder-empty-class", lambda c: read_image_folder(
        (lambda root: ((root / "pets" / "c").mkdir(), str(root / "pets"))[-1])(
            pathlib.Path(image_folder(c.path("f"), "pets")).parent)),
        ImageFolderError, "empty"),
    # fit and evaluate arguments.
    Row("fit-epochs-zero", lambda c: fit_tiny(c, epochs=0), ValueError, "epochs"),
    Row("fit-unknown-model", lambda c: cnnzoo.fit("mnist_cn", (c.x, c.y), epochs=1,
                                                  num_classes=3, workdir=c.path("run")),
        ValueError, "mnist_cnn"),
    Row("fit-learning-rate-nan", lambda c: fit_tiny(c, learning_rate=float("nan")),
        ValueError, "learning_rate"),
    Row("fit-unknown-optimizer", lambda c: fit_tiny(c, optimizer="adamx"), ValueError,
        "adamx"),
    Row("fit-unknown-schedule", lambda c: fit_tiny(c, schedule="linear"), ValueError,
        "schedule"),
    Row("fit-empty-data", lambda c: fit_tiny(c, (c.x[:0], c.y[:0])), ValueError, "0 images"),
    Row("fit-workdir-in-use", fit_while_locked, WorkdirInUseError, "workdir"),
    Row("fit-label-out-of-range-in-a-later-batch", lambda c: fit_tiny(c, later_bad_label(c)),
        ValueError, "batch 1 (counting from 0) has label 7"),
    Row("evaluate-wrong-image-shape", lambda c: cnnzoo.evaluate(
        c.model, (np.zeros((2, 9, 9, 1), np.uint8), c.y[:2])), ValueError, "shape"),
    Row("evaluate-label-out-of-range", lambda c: cnnzoo.evaluate(c.model, (c.x, c.y + 5)),
        ValueError, "label"),
    Row("evaluate-label-out-of-range-in-a-later-batch", lambda c: cnnzoo.evaluate(
        c.model, later_bad_label(c)), ValueError, "batch 1 (counting from 0) has label 7"),
    Row("evaluate-unknown-tta", lambda c: cnnzoo.evaluate(c.model, (c.x, c.y), tta="rotate"),
        ValueError, "tta"),
    Row("evaluate-missing-path", lambda c: cnnzoo.evaluate(str(c.path("none.keras")),
                                                           (c.x, c.y)),
        FileNotFoundError, "none.keras"),
    Row("load-keras-truncated", lambda c: cnnzoo.load_model(truncated_copy(
        c.keras_file, c.path("cut.keras"), 5000)), ValueError, "not a complete"),
    Row("load-keras-config-not-json", lambda c: cnnzoo.load_model(
        keras_file_with_config(c, "nojson.keras", b"{oops")), ValueError, "JSON"),
    Row("load-keras-config-a-list", lambda c: cnnzoo.load_model(
        keras_file_with_config(c, "list.keras", b"[1, 2]")), ValueError, "class_name"),
    Row("load-keras-unsafe-class", lambda c: cnnzoo.load_model(keras_file_with_config(
        c, "unsafe.keras", renamed_class_config(c, "os", "system"))), ValueError, "system"),
    Row("load-keras-unknown-class", lambda c: cnnzoo.load_model(keras_file_with_config(
        c, "unknown.keras", renamed_class_config(c, "keras.layers", "NoSuchLayer"))),
        ValueError, "NoSuchLayer"),
    # Export paths and arguments.
    Row("export-unknown-format", lambda c: export_model(c.model, c.path("m"), format="pdf"),
        ValueError, "pdf"),
    Row("export-suffix-mismatch", lambda c: export_model(c.model, c.path("m.tflite"),
                                                         format="keras"), ValueError, ".keras"),
    Row("export-exists", lambda c: export_saved_model(c.model, c.export), FileExistsError,
        "exists"),
    Row("export-class-names-count", lambda c: export_saved_model(
        c.model, c.path("e"), class_names=["a"]), ValueError, "class_names"),
    Row("export-class-names-string", lambda c: export_saved_model(
        c.model, c.path("e"), class_names="abc"), ValueError, "class_names"),
    Row("export-metadata-not-json", lambda c: export_saved_model(
        c.model, c.path("e"), metadata={"when": object()}), ValueError, "metadata"),
    Row("export-version-zero", lambda c: export_saved_model(c.model, c.path("e"), version=0),
        ValueError, "version"),
    Row("export-not-a-model", lambda c: export_saved_model("model.keras", c.path("e")),
        ValueError, "keras.Model"),
    Row("export-parent-is-a-file", lambda c: export_model(
        c.model, (lambda f: (f.write_text("x"), f / "m.keras")[-1])(c.path("file")),
        format="keras"), NotADirectoryError, "file"),
    Row("load-exported-missing", lambda c: load_exported(c.path("nothing")),
        FileNotFoundError, "nothing"),
    Row("load-exported-not-saved-model", lambda c: load_exported(c.tmp), ValueError,
        "saved_model.pb"),
    Row("load-exported-truncated-variables", lambda c: load_exported(c.truncated_export()),
        ValueError, "truncated_export"),
    # The exported predictor.
    Row("predict-wrong-shape", lambda c: c.predictor.predict(np.zeros((1, 9, 9, 1), np.uint8)),
        ImageInputError, "shape"),
    Row("predict-above-255", lambda c: c.predictor.predict(np.full((1, *SHAPE), 300.0)),
        ImageInputError, "255"),
    Row("predict-nan", lambda c: c.predictor.predict(np.full((1, *SHAPE), np.nan)),
        ImageInputError, "NaN"),
    Row("predict-scalar", lambda c: c.predictor.predict(np.uint8(0)), ImageInputError,
        "shape"),
    Row("predict-strings", lambda c: c.predictor.predict(np.full((1, *SHAPE), "a")),
        ImageInputError, "dtype"),
    Row("predict-ragged", lambda c: c.predictor.predict([[[0]], [[0, 0]]]), ImageInputError,
        "ragged"),
    Row("predict-bytes-not-an-image", lambda c: c.predictor.predict([b"GIF89a nonsense"]),
        ImageInputError, "image 0"),
    Row("predict-batch-size-zero", lambda c: c.predictor.predict(c.x, batch_size=0),
        ValueError, "batch_size"),
    Row("top-k-zero", lambda c: c.predictor.top_k(c.x, k=0), ValueError, "k must"),
    Row("top-k-above-classes", lambda c: c.predictor.top_k(c.x, k=4), ValueError, "1 to 3"),
    Row("run-signature-unknown", lambda c: c.predictor.run_signature("serving_x", {}),
        ValueError, "serving_x"),
    # The development server's HTTP API.
    Row("http-not-json", lambda c: c.request("POST", ":predict", b"{nope"), Http(400), "JSON"),
    Row("http-deep-nesting", lambda c: c.request("POST", ":predict", nested(100000)),
        Http(400), "nested"),
    Row("http-booleans-as-pixels", lambda c: c.predict_json(
        {"instances": [[[[True]] * 8] * 8]}), Http(400), "boolean"),
    Row("http-both-instances-and-inputs", lambda c: c.predict_json(
        {"instances": [], "inputs": []}), Http(400), "either"),
    Row("http-wrong-image-shape", lambda c: c.predict_json({"instances": [[[0]]]}),
        Http(400), "shape"),
    Row("http-bad-base64", lambda c: c.predict_json({"instances": [{"b64": "@@@"}]}),
        Http(400), "base64"),
    Row("http-image-bomb", lambda c: c.predict_json(
        {"instances": [{"b64": base64.b64encode(png_bomb()).decode()}]}), Http(413), "5000x5000"),
    Row("http-too-many-instances", lambda c: c.predict_json(
        {"instances": [{"b64": ""}] * 1025}), Http(413), "1025"),
    Row("http-unknown-signature", lambda c: c.predict_json(
        {"instances": c.x[:1].tolist(), "signature_name": "nope"}), Http(400), "nope"),
    Row("http-body-too-large", lambda c: c.request(
        "POST", ":predict", b"", {"Content-Length": str(64 << 20)}), Http(413), "limit"),
    Row("http-no-content-length", lambda c: c.request(
        "POST", ":predict", None, {"Transfer-Encoding": "chunked"}), Http(411),
        "Content-Length"),
    Row("http-get-predict", lambda c: c.request("GET", ":predict"), Http(405), "POST"),
    Row("http-unknown-model", lambda c: c.request("GET", "x"), Http(404), "Servable"),
    # The command line.
    Row("cli-learning-rate-nan", lambda c: cli("train", "mnist_cnn", "--dataset", "digits",
                                               "--learning-rate", "nan"), Exit(2), "finite"),
    Row("cli-epochs-zero", lambda c: cli("train", "mnist_cnn", "--dataset", "digits",
                                         "--epochs", "0"), Exit(2), "positive integer"),
    Row("cli-port-out-of-range", lambda c: cli("serve", c.export, "--port", "70000"),
        Exit(2), "65535"),
    Row("cli-train-device-file-dataset", lambda c: cli(
        "train", "tutorial_5x5", "--dataset", "/dev/zero", "--workdir", c.path("run")),
        Exit(2), "/dev/zero"),
    Row("cli-train-unknown-model", lambda c: cli("train", "mnist_cn", "--dataset", "digits"),
        Exit(2), "mnist_cnn"),
    Row("cli-list-no-match", lambda c: cli("list", "nothing*"), Exit(2), "nothing*"),
    Row("cli-evaluate-truncated-keras", lambda c: cli(
        "evaluate", truncated_copy(c.keras_file, c.path("cut.keras"), 5000),
        "--dataset", "digits"), Exit(2), "not a complete"),
    Row("cli-evaluate-unsafe-keras", lambda c: cli("evaluate", keras_file_with_config(
        c, "unsafe2.keras", renamed_class_config(c, "os", "system")), "--dataset", "digits"),
        Exit(2), "system"),
    Row("cli-evaluate-validation-without-share", lambda c: cli(
        "evaluate", c.keras_file, "--dataset", "digits", "--split", "validation"),
        Exit(2), "--validation-split"),
    Row("cli-evaluate-output-is-a-folder", lambda c: cli(
        "evaluate", c.keras_file, "--dataset", "digits", "--output", c.tmp), Exit(2),
        "not a regular file"),
    Row("cli-export-config-not-json", lambda c: cli(
        "export", keras_file_with_config(c, "nojson2.keras", b"{"), c.path("out")), Exit(2),
        "JSON"),
    Row("cli-export-format-suffix", lambda c: cli(
        "export", c.keras_file, c.path("m.tflite"), "--format", "keras"), Exit(2), ".keras"),
    Row("cli-predict-missing-image", lambda c: cli("predict", c.export, c.path("none.png")),
        Exit(2), "none.png"),
    Row("cli-predict-image-bomb", lambda c: cli(
        "predict", c.export, (lambda p: (p.write_bytes(png_bomb()), p)[-1])(c.path("b.png"))),
        Exit(2), "5000x5000"),
    Row("cli-predict-truncated-export", lambda c: cli("predict", c.truncated_export(),
                                                      c.keras_file), Exit(2), "truncated_export"),
    Row("cli-evaluate-truncated-export", lambda c: cli(
        "evaluate", c.truncated_export(), "--dataset", "digits"), Exit(2), "truncated_export"),
    Row("cli-serve-truncated-export", lambda c: cli("serve", c.truncated_export(), "--port",
                                                    "0"), Exit(2), "truncated_export"),
    Row("cli-serve-not-loopback", lambda c: cli("serve", c.export, "--host", "8.8.8.8"),
        Exit(2), "loopback"),
    Row("cli-explain-out-is-a-folder", lambda c: cli(
        "explain", c.keras_file, c.path("x.png"), "--out", c.tmp), Exit(2),
        "not a regular file"),
    Row("cli-explain-image-bomb", lambda c: cli(
        "explain", c.keras_file, (lambda p: (p.write_bytes(png_bomb()), p)[-1])(c.path("b.png")),
        "--out", c.path("cam.png")),
        Exit(2), "5000x5000"),
    # A rename over a FIFO (or a device, as root) would replace it with a plain file.
    Row("export-target-is-a-fifo", lambda c: export_model(
        c.model, (lambda f: (os.mkfifo(f), f)[-1])(c.path("m.keras")), format="keras",
        overwrite=True), ValueError, "FIFO"),
    # -- issue 27: training and resume
    Row("fit-workdir-empty", lambda c: fit_tiny(c, workdir=""), ValueError, "current folder"),
    Row("fit-workdir-none", lambda c: fit_tiny(c, workdir=None), TypeError, "workdir"),
    Row("fit-steps-per-epoch-zero", lambda c: fit_tiny(c, steps_per_epoch=0), ValueError,
        "steps_per_epoch"),
    Row("fit-early-stopping-negative", lambda c: fit_tiny(c, early_stopping=-1), ValueError,
        "early_stopping"),
    Row("fit-batch-size-zero", lambda c: fit_tiny(c, batch_size=0), ValueError, "batch_size"),
    Row("fit-batch-size-negative", lambda c: fit_tiny(c, batch_size=-1), ValueError,
        "batch_size=-1"),
    Row("fit-learning-rate-inf", lambda c: fit_tiny(c, learning_rate=float("inf")),
        ValueError, "finite"),
    Row("fit-steps-per-execution-zero", lambda c: fit_tiny(c, steps_per_execution=0),
        ValueError, "steps_per_execution"),
    Row("fit-backup-weights-missing", lambda c: fit_tiny(
        c, workdir=broken_workdir(c, weights="missing"), epochs=2), ValueError,
        "latest.weights.h5"),
    Row("fit-backup-weights-truncated", lambda c: fit_tiny(
        c, workdir=broken_workdir(c, weights="truncated"), epochs=2), ValueError,
        "latest.weights.h5"),
    Row("fit-backup-epoch-not-a-number", lambda c: fit_tiny(
        c, workdir=broken_workdir(c, state='{"epoch": "abc"}'), epochs=2), ValueError,
        "training_metadata.json"),
    Row("fit-run-json-a-list", lambda c: fit_tiny(c, workdir=broken_workdir(c, run="[1]"),
                                                  epochs=2), ValueError, "run.json"),
    Row("fit-history-corrupt", lambda c: fit_tiny(
        c, workdir=broken_workdir(c, history=b"epoch,loss\n1,\xff\n"), epochs=2),
        ValueError, "history.csv"),
    Row("fit-resume-new-recipe", lambda c: fit_tiny(
        c, workdir=broken_workdir(c), epochs=2, learning_rate=0.01), ValueError,
        "new_recipe=True"),
    Row("build-unknown-metric", lambda c: cnnzoo.build("mnist_cnn", metrics=["nope"]),
        ValueError, "nope"),
    Row("build-name-with-slash", lambda c: cnnzoo.build("mnist_cnn", name="a/b"), ValueError,
        "name"),
    Row("build-input-shape-bool", lambda c: cnnzoo.build("mnist_cnn", input_shape=(True, 28, 1)),
        ValueError, "True"),
    Row("build-input-too-large", lambda c: cnnzoo.build(
        "mnist_cnn", input_shape=(100000, 100000, 3)), ValueError, "GiB"),
    Row("build-steps-per-execution-zero", lambda c: cnnzoo.build(
        "mnist_cnn", steps_per_execution=0), ValueError, "steps_per_execution"),
    Row("build-weights-corrupted-bytes", lambda c: cnnzoo.build(
        "tutorial_5x5", input_shape=SHAPE, num_classes=3, weights=corrupted_weights_file(c)),
        ValueError, "corrupted"),
    # -- issue 27: export, server, image headers
    Row("export-empty-path", lambda c: in_folder(c, lambda: export_saved_model(
        c.model, "", overwrite=True)), ValueError, "empty"),
    Row("export-overwrite-users-folder", lambda c: export_saved_model(
        c.model, users_folder(c.path("mine")), overwrite=True), FileExistsError, "notes.txt"),
    Row("export-overwrite-users-version-folder", lambda c: export_saved_model(
        c.model, users_folder(c.path("base") / "1").parent, version=1, overwrite=True),
        FileExistsError, "notes.txt"),
    Row("export-overwrite-users-file", lambda c: export_model(
        c.model, (lambda p: (p.write_text("notes"), p)[-1])(c.path("m.keras")),
        format="keras", overwrite=True), FileExistsError, "not a keras file"),
    Row("cli-export-empty-output", lambda c: in_folder(c, lambda: cli(
        "export", c.keras_file, "", "--overwrite")), Exit(2), "empty"),
    Row("cli-export-overwrite-users-folder", lambda c: cli(
        "export", c.keras_file, users_folder(c.path("out") / "1").parent, "--version", "1",
        "--overwrite"), Exit(2), "notes.txt"),
    Row("http-duplicate-content-length", lambda c: raw_http(
        c, [("Content-Length", "2"), ("Content-Length", "2")]), Http(400), "Content-Length"),
    Row("http-content-length-and-transfer-encoding", lambda c: raw_http(
        c, [("Content-Length", "2"), ("Transfer-Encoding", "chunked")]), Http(400),
        "Transfer-Encoding"),
    Row("http-image-size-unknown", lambda c: c.predict_json(b64_instance(b"\xff\xd8\xff")),
        Http(400), "is not a PNG"),
    Row("http-jpeg-bomb-behind-app-segments", lambda c: c.predict_json(
        b64_instance(jpeg_behind_app_segments())), Http(413), "20000x20000"),
    Row("http-png-16-bit-rgba", lambda c: c.predict_json(b64_instance(png_16_bit_rgba())),
        Http(413), "16 bits"),
    Row("cli-predict-jpeg-bomb-behind-app-segments", lambda c: cli(
        "predict", c.export, (lambda p: (p.write_bytes(jpeg_behind_app_segments()), p)[-1])(
            c.path("b.jpg"))), Exit(2), "20000x20000"),
    # -- issue 27: data
    Row("folder-test-class-not-in-train", lambda c: cnnzoo.load_arrays(
        split_folders(c, ["a", "b"], ["a", "misc"]), "test"), ImageFolderError, "misc"),
    Row("folder-fifo", lambda c: read_image_folder(damaged_folder(
        c, "fifo", lambda a: os.mkfifo(a / "f.png"))), ImageFolderError, "FIFO"),
    Row("folder-link-to-dev-zero", lambda c: read_image_folder(damaged_folder(
        c, "zero", lambda a: (a / "z.png").symlink_to("/dev/zero"))), ImageFolderError,
        "character device"),
    Row("folder-bomb-in-a-sub-folder", lambda c: read_image_folder(damaged_folder(
        c, "subbomb", lambda a: write_at(a / "sub" / "b.png", png_bomb()))),
        ImageFolderError, "5000x5000"),
    Row("folder-bomb-hidden", lambda c: read_image_folder(damaged_folder(
        c, "hiddenbomb", lambda a: write_at(a / ".b.png", png_bomb()))), ImageFolderError,
        "5000x5000"),
    Row("folder-broken-link", lambda c: read_image_folder(damaged_folder(
        c, "broken", lambda a: (a / "gone.png").symlink_to("nowhere.png"))),
        ImageFolderError, "broken symbolic link"),
    Row("folder-looping-link", lambda c: read_image_folder(damaged_folder(
        c, "loop", lambda a: (a / "loop.png").symlink_to("loop.png"))), ImageFolderError,
        "back to itself"),
    Row("dataset-image-size-zero", lambda c: cnnzoo.load_dataset(
        image_folder(c.tmp, c.path("size0").name), image_size=(0, 0)), ValueError,
        "image_size"),
    Row("dataset-image-size-huge", lambda c: cnnzoo.load_dataset(
        image_folder(c.tmp, c.path("sizeh").name), image_size=(100000, 100000)), ValueError,
        "limit"),
    Row("dataset-seed-string", lambda c: cnnzoo.load_dataset((c.x, c.y), seed="abc"),
        ValueError, "seed"),
    Row("npz-fractional-labels", lambda c: cnnzoo.load_arrays(npz_with_labels(
        c, c.y + 0.5)), ValueError, "0.5"),
    Row("npz-label-2-to-the-40", lambda c: cnnzoo.load_arrays(npz_with_labels(
        c, np.where(c.y == 2, 2 ** 40, c.y))), ValueError, "2**31"),
    Row("idx-label-200", lambda c: cnnzoo.load_arrays(idx_folder_with_label(c, 200)),
        ValueError, "200"),
    Row("arrays-duplicate-class-names", lambda c: cnnzoo.load_arrays(
        (c.x, c.y), class_names=["a", "b", "a"]), ValueError, "once"),
    Row("arrays-complex-pixels", lambda c: cnnzoo.load_arrays((c.x + 1j, c.y)), ValueError,
        "complex"),
    Row("fit-pixels-above-255-in-a-later-batch", lambda c: fit_tiny(
        c, later_batch(c, np.full((3, *SHAPE), 300.0))), ValueError, "0..255"),
    Row("fit-image-shape-changes-in-a-later-batch", lambda c: fit_tiny(
        c, later_batch(c, np.zeros((3, 32, 32, 1)))), ValueError, "shape"),
]



def test_the_table_covers_the_public_surface():
    assert len(ROWS) >= 60
    assert len({row.id for row in ROWS}) == len(ROWS)
    kinds = {row.id.split("-")[0] for row in ROWS}
    assert {"build", "dataset", "arrays", "idx", "cifar", "npz", "folder", "fit", "evaluate",
            "export", "predict", "http", "cli"} <= kinds


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_refused_clearly(row, ctx, capsys):
    if isinstance(row.expected, Http):
        status, body = row.call(ctx)
        assert status == row.expected.status, body
        message = body["error"]
    elif isinstance(row.expected, Exit):
        status = row.call(ctx)
        error = capsys.readouterr().err.strip()
        assert status == row.expected.status, error
        message = error.splitlines()[-1]
        assert message.startswith("cnnzoo ") and ": error: " in message, error
        if "usage:" not in error:  # argparse's own errors come after a usage line.
            assert len(error.splitlines()) == 1, error
    else:
        with pytest.raises(Exception) as caught:
            row.call(ctx)
        assert type(caught.value) is row.expected, repr(caught.value)
        message = str(caught.value)
    assert row.word.lower() in message.lower(), message


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides conftest's per-test `clear_session`: no row trains, and the module's
    model must outlive each row (clearing costs seconds a row on a loaded machine)."""
    yield
