"""Property tests: whatever arguments, bytes or arrays come in, only documented outcomes.

Builders give a model or a `ValueError`; the data readers give arrays or their format
error; the image header reader gives a size or None; the exported predictor and the
server's predict give results or `ImageInputError`/`RequestError`. Example counts are
bounded and derandomized, so CI runs the same examples every time, in seconds.
"""

import gzip
import io
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cnnzoo
from cnnzoo.data.files import DataFormatError, read_local_split
from cnnzoo.data.idx import IdxFormatError, read_idx
from cnnzoo.export import ImageInputError, export_saved_model, load_exported
from cnnzoo.image_header import ImageTooLargeError, check_image_size, image_size
from cnnzoo.serve import ModelService, RequestError

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SHAPE = (8, 8, 1)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides conftest's per-test `clear_session`: the module's export must outlive it."""
    yield


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    model = cnnzoo.build("tutorial_5x5", input_shape=SHAPE, num_classes=3, compile=False)
    return export_saved_model(model, tmp_path_factory.mktemp("hypothesis") / "export",
                              class_names=["a", "b", "c"])


@pytest.fixture(scope="module")
def predictor(export):
    return load_exported(export)


@pytest.fixture(scope="module")
def service(export):
    return ModelService(export)


# -- builders ------------------------------------------------------------------------------

_SIZES = st.integers(min_value=-1, max_value=40)
_SMALL_MODELS = st.sampled_from(["tutorial_3x3", "tutorial_5x5", "lenet5", "mnist_cnn",
                                 "keras_mnist_convnet"])


@settings(max_examples=15, **SETTINGS)
@given(name=_SMALL_MODELS, height=st.integers(20, 40), width=st.integers(20, 40),
       channels=st.sampled_from([1, 3]), num_classes=st.integers(2, 12),
       dropout=st.floats(0, 0.9))
def test_builders_take_any_valid_arguments(name, height, width, channels, num_classes,
                                           dropout):
    model = cnnzoo.build(name, input_shape=(height, width, channels), num_classes=num_classes,
                         dropout=dropout, compile=False)
    assert model.input_shape == (None, height, width, channels)
    assert model.output_shape == (None, num_classes)


@settings(max_examples=30, **SETTINGS)
@given(name=_SMALL_MODELS,
       input_shape=st.one_of(st.none(), st.just((28, 28, 1)),
                             st.tuples(st.integers(8, 40), st.integers(8, 40),
                                       st.sampled_from([1, 3])),
                             st.tuples(_SIZES, _SIZES, _SIZES), st.tuples(_SIZES, _SIZES),
                             st.just("28x28")),
       num_classes=st.one_of(st.none(), st.integers(1, 12), st.integers(-2, 0),
                             st.booleans(), st.floats(allow_nan=True)),
       dropout=st.one_of(st.none(), st.floats(0, 0.9), st.floats(-1, 2),
                         st.just(float("nan"))))
def test_builders_give_a_model_or_a_value_error(name, input_shape, num_classes, dropout):
    kwargs = {"input_shape": input_shape, "num_classes": num_classes, "compile": False}
    if dropout is not None:
        kwargs["dropout"] = dropout
    try:
        model = cnnzoo.build(name, **{k: v for k, v in kwargs.items() if v is not None})
    except ValueError as error:
        assert str(error)  # A refusal says something.
        return
    if input_shape is not None:
        assert model.input_shape[1:] == tuple(input_shape)
    if num_classes is not None:
        assert model.output_shape == (None, num_classes)
    assert isinstance(num_classes, int) and not isinstance(num_classes, bool) \
        or num_classes is None


# -- data readers --------------------------------------------------------------------------

def _idx_headers():
    """Random bytes, often after a valid IDX magic number and dimensions."""
    head = st.builds(lambda t, n, dims: bytes([0, 0, t, n]) + np.asarray(dims, ">u4").tobytes(),
                     st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
                     st.integers(0, 4),
                     st.lists(st.one_of(st.integers(0, 4), st.just(2**32 - 1)), max_size=4))
    return st.one_of(st.binary(max_size=64), st.tuples(head, st.binary(max_size=64)).map(
        lambda parts: parts[0] + parts[1]))


@settings(max_examples=50, **SETTINGS)
@given(data=_idx_headers(), gzipped=st.booleans(), cut=st.integers(0, 40))
def test_idx_reader_gives_an_array_or_an_idx_format_error(data, gzipped, cut):
    payload = gzip.compress(data, mtime=0) if gzipped else data
    if gzipped and cut:
        payload = payload[:-cut]  # A gzip stream cut short.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x-idx3-ubyte")
        with open(path, "wb") as f:
            f.write(payload)
        try:
            array = read_idx(path)
        except IdxFormatError as error:
            assert path in str(error)
            return
    assert array.dtype.isnative and array.ndim == data[3]


_DATA_FILES = st.one_of(st.binary(max_size=4000), st.sampled_from(
    [b"PK\x03\x04", b"\x80\x02", b"\x93NUMPY"]).flatmap(
        lambda magic: st.binary(max_size=200).map(lambda rest: magic + rest)))


@settings(max_examples=40, **SETTINGS)
@given(name=st.sampled_from(["test_batch.bin", "test.bin", "test_batch"]), data=_DATA_FILES)
def test_cifar_readers_give_arrays_or_a_data_format_error(name, data):
    _read_data_file(name, data)


# cnnzoo/data/files.py's `_read_npz` lets `np.load`'s own errors through (a plain
# ValueError without the file's name, zipfile.BadZipFile, EOFError): it must turn them
# into a DataFormatError naming the file.
@settings(max_examples=25, phases=[Phase.generate], report_multiple_bugs=False, **SETTINGS)
@given(data=_DATA_FILES)
def test_npz_reader_gives_arrays_or_a_data_format_error(data):
    _read_data_file("data.npz", data)


def _read_data_file(name, data):
    """Reads `data` as the dataset file `name`: arrays, or a DataFormatError naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        source = path if name.endswith(".npz") else folder
        try:
            images, labels = read_local_split(source, "test")
        except DataFormatError as error:
            assert name in str(error)
            return
    assert images.ndim == 4 and len(images) == len(labels)


