"""load_dataset: batches, dtypes, seeds, presets, and argument errors."""

import numpy as np
import pytest
import tensorflow as tf

from cnnzoo.data import (AugmentPreset, get_augment_preset, list_augment_presets, load_arrays,
                         load_dataset, register_augment_preset)
from cnnzoo.data.augment_ops import make_batch_augmenter


def _batches(dataset, n=3):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]


def _same(a, b):
    return all(np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb)
               in zip(a, b))


def test_train_batches_have_the_contract_shapes_and_dtypes():
    ds, info = load_dataset("fashion_mnist_sample", batch_size=64, augment="standard")
    x, y = next(iter(ds))
    assert x.shape == (64, 28, 28, 1) and x.dtype == tf.float32
    assert y.shape == (64,) and y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 255.0
    assert float(tf.reduce_max(x)) > 1.0  # raw pixels, not normalised
    assert info.num_examples == 4000 and info.num_classes == 10


def test_evaluation_split_is_in_file_order_and_unaugmented():
    x_test, y_test, _ = load_arrays("digits", "test")
    ds, info = load_dataset("digits", "test", batch_size=100)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    np.testing.assert_array_equal(np.concatenate(xs), x_test.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate(ys), y_test)
    assert [len(y) for y in ys] == [100, 100, 100, 55] and info.split == "test"


def test_drop_remainder():
    ds, _ = load_dataset("digits", "test", batch_size=100, drop_remainder=True)
    assert [int(x.shape[0]) for x, _ in ds] == [100, 100, 100]


def test_same_seed_same_batches_other_seed_other_batches():
    def run(seed):
        ds, _ = load_dataset("fashion_mnist_sample", batch_size=32, augment="strong", seed=seed)
        return _batches(ds)

    assert _same(run(1), run(1))
    assert not _same(run(1), run(2))


def test_each_epoch_is_augmented_differently_but_reproducibly():
    ds, _ = load_dataset("digits", batch_size=16, augment="strong", shuffle=False)
    first, second = _batches(ds, 1), _batches(ds, 1)
    assert not _same(first, second)
    np.testing.assert_array_equal(first[0][1], second[0][1])  # no shuffle: same labels
    again, _ = load_dataset("digits", batch_size=16, augment="strong", shuffle=False)
    assert _same(_batches(again, 1), first)


def test_shuffle_covers_every_example_once_per_epoch():
    ds, _ = load_dataset("digits", batch_size=500)
    labels = np.concatenate([y.numpy() for _, y in ds])
    _, y_train, _ = load_arrays("digits")
    assert not np.array_equal(labels, y_train)
    np.testing.assert_array_equal(np.sort(labels), np.sort(y_train))


@pytest.mark.parametrize("preset", list_augment_presets())
def test_every_preset_runs(preset):
    ds, info = load_dataset("fashion_mnist_sample", batch_size=16, augment=preset, limit=64)
    x, y = next(iter(ds))
    assert x.shape == (16, 28, 28, 1) and x.dtype == tf.float32
    assert float(tf.reduce_min(x)) >= 0.0 and float(tf.reduce_max(x)) <= 255.0
    if get_augment_preset(preset).mixes_labels:
        assert y.shape == (16, info.num_classes) and y.dtype == tf.float32
        np.testing.assert_allclose(tf.reduce_sum(y, axis=1), 1.0, rtol=1e-5)
    else:
        assert y.shape == (16,) and y.dtype == tf.int32


def test_presets_run_on_rgb_cifar_sized_batches():
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)), tf.uint8)
    for preset in list_augment_presets():
        x, _ = make_batch_augmenter(preset, num_classes=10)(
            images, tf.zeros([8], tf.int32), tf.constant([1, 2]))
        assert x.shape == (8, 32, 32, 3)


def _augment(preset, images, flip_allowed=True, seed=(4, 5)):
    fn = make_batch_augmenter(preset, num_classes=10, flip_allowed=flip_allowed)
    x, _ = fn(tf.constant(images), tf.zeros([len(images)], tf.int32), tf.constant(seed))
    return x.numpy()


