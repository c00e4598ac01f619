"""Bad data is refused where it enters, never trained into a silently wrong model.

Each test does the damage for real: a NaN pixel in real arrays, a dataset whose fifth
batch has label 99, an empty dataset, /dev/zero and a FIFO as dataset paths, batch_size=0
on a real export.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.data import load_arrays, load_dataset
from cnnzoo.data.files import DataFormatError
from cnnzoo.export import ImageInputError, export_saved_model, load_exported
from cnnzoo.training import inputs

NUM_CLASSES = 3


def _arrays(n=48, seed=0):
    """Returns `n` 8x8 gray float images and class ids 0..2 (each class its brightness)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % NUM_CLASSES).astype("int32")
    images = labels[:, None, None, None] * 80 + rng.uniform(0, 40, (n, 8, 8, 1))
    return images.astype("float32"), labels


def _batches(images, labels, batch_size=8):
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def _fit(train, workdir, **kwargs):
    return cnnzoo.fit("tutorial_5x5", train, epochs=1, workdir=workdir,
                      num_classes=NUM_CLASSES, verbose=0, tensorboard=False, **kwargs)


def _no_model_saved(workdir):
    return not any((workdir / name).exists() for name in ("best.keras", "last.keras"))


# ---- NaN and infinite pixels, refused where they enter ----------------------------------

def test_load_arrays_refuses_a_non_finite_pixel_naming_the_image_and_the_fix():
    for value in (np.nan, np.inf, -np.inf):
        images, labels = _arrays()
        images[5, 3, 4, 0] = value
        with pytest.raises(ValueError, match=r"1 NaN or infinite pixel values in 1 of 48 "
                                             r"images, the first in image 5") as error:
            load_arrays((images, labels))
        assert "np.nan_to_num" in str(error.value)
        assert "keep = np.isfinite" in str(error.value)


def test_load_dataset_refuses_nan_pixels_instead_of_making_them_zero():
    images, labels = _arrays()
    images[[7, 9], 0, 0, 0] = np.nan
    images[9, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"3 NaN or infinite pixel values in 2 of 48 "
                                         r"images, the first in image 7"):
        load_dataset((images, labels), batch_size=8)


def test_a_keras_npz_with_a_nan_pixel_is_refused_naming_the_file(tmp_path):
    images, labels = _arrays()
    images[2, 0, 0, 0] = np.nan
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=images[..., 0], y_train=labels, x_test=images[..., 0],
             y_test=labels)
    with pytest.raises(ValueError, match=r"bad\.npz: images has 1 NaN .* image 2"):
        load_arrays(str(path))