_MAGIC = [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"\xff\xd8", b"\xff\xd8\xff\xc0\0\x11\x08",
          b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBPVP8X", b"RIFF\0\0\0\0WEBPVP8L",
          b"RIFF\0\0\0\0WEBPVP8 "]


def _encoded_images(max_size):
    return st.one_of(st.binary(max_size=max_size), st.sampled_from(_MAGIC).flatmap(
        lambda magic: st.binary(max_size=max_size).map(lambda rest: magic + rest)))


@settings(max_examples=50, **SETTINGS)
@given(data=_encoded_images(80))
def test_image_header_gives_a_size_or_none_and_the_check_its_error(data):
    size = image_size(data)
    assert size is None or (len(size) == 2 and all(isinstance(d, int) and d >= 0
                                                   for d in size))
    try:
        assert check_image_size(data, max_pixels=100) is data
    except ImageTooLargeError:
        assert size is not None and size[0] * size[1] > 100


# -- serving signatures --------------------------------------------------------------------

_DTYPES = st.sampled_from(["uint8", "int32", "float32", "float64", "bool", "U1"])


@settings(max_examples=30, **SETTINGS)
@given(shape=st.one_of(st.lists(st.integers(0, 9), min_size=1, max_size=5),
                       st.integers(0, 4).map(lambda n: [n, *SHAPE])), dtype=_DTYPES,
       scale=st.sampled_from([1.0, 255.0, 300.0, np.inf, np.nan]))
def test_predictor_gives_probabilities_or_an_image_input_error(predictor, shape, dtype,
                                                               scale):
    values = np.random.default_rng(len(shape)).random(shape) * scale
    images = values.astype(dtype) if dtype != "U1" else values.astype(str)
    try:
        probabilities = predictor.predict(images)
    except ImageInputError as error:
        assert str(error)
        return
    assert probabilities.shape == (shape[0], 3) and probabilities.dtype == np.float32
    assert np.all(np.isfinite(probabilities))


def _png(width, height):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@settings(max_examples=30, **SETTINGS)
@given(images=st.lists(st.one_of(_encoded_images(200),
                                 st.builds(_png, st.integers(1, 40), st.integers(1, 40))),
                       min_size=1, max_size=3))
def test_bytes_signature_gives_probabilities_or_an_image_input_error(predictor, images):
    try:
        outputs = predictor.run(images)
    except ImageInputError as error:
        assert "image" in str(error).lower()
        return
    assert outputs["probabilities"].shape == (len(images), 3)


# One 8x8x1 image as JSON, its pixels anywhere from -1 to 256.
_PIXELS = st.lists(st.integers(-1, 256), min_size=64, max_size=64).map(
    lambda values: np.reshape(values, SHAPE).tolist())
_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-300, 300),
                               st.floats(allow_nan=False), st.text(max_size=3)),
                     lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(st.sampled_from(["instances", "inputs", "b64",
                                                        "signature_name", "x"]), children,
                                       max_size=3), max_leaves=20)


@settings(max_examples=50, **SETTINGS)
@given(request=st.one_of(_JSON, st.fixed_dictionaries({"instances": _JSON}),
                         st.fixed_dictionaries({"inputs": _JSON}),
                         st.fixed_dictionaries({"instances": st.lists(_PIXELS, max_size=2)})))
def test_server_predict_gives_predictions_or_a_request_error(service, request):
    try:
        reply = service.predict(request)
    except RequestError as error:
        assert 400 <= error.status < 500 and str(error)
        return
    assert "predictions" in reply or "outputs" in reply
