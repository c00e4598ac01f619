"""The batch augmentation ops: TensorFlow graph code for the presets of `augment`.

`make_batch_augmenter` turns an `AugmentPreset` into the function the pipeline maps over
batches. Every random draw is a stateless op fed from an explicit per-batch seed, so a
batch is the same run after run, whatever the map's parallelism (see `augment` for why
these ops and not Keras preprocessing layers). Imported only when a pipeline augments, so
the presets stay importable without TensorFlow.
"""

import math

import tensorflow as tf

from cnnzoo.data.augment import get_augment_preset


def _geometry(images, preset, flip, seed):
    """Shifts, flips, rotates and zooms each image with one projective-transform op per batch.

    Every geometric step is folded into one affine map per image, so the batch is
    resampled once. Without rotation or zoom the map is an integer shift (and maybe a
    mirror), sampled NEAREST on uint8: exact pixels, the same as zero-pad + random crop.
    """
    height, width = images.shape[1], images.shape[2]
    batch = tf.shape(images)[0]
    seed_shift, seed_flip, seed_angle, seed_zoom = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    zeros = tf.zeros([batch])
    if preset.shift:
        pad = max(1, int(round(preset.shift * min(height, width))))
        shift = tf.cast(tf.random.stateless_uniform(
            [batch, 2], seed_shift, -pad, pad + 1, dtype=tf.int32), tf.float32)
        dx, dy = shift[:, 0], shift[:, 1]
    else:
        dx = dy = zeros
    mirror = tf.where(tf.random.stateless_uniform([batch], seed_flip) < 0.5, -1.0, 1.0) \
        if flip else 1.0 + zeros
    angle = tf.random.stateless_uniform([batch], seed_angle, -1.0, 1.0) \
        * (preset.rotate * math.pi / 180.0)
    scale = 1.0 + tf.random.stateless_uniform([batch], seed_zoom, -preset.zoom, preset.zoom)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    # Output pixel p samples input A (p - c) + c + d: mirror, rotate and scale about the
    # centre c, then shift by d.
    transforms = tf.stack([a0, a1, cx + dx - a0 * cx - a1 * cy,
                           b0, b1, cy + dy - b0 * cx - b1 * cy, zeros, zeros], axis=1)
    smooth = bool(preset.rotate or preset.zoom)
    if smooth:
        images = tf.cast(images, tf.float32)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[height, width],
        fill_value=0.0, interpolation="BILINEAR" if smooth else "NEAREST",
        fill_mode="CONSTANT")


def _box_mask(batch, height, width, y0, x0, box_h, box_w):
    rows = tf.range(height)[None]
    cols = tf.range(width)[None]
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + box_h)[:, None])
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + box_w)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :])[..., None]


def _erase(images, probability, seed):
    """Zeroes one random rectangle (2%..25% of the area, aspect 0.5..2) per chosen image."""
    height, width = images.shape[1], images.shape[2]
    batch = tf.shape(images)[0]
    u = tf.random.stateless_uniform([batch, 5], seed)
    area = (0.02 + 0.23 * u[:, 0]) * height * width
    aspect = tf.exp((u[:, 1] * 2.0 - 1.0) * math.log(2.0))
    box_h = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32), 1, height)
    box_w = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32), 1, width)
    y0 = tf.cast(u[:, 2] * tf.cast(height - box_h + 1, tf.float32), tf.int32)
    x0 = tf.cast(u[:, 3] * tf.cast(width - box_w + 1, tf.float32), tf.int32)
    mask = _box_mask(batch, height, width, y0, x0, box_h, box_w)
    mask &= (u[:, 4] < probability)[:, None, None, None]
    return tf.where(mask, tf.zeros_like(images), images)


def _beta(alpha, seed):
    seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    a = tf.random.stateless_gamma([], seed_a, alpha)
    b = tf.random.stateless_gamma([], seed_b, alpha)
    return a / (a + b)


def _mix(images, onehot, preset, seed):
    """MixUp or CutMix with a partner drawn by permuting the batch (one lambda per batch)."""
    seed_perm, seed_lam, seed_box = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    batch = tf.shape(images)[0]
    partner = tf.random.experimental.stateless_shuffle(tf.range(batch), seed_perm)
    other_images = tf.gather(images, partner)
    other_labels = tf.gather(onehot, partner)
    if preset.mixup:
        lam = _beta(preset.mixup, seed_lam)
        mixed = lam * images + (1.0 - lam) * other_images
    else:
        height, width = images.shape[1], images.shape[2]
        lam = _beta(preset.cutmix, seed_lam)
        cut = tf.sqrt(1.0 - lam)
        box_h = tf.cast(tf.round(cut * height), tf.int32)
        box_w = tf.cast(tf.round(cut * width), tf.int32)
        centre = tf.random.stateless_uniform([2], seed_box)
        cy = tf.cast(centre[0] * height, tf.int32)
        cx = tf.cast(centre[1] * width, tf.int32)
        y0, y1 = tf.maximum(cy - box_h // 2, 0), tf.minimum(cy + (box_h + 1) // 2, height)
        x0, x1 = tf.maximum(cx - box_w // 2, 0), tf.minimum(cx + (box_w + 1) // 2, width)
        mask = _box_mask(1, height, width, y0[None], x0[None],
                         (y1 - y0)[None], (x1 - x0)[None])
        mixed = tf.where(mask, other_images, images)
        # The label weight is the area actually pasted, after clipping at the border.
        lam = 1.0 - tf.cast((y1 - y0) * (x1 - x0), tf.float32) / float(height * width)
    return mixed, lam * onehot + (1.0 - lam) * other_labels


def make_batch_augmenter(preset, *, num_classes: int, flip_allowed: bool = True):
    """Returns the batch function the pipeline maps for `preset`.

    Args:
        preset: a name from `list_augment_presets`, an `AugmentPreset`, or None.
        num_classes: number of classes (for one-hot labels when the preset mixes).
        flip_allowed: False for data where a mirror image changes the class (digits).

    Returns:
        `fn(images, labels, seed)`: `images` uint8 `(B, H, W, C)`, `labels` int
        `(B,)`, `seed` an int32/int64 tensor of shape `(2,)`. Returns float32 images
        in [0, 255] and int32 labels `(B,)`, or float32 `(B, num_classes)` mixed
        one-hot labels when the preset mixes.

    Raises:
        ValueError: unknown preset.
    """
    preset = get_augment_preset(preset)
    flip = preset.flip and flip_allowed

    def augment(images, labels, seed):
        seed_geometry, seed_erase, seed_mix = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
        if preset.erase:
            images = _erase(images, preset.erase, seed_erase)
        if preset.shift or flip or preset.rotate or preset.zoom:
            images = _geometry(images, preset, flip, seed_geometry)
        images = tf.cast(images, tf.float32)
        labels = tf.cast(labels, tf.int32)
        if preset.mixes_labels:
            onehot = tf.one_hot(labels, num_classes, dtype=tf.float32)
            images, labels = _mix(images, onehot, preset, seed_mix)
        return images, labels

    return augment