def test_fit_refuses_nan_pixels_in_arrays_before_touching_the_workdir(tmp_path):
    images, labels = _arrays()
    images[40, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"train has 1 NaN .* image 40"):
        _fit((images, labels), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_fit_refuses_float64_pixels_that_overflow_float32():
    images, labels = _arrays()
    images = images.astype("float64")
    images[1, 0, 0, 0] = 1e300  # Finite in float64, inf once fit casts it to float32.
    with pytest.raises(ValueError, match=r"validation has 1 NaN or infinite .* image 1"):
        inputs.as_data((images, labels), argument="validation")


def test_evaluate_refuses_nan_pixels_in_arrays(tiny_model):
    images, labels = _arrays()
    images[3, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"data has 1 NaN or infinite .* image 3"):
        cnnzoo.evaluate(tiny_model, (images, labels))


# ---- every batch of a dataset is checked, not only the first -----------------------------

def test_a_label_99_in_the_fifth_batch_stops_fit_with_the_batch_and_value(tmp_path):
    images, labels = _arrays()
    labels[4 * 8 + 6] = 99  # batch 4 (the fifth), position 6
    with pytest.raises(ValueError) as error:
        _fit(_batches(images, labels), tmp_path)
    message = str(error.value)
    assert message.startswith("train batch 4 (counting from 0) has label 99 at position 6 "
                              "(1 of 8 labels in the batch)"), message
    assert "class id 0..2 of tutorial_5x5" in message and "num_classes=" in message
    assert _no_model_saved(tmp_path)


def test_a_nan_pixel_in_a_later_batch_stops_fit_before_the_weights_go_nan(tmp_path):
    images, labels = _arrays()
    images[3 * 8 + 2, 5, 5, 0] = np.nan  # batch 3, image 2
    with pytest.raises(ValueError, match=r"^train batch 3 \(counting from 0\) has 1 NaN or "
                                         r"infinite pixel values, the first in image 2 "
                                         r"of the batch.*drop those images"):
        _fit(_batches(images, labels), tmp_path)
    assert _no_model_saved(tmp_path)


def test_a_fractional_label_in_a_later_validation_batch_is_named(tmp_path):
    images, labels = _arrays()
    float_labels = labels.astype("float32")
    float_labels[2 * 8] = 1.5
    with pytest.raises(ValueError, match=r"^validation batch 2 .* has label 1\.5 at "
                                         r"position 0"):
        _fit(_batches(images, labels), tmp_path, validation=_batches(images, float_labels))


def test_a_negative_label_is_caught_also_with_capped_epochs(tmp_path):
    images, labels = _arrays()
    labels[-1] = -1
    with pytest.raises(ValueError, match=r"^train batch 5 .* has label -1 at position 7"):
        _fit(_batches(images, labels), tmp_path, steps_per_epoch=6)


def test_good_batches_pass_the_checks_unchanged():
    images, labels = _arrays()
    images[9, 0, :2, 0] = 255.0, 0.0  # The ends of the range pass.
    data = inputs.as_data(_batches(images, labels.astype("uint8")))
    checked = inputs.check_every_batch(data, num_classes=1000, model_name="m")
    batches = list(checked.data.as_numpy_iterator())
    assert len(batches) == 6
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), images)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)


def test_nan_in_one_hot_labels_of_a_later_batch_is_refused():
    images, labels = _arrays()
    one_hot = np.eye(NUM_CLASSES, dtype="float32")[labels]
    one_hot[20, 1] = np.nan
    data = inputs.as_data(_batches(images, one_hot))
    checked = inputs.check_every_batch(data, num_classes=NUM_CLASSES, model_name="m")
    with pytest.raises(ValueError, match=r"^train batch 2 .* 1 NaN or infinite label"):
        with inputs.raising_batch_errors():
            list(checked.data)


def test_float16_pixels_whose_float16_sum_overflows_pass_and_nan_fails():
    images, labels = _arrays()
    images = np.full_like(images, 255.0).astype("float16")  # A batch sums to 130560.
    images[44, 0, 0, 0] = np.nan
    data = inputs.check_every_batch(inputs.as_data(_batches(images, labels)),
                                    num_classes=NUM_CLASSES, model_name="m")
    with pytest.raises(ValueError, match=r"^train batch 5 .* 1 NaN .* first in image 4"):
        with inputs.raising_batch_errors():
            assert len(list(data.data.take(5))) == 5  # the first five batches pass
            list(data.data)


def test_other_errors_pass_through_the_batch_error_translation():
    with pytest.raises(tf.errors.InvalidArgumentError, match="something else"):
        with inputs.raising_batch_errors():
            raise tf.errors.InvalidArgumentError(None, None, "something else")


# ---- empty training data ----------------------------------------------------------------

