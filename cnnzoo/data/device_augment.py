"""Random shifts and flips as a Keras layer of plain `keras.ops`, compiled into the train step.

On the JAX backend (the GPU machine has no TensorFlow) augmentation has to run inside the
jit-compiled training step. Keras's own layers cannot: `RandomTranslation`, `RandomCrop`,
`RandomRotation` and `RandomZoom` set `supports_jit = False`, so a model holding one has
its `jit_compile` quietly turned off (Keras warns "Model doesn't support
`jit_compile=True`") and JAX then runs the whole training step op by op, network and
optimizer included. Where a step's arithmetic is small, as on a GPU, that dispatch is the
step. `RandomTranslation` also resamples bilinearly through `affine_transform`
(`jax.scipy.ndimage.map_coordinates`, a gather) where a pad-and-crop shift needs none.
Measured on the CPU JAX backend at batch 8, where dispatch dominates as on a GPU
(`python bench/bench_gpu.py --compare-augment --batch-size 8`, `mnist_cnn`, medians of 3
alternated repeats of 60 steps): 9.8 steps/s with Keras's `RandomFlip` +
`RandomTranslation`, 124 with the same layers and jit forced on, 131 with this layer
and 130 with no augmentation.

`RandomShiftFlip` does the presets' pad-and-crop shift and horizontal flip (`light`,
`standard`) much as airbench crops on the GPU: zero padding, then for each of the
`2 * pad + 1` possible offsets a static slice chosen per image with `where`, rows then
columns, and a flip chosen the same way. Every op is elementwise or a static slice, which
XLA can fuse; above it cost nothing measurable beside `mnist_cnn`. Backend-agnostic
`keras.ops`; no TensorFlow.

Example:
    >>> import numpy as np
    >>> layer = RandomShiftFlip(pad=2, flip=True, seed=0)
    >>> tuple(layer(np.ones((4, 8, 8, 1), "float32"), training=True).shape)
    (4, 8, 8, 1)
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["RandomShiftFlip", "augmenting", "from_preset", "shift_pixels"]


def shift_pixels(fraction: float, side: int) -> int:
    """Returns the largest shift in pixels for a shift `fraction` of an image `side`.

    The same rounding as the tf.data presets (`cnnzoo.data.augment_ops`): at least one
    pixel, so 1/8 of 28 pixels is 4 and 1/14 of 28 is 2.

    Raises:
        ValueError: `fraction` outside (0, 0.5) or a side that is not positive.
    """
    if not 0 < fraction < 0.5 or side < 1:
        raise ValueError(f"a shift is a fraction in (0, 0.5) of a positive image side; "
                         f"received fraction={fraction!r}, side={side!r}.")
    return max(1, int(round(fraction * side)))


def _select_offsets(padded, offsets, *, pad, size, axis):
    """Returns, per image, the window of `size` pixels along `axis` (1 rows, 2 columns)
    that starts at `pad + offsets[i]` in `padded`: a crop as `2 * pad + 1` static slices
    chosen elementwise, since a per-image dynamic slice is a gather."""
    result = None
    for offset in range(-pad, pad + 1):
        start = pad + offset
        window = padded[:, start:start + size] if axis == 1 else padded[:, :, start:start + size]
        chosen = ops.reshape(ops.equal(offsets, offset), (-1, 1, 1, 1))
        result = window if result is None else ops.where(chosen, window, result)
    return result


@keras.saving.register_keras_serializable(package="cnnzoo")
class RandomShiftFlip(keras.layers.Layer):
    """Shifts each image by up to `pad` pixels (zero fill) and flips it left-right at random.

    Active only in training (`training=True`); otherwise it returns its input. The
    randomness comes from the layer's `keras.random.SeedGenerator`, whose state Keras
    carries through the jit-compiled step, so a seeded layer repeats its draws run after
    run. The layer computes in float32 whatever the dtype policy (it moves pixels and
    does no arithmetic), so raw 0-255 pixels reach the model unrounded.

    Args:
        pad: the largest shift in pixels, each way and on each axis (0 for none).
        flip: whether to flip half the images left-right.
        seed: an int for repeatable draws, or None.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Raises:
        ValueError: a negative or non-integer `pad`.
    """

    def __init__(self, pad: int = 0, flip: bool = True, seed: int | None = None, **kwargs):
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"pad is the largest shift in whole pixels, 0 or more; "
                             f"received pad={pad!r}. Example: pad=4 for 28x28 images.")
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.pad = pad
        self.flip = bool(flip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        """Returns the shifted and flipped images (training) or `images` unchanged."""
        if not training or not (self.pad or self.flip):
            return images
        if len(images.shape) != 4:
            raise ValueError(f"RandomShiftFlip takes batches of images (batch, height, "
                             f"width, channels); received shape {tuple(images.shape)}.")
        # One draw per image for everything, so one seed state serves all three choices.
        draws = keras.random.uniform((ops.shape(images)[0], 3), seed=self.seed_generator)
        if self.pad:
            offsets = ops.cast(ops.floor(draws[:, 1:] * (2 * self.pad + 1)), "int32") - self.pad
            widths = [[0, 0], [self.pad, self.pad], [self.pad, self.pad], [0, 0]]
            padded = ops.pad(images, widths)
            height, width = images.shape[1], images.shape[2]
            rows = _select_offsets(padded, offsets[:, 0], pad=self.pad, size=height, axis=1)
            images = _select_offsets(rows, offsets[:, 1], pad=self.pad, size=width, axis=2)
        if self.flip:
            flipped = ops.reshape(draws[:, 0] < 0.5, (-1, 1, 1, 1))
            images = ops.where(flipped, ops.flip(images, axis=2), images)
        return images

    def compute_output_shape(self, input_shape):
        """Returns `input_shape`: shifting and flipping keep the image size."""
        return input_shape

    def get_config(self):
        """Returns the layer's arguments, for saving and `from_config`."""
        return {**super().get_config(), "pad": self.pad, "flip": self.flip, "seed": self.seed}


