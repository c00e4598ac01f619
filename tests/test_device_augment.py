"""cnnzoo.data.device_augment: the on-device shift and flip, on this process's backend and
jit-compiled on JAX with TensorFlow blocked."""

import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from without_tensorflow import BLOCK_TENSORFLOW

from cnnzoo.data.device_augment import RandomShiftFlip, augmenting, from_preset, shift_pixels

PAD = 2
# Distinct positive pixels, so every shift and flip of an image is told apart from zeros.
IMAGES = (np.arange(32 * 6 * 5 * 2) % 251 + 1).reshape(32, 6, 5, 2).astype("float32")


def transforms_of(images, outputs, pad=PAD):
    """Returns `(flipped, dy, dx)` for each output image, found by trying every shift and
    flip of its input; fails the test when no candidate matches."""
    height, width = images.shape[1:3]
    padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    found = []
    for index, output in enumerate(outputs):
        matches = [(flipped, dy, dx)
                   for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)
                   for flipped in (False, True)
                   if np.array_equal(output, _crop(padded[index], pad + dy, pad + dx, height,
                                                   width, flipped))]
        assert matches, f"image {index} is no shift or flip of its input"
        found.append(matches[0])
    return found


def _crop(padded, top, left, height, width, flipped):
    crop = padded[top:top + height, left:left + width]
    return crop[:, ::-1] if flipped else crop


def check_draws(found):
    """Both flip states and several offsets on each axis occur in a batch of 32."""
    assert {flipped for flipped, _, _ in found} == {False, True}
    assert len({dy for _, dy, _ in found}) >= 3 and len({dx for _, _, dx in found}) >= 3


def test_outputs_are_shifts_and_flips_of_the_inputs():
    layer = RandomShiftFlip(pad=PAD, flip=True, seed=3)
    outputs = keras.ops.convert_to_numpy(layer(IMAGES, training=True))
    assert outputs.shape == IMAGES.shape and outputs.dtype == np.float32
    check_draws(transforms_of(IMAGES, outputs))


def test_a_seed_repeats_the_draws_and_the_state_moves_on():
    first, again = (RandomShiftFlip(pad=PAD, seed=5) for _ in range(2))
    outputs = [keras.ops.convert_to_numpy(layer(IMAGES, training=True))
               for layer in (first, again, first)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2]), "a second batch drew the same"


def test_inference_and_no_op_settings_return_the_input():
    np.testing.assert_array_equal(RandomShiftFlip(pad=PAD)(IMAGES, training=False), IMAGES)
    np.testing.assert_array_equal(RandomShiftFlip(pad=0, flip=False)(IMAGES, training=True),
                                  IMAGES)


def test_flip_only_mirrors_and_shift_only_never_mirrors():
    flips = transforms_of(IMAGES, keras.ops.convert_to_numpy(
        RandomShiftFlip(pad=0, flip=True, seed=1)(IMAGES, training=True)), pad=0)
    assert {flipped for flipped, _, _ in flips} == {False, True}
    shifts = transforms_of(IMAGES, keras.ops.convert_to_numpy(
        RandomShiftFlip(pad=PAD, flip=False, seed=1)(IMAGES, training=True)))
    # An image could match a flip too only if it were symmetric; these are not.
    assert not any(flipped for flipped, _, _ in shifts)


def test_config_round_trip_and_bad_arguments():
    layer = RandomShiftFlip(pad=3, flip=False, seed=9, name="aug")
    clone = RandomShiftFlip.from_config(layer.get_config())
    assert (clone.pad, clone.flip, clone.seed, clone.name) == (3, False, 9, "aug")
    for pad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="pad"):
            RandomShiftFlip(pad=pad)
    with pytest.raises(ValueError, match="batches of images"):
        RandomShiftFlip(pad=1)(IMAGES[0], training=True)


def test_from_preset_matches_the_tf_data_presets():
    standard = from_preset("standard", (28, 28, 1))
    assert (standard.pad, standard.flip) == (4, True)  # round(28 / 8) as augment_ops.
    assert from_preset("light", (28, 28, 1), flip_allowed=False).flip is False
    assert from_preset("none", (28, 28, 1)).pad == 0
    assert shift_pixels(1 / 8, 32) == 4
    with pytest.raises(ValueError, match="rotate, zoom, erase"):
        from_preset("strong", (28, 28, 1))
    with pytest.raises(ValueError, match="fraction"):
        shift_pixels(0.7, 28)


def test_augmenting_trains_the_network_it_wraps_and_infers_as_it_does(tmp_path):
    import cnnzoo

    images = np.random.default_rng(0).uniform(0, 255, (32, 8, 8, 1)).astype("float32")
    network = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3, compile=False)
    trainer = augmenting(network, "light", seed=0)
    assert [layer.name for layer in trainer.layers] == ["images", "augment_light",
                                                       "tutorial_5x5"]
    np.testing.assert_allclose(trainer.predict(images, verbose=0),
                               network.predict(images, verbose=0), rtol=1e-6)
    before = [weight.copy() for weight in network.get_weights()]
    labels = np.arange(len(images)) % 3
    history = cnnzoo.fit(trainer, (images, labels), epochs=1, workdir=tmp_path, batch_size=8,
                         verbose=0)
    assert history.model is trainer
    assert any(not np.array_equal(a, b) for a, b in zip(before, network.get_weights()))
    np.testing.assert_allclose(trainer.predict(images, verbose=0),
                               network.predict(images, verbose=0), rtol=1e-6)
    # Its checkpoint loads back whole, optimizer state included.
    loaded = keras.saving.load_model(tmp_path / "last.keras")
    assert int(loaded.optimizer.iterations) == 4


def test_augmenting_refuses_a_compiled_model():
    import cnnzoo

    with pytest.raises(ValueError, match="uncompiled model.*compile=False"):
        augmenting(cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3))


JAX_SCRIPT = BLOCK_TENSORFLOW + textwrap.dedent("""
    import jax
    import keras
    import numpy as np
    from cnnzoo.data.device_augment import RandomShiftFlip

    images = np.load(sys.argv[1])
    layer = RandomShiftFlip(pad=int(sys.argv[2]), seed=11)
    layer.build(images.shape)
    step = jax.jit(lambda state, x: layer.stateless_call([], state, x, training=True))
    state = [variable.value for variable in layer.non_trainable_variables]
    first, state = step(state, images)
    second, state = step(state, images)
    assert step._cache_size() == 1, "the step was traced more than once"
    assert keras.backend.backend() == "jax" and "tensorflow" not in sys.modules
    np.savez(sys.argv[3], first=np.asarray(first), second=np.asarray(second))
""")


def test_jit_compiled_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    np.save(tmp_path / "images.npy", IMAGES)
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path / "images.npy"), str(PAD),
         str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=120,
        env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin",
             "PYTHONPATH": str(pathlib.Path(__file__).parents[1])})
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = np.load(tmp_path / "out.npz")
    check_draws(transforms_of(IMAGES, outputs["first"]))
    transforms_of(IMAGES, outputs["second"])
    assert not np.array_equal(outputs["first"], outputs["second"]), "the seed state stood still"