def test_fit_refuses_empty_arrays(tmp_path):
    images, labels = _arrays()
    with pytest.raises(ValueError, match="train has 0 images"):
        _fit((images[:0], labels[:0]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_fit_refuses_a_dataset_a_filter_left_empty(tmp_path):
    images, labels = _arrays()
    nothing = _batches(images, labels).unbatch().filter(lambda x, y: y > 50).batch(8)
    with pytest.raises(ValueError, match=r"train has no examples: the dataset is empty"):
        _fit(nothing, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_empty_validation_dataset_is_refused(tmp_path):
    images, labels = _arrays()
    with pytest.raises(ValueError, match="validation has no examples"):
        _fit(_batches(images, labels), tmp_path, validation=_batches(images, labels).take(0))


def test_a_validation_split_that_leaves_no_training_images_is_refused():
    images, labels = _arrays(n=3)
    with pytest.raises(ValueError, match=r"holds out every image and leaves none"):
        load_arrays((images, labels), "train", validation_split=0.9)


def test_drop_remainder_that_leaves_no_batch_is_refused():
    images, labels = _arrays(n=20)
    with pytest.raises(ValueError, match=r"leaves no batches of the 20 examples"):
        load_dataset((images, labels), batch_size=32, drop_remainder=True)


def test_load_arrays_refuses_zero_images():
    images, labels = _arrays()
    with pytest.raises(ValueError, match="received 0 images"):
        load_arrays((images[:0], labels[:0]))


# ---- device files and FIFOs are refused, never read forever -----------------------------

@pytest.mark.timeout(60)
def test_a_device_file_as_the_dataset_is_refused():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this platform")
    for device in ("/dev/zero", "/dev/urandom"):
        with pytest.raises(DataFormatError, match=f"{device} is a character device"):
            load_dataset(device)


@pytest.mark.timeout(60)
def test_a_fifo_as_the_dataset_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "train.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError, match=r"is a FIFO \(named pipe\)"):
        load_arrays(str(fifo))


@pytest.mark.timeout(60)
def test_a_dataset_file_linked_to_dev_zero_is_refused_not_read_forever(tmp_path):
    from cnnzoo.data.idx import write_idx

    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this platform")
    for name in ("data_batch_1.bin", "train-labels-idx1-ubyte", "mnist.npz"):
        folder = tmp_path / name
        folder.mkdir()
        if name.startswith("train-"):
            write_idx(str(folder / "train-images-idx3-ubyte"), np.zeros((2, 4, 4), np.uint8))
        (folder / name).symlink_to("/dev/zero")
        with pytest.raises(DataFormatError, match=f"{name} is a character device"):
            load_arrays(str(folder))


# ---- an export's predictor refuses bad arguments clearly ---------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    return cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=NUM_CLASSES)


@pytest.fixture(scope="module")
def predictor(tiny_model, tmp_path_factory):
    return load_exported(export_saved_model(
        tiny_model, tmp_path_factory.mktemp("export") / "tiny"))


@pytest.mark.parametrize("method", ["predict", "run", "top_k"])
def test_predictor_refuses_a_bad_batch_size(predictor, method):
    images = np.zeros((2, 8, 8, 1), np.uint8)
    more = {"k": 1} if method == "top_k" else {}
    for batch_size in (0, -1, 2.5, True, None, "8"):
        with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1.*"
                                             rf"received batch_size={batch_size!r}"):
            getattr(predictor, method)(images, batch_size=batch_size, **more)


def test_predictor_batch_size_from_numpy_splits_the_images(predictor):
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1), dtype=np.uint8)
    np.testing.assert_allclose(predictor.predict(images, batch_size=np.int64(2)),
                               predictor.predict(images), rtol=1e-5, atol=1e-6)


def test_predictor_top_k_refuses_k_before_predicting(predictor):
    for k in (0, NUM_CLASSES + 1, 1.0, None):
        with pytest.raises(ValueError, match=rf"k must be an integer from 1 to "
                                             rf"{NUM_CLASSES}; received k={k!r}"):
            predictor.top_k(np.zeros((2, 8, 8, 1), np.uint8), k=k)


def test_predictor_names_nan_pixels_and_refuses_booleans(predictor):
    images = np.full((2, 8, 8, 1), 100.0)
    images[1, 2, 3, 0] = np.nan
    with pytest.raises(ImageInputError, match=r"received 1 NaN or infinite values.*"
                                              r"np\.nan_to_num"):
        predictor.predict(images)
    with pytest.raises(ImageInputError, match=r"received dtype bool"):
        predictor.run(np.ones((2, 8, 8, 1), bool))