def from_preset(preset, image_shape, *, flip_allowed: bool = True, seed: int | None = None):
    """Returns the `RandomShiftFlip` layer doing a preset's shift and flip on the device.

    Args:
        preset: a preset name or `cnnzoo.data.AugmentPreset` whose only fields are
            `shift` and `flip` (`none`, `light`, `standard`).
        image_shape: `(height, width, channels)` of the images; the shift in pixels is
            the preset's fraction of the shorter side.
        flip_allowed: False for data that must not be mirrored (digits, letters).
        seed: an int for repeatable draws, or None.

    Returns:
        A `RandomShiftFlip` layer.

    Raises:
        ValueError: an unknown preset, or one that rotates, zooms, erases or mixes, which
            this layer does not do (the tf.data pipeline does them).
    """
    from cnnzoo.data.augment import get_augment_preset

    preset = get_augment_preset(preset)
    unsupported = [field for field in ("rotate", "zoom", "erase", "mixup", "cutmix")
                   if getattr(preset, field)]
    if unsupported:
        raise ValueError(f"augment preset {preset.name!r} uses {', '.join(unsupported)}, which "
                         "the on-device layer does not do; choose 'none', 'light' or "
                         "'standard', or augment in the tf.data pipeline (load_dataset).")
    pad = shift_pixels(preset.shift, min(image_shape[:2])) if preset.shift else 0
    return RandomShiftFlip(pad=pad, flip=preset.flip and flip_allowed, seed=seed,
                           name=f"augment_{preset.name}")


def augmenting(model, preset="standard", *, flip_allowed: bool = True, seed: int | None = None):
    """Returns a model that trains `model` on augmented images: a preset's shift and flip
    (`from_preset`) in front of it, inside the compiled training step.

    This is how to augment array data on the JAX backend, which has no tf.data pipeline
    (on TensorFlow, `cnnzoo.load_dataset(..., augment=...)` augments faster, in the
    pipeline). The returned model shares `model`'s layers, so training it trains `model`;
    at inference it computes exactly what `model` does. It is returned uncompiled:
    `cnnzoo.fit` compiles it (or call `cnnzoo.compile_classifier` on it).

    Args:
        model: an uncompiled `keras.Model` taking raw-pixel images (`cnnzoo.build(name,
            compile=False)`).
        preset, flip_allowed, seed: as `from_preset`.

    Returns:
        An uncompiled `keras.Model` named `{model.name}_augmented`.

    Raises:
        ValueError: a compiled `model` (Keras would save its unused optimizer in the new
            model's checkpoints, and a loaded checkpoint would skip the optimizer's
            state), or what `from_preset` refuses.

    Example:
        >>> import cnnzoo
        >>> network = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3,
        ...                        compile=False)
        >>> trainer = augmenting(network, "light", flip_allowed=False, seed=0)
        >>> trainer.name, trainer.layers[1].name
        ('tutorial_5x5_augmented', 'augment_light')
    """
    if model.compiled:
        raise ValueError(
            f"augmenting takes an uncompiled model, and {model.name!r} is compiled: a compiled "
            "model inside another keeps its own unused optimizer, which Keras saves in the "
            "checkpoints, and loading one then skips the optimizer's state. Build it with "
            "compile=False (cnnzoo.build(..., compile=False)); cnnzoo.fit compiles the "
            "model augmenting returns.")
    image_shape = tuple(model.input_shape[1:])
    images = keras.Input(image_shape, name="images")
    augment = from_preset(preset, image_shape, flip_allowed=flip_allowed, seed=seed)
    return keras.Model(images, model(augment(images)), name=f"{model.name}_augmented")