def _shifted(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(0, -dy):min(h, h - dy), max(0, -dx):min(w, w - dx)] = \
        image[max(0, dy):min(h, h + dy), max(0, dx):min(w, w + dx)]
    return out


def test_shift_is_an_exact_integer_translation_with_zero_fill():
    images = np.random.default_rng(0).integers(1, 256, (32, 16, 16, 1)).astype(np.uint8)
    out = _augment(AugmentPreset("shift_only", shift=1 / 8), images)
    moved = 0
    for src, got in zip(images, out):
        candidates = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                      if np.array_equal(_shifted(src, dy, dx), got)]
        assert candidates, "output is not a shift of its input"
        moved += candidates[0] != (0, 0)
    assert moved > 16


def test_flip_mirrors_some_images_and_never_digits():
    images = np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1)).astype(np.uint8)
    flip_only = AugmentPreset("flip_only", flip=True)
    out = _augment(flip_only, images)
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 5 < sum(mirrored) < 27
    np.testing.assert_array_equal(_augment(flip_only, images, flip_allowed=False), images)


def test_digits_are_never_flipped_by_the_pipeline():
    x_train, _, _ = load_arrays("digits")
    ds, _ = load_dataset("digits", batch_size=len(x_train), shuffle=False,
                         augment=AugmentPreset("flip_only", flip=True))
    np.testing.assert_array_equal(next(iter(ds))[0].numpy(), x_train.astype(np.float32))


def test_cutmix_labels_weigh_the_pasted_area():
    images = np.stack([np.zeros((10, 10, 1)), np.full((10, 10, 1), 200)]).astype(np.uint8)
    fn = make_batch_augmenter(AugmentPreset("cutmix_only", cutmix=1.0), num_classes=2)
    partial = 0
    for s in range(8):
        x, y = fn(tf.constant(images), tf.constant([0, 1]), tf.constant([s, 7]))
        pasted = float(np.mean(x.numpy()[0] == 200.0))
        np.testing.assert_allclose(y.numpy()[0], [1 - pasted, pasted], atol=1e-6)
        partial += 0 < pasted < 1
    assert partial >= 2


def test_mixup_labels_match_the_pixel_mixture():
    images = np.stack([np.zeros((4, 4, 1)), np.full((4, 4, 1), 200)]).astype(np.uint8)
    fn = make_batch_augmenter(AugmentPreset("mixup_only", mixup=0.4), num_classes=2)
    mixed = 0
    for s in range(8):
        x, y = fn(tf.constant(images), tf.constant([0, 1]), tf.constant([s, 3]))
        np.testing.assert_allclose(x.numpy()[0] / 200.0, y.numpy()[0, 1], atol=1e-5)
        mixed += 0.01 < y.numpy()[0, 1] < 0.99
    assert mixed >= 2


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=f"batch_size={batch_size!r}"):
        load_dataset("digits", batch_size=batch_size)


def test_unknown_preset_suggests_the_nearest():
    with pytest.raises(ValueError, match=r"augment='standrad'.*Did you mean 'standard'"):
        load_dataset("digits", augment="standrad")


def test_evaluation_splits_refuse_augment_and_shuffle():
    with pytest.raises(ValueError, match="never augmented"):
        load_dataset("digits", "test", augment="light")
    with pytest.raises(ValueError, match="never shuffled"):
        load_dataset("digits", "test", shuffle=True)
    ds, _ = load_dataset("digits", "test", augment="none", shuffle=False)
    assert ds.element_spec[0].dtype == tf.float32


def test_registry_refuses_duplicates_and_double_mixing():
    with pytest.raises(ValueError, match="already registered"):
        register_augment_preset(AugmentPreset("standard"))
    with pytest.raises(ValueError, match="both mixup and cutmix"):
        register_augment_preset(AugmentPreset("both", mixup=0.2, cutmix=1.0))


def test_model_trains_on_a_batch():
    import keras

    ds, info = load_dataset("fashion_mnist_sample", batch_size=32, augment="standard", limit=64)
    model = keras.Sequential([keras.Input(info.image_shape), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(info.num_classes)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