def test_predictor_run_signature_wants_a_dict(predictor):
    with pytest.raises(ValueError, match=r"inputs must be a dict .* received list"):
        predictor.run_signature("serving_default", [np.zeros((1, 8, 8, 1), np.uint8)])


# ---- issue 27: pixel range and image shape in every batch; labels checked before a cast --

def test_pixels_above_255_in_a_later_batch_stop_fit(tmp_path):
    images, labels = _arrays()
    images[2 * 8 + 3, 1, 1, 0] = 300.0  # batch 2, image 3
    with pytest.raises(ValueError, match=r"^train batch 2 \(counting from 0\) has pixel "
                                         r"values outside 0\.\.255 \(from .* to 300\) in 1 "
                                         r"of its images, the first in image 3"):
        _fit(_batches(images, labels), tmp_path)
    assert _no_model_saved(tmp_path)


def test_a_later_batch_of_another_image_size_stops_fit_with_one_clear_line(tmp_path):
    images, labels = _arrays()
    big = np.zeros((8, 32, 32, 1), "float32")
    dataset = _batches(images, labels).concatenate(_batches(big, labels[:8]))
    with pytest.raises(ValueError, match=r"^train batch 6 \(counting from 0\) has images of "
                                         r"shape \[32 32 1\] but batch 0 has \[8, 8, 1\]"):
        _fit(dataset, tmp_path)
    assert _no_model_saved(tmp_path)


def test_fit_refuses_array_pixels_outside_0_255_before_touching_the_workdir(tmp_path):
    images, labels = _arrays()
    images[7, 0, 0, 0] = -3.0
    with pytest.raises(ValueError, match=r"train has pixel values outside 0\.\.255 \(from -3 "
                                         r"to .*\) in 1 of 48 images, the first in image 7"):
        _fit((images, labels), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_complex_pixels_are_refused_not_cast(tmp_path):
    images, labels = _arrays()
    images = images.astype("complex64") + 1j
    with pytest.raises(ValueError, match=r"images must be pixel values 0\.\.255 .*complex64"):
        load_arrays((images, labels))
    with pytest.raises(TypeError, match=r"dtype complex64; images must be real pixel"):
        _fit((images, labels), tmp_path / "run")
    with pytest.raises(TypeError, match=r"dtype complex64; images must be real pixel"):
        _fit(_batches(images, labels), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad, message", [
    (lambda y: y + 0.5, r"whole-number class ids; received 0\.5"),
    (lambda y: np.where(np.arange(len(y)) == 4, 2 ** 40, y), r"below 2\*\*31; received "
                                                             r"1099511627776"),
])
def test_npz_labels_are_checked_before_any_cast(tmp_path, bad, message):
    images, labels = _arrays()
    path = tmp_path / "data.npz"
    np.savez(path, x_train=images.astype("uint8"), y_train=bad(labels.astype("int64")),
             x_test=images.astype("uint8"), y_test=labels)
    with pytest.raises(ValueError, match=message):
        load_arrays(str(path))


def test_an_idx_label_of_200_is_refused_not_a_201_class_model(tmp_path):
    from cnnzoo.data.idx import write_idx

    labels = (np.arange(50) % 10).astype("uint8")
    labels[17] = 200
    write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.zeros((50, 4, 4), np.uint8))
    write_idx(str(tmp_path / "train-labels-idx1-ubyte"), labels)
    with pytest.raises(ValueError, match=r"the largest label, 200 \(1 example\(s\)\), implies "
                                         r"201 classes but only 11 of them have any example"):
        load_arrays(str(tmp_path))
    # Named classes are the user's word: the gap is then allowed.
    _, _, info = load_arrays((np.zeros((50, 4, 4), np.uint8), labels),
                             class_names=[str(i) for i in range(201)])
    assert info.num_classes == 201


def test_duplicate_class_names_are_refused():
    images, labels = _arrays()
    with pytest.raises(ValueError, match=r"class_names must name each class once; \['cat'\]"):
        load_arrays((images, labels), class_names=["cat", "dog", "cat"])
