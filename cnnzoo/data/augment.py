"""Augmentation presets, applied to whole batches inside tf.data.

A preset is data (:class:`AugmentPreset`): how far to shift, whether to flip, rotate,
zoom, erase, MixUp or CutMix. :func:`make_batch_augmenter` turns a preset into a
function ``(uint8 images, int labels, seed) -> (float32 images, labels)`` that the
pipeline maps over batches.

Why plain TensorFlow ops and not Keras preprocessing layers (measured, not assumed:
``python bench/bench_pipeline.py --compare-keras`` runs the same shuffled, batched
Fashion-MNIST pipeline with each preset built both ways, 128 images of 28x28x1 per
batch, interleaved medians on our shared 2-CPU machine). Over three runs our ops ran at
1.0x-1.1x the Keras layers' speed for "cutmix", 1.2x-1.4x for "mixup", 1.0x-3.8x for
"standard" and 2.0x-2.4x for "strong", where each layer (RandomTranslation, RandomFlip,
RandomErasing, RandomRotation, RandomZoom) resamples the batch on its own while we fold
shift, flip, rotation and zoom into one projective transform per batch. So the layers
were never faster (keras issues 20283 and 23245 report larger gaps on bigger images).
What settles it is reproducibility: these ops take their randomness from an explicit
per-batch seed (stateless ops), so batches are identical run after run even with
parallel map calls, which a layer's internal seed-generator state cannot promise.
The benchmark builds the Keras-layer equivalent of each preset for that comparison.

Presets know the data: horizontal flips are skipped for digits and characters
(``flip=False``, set from the dataset name by the pipeline).
"""

from __future__ import annotations

import dataclasses
import difflib
import math

__all__ = ["AugmentPreset", "register_augment_preset", "get_augment_preset",
           "list_augment_presets", "make_batch_augmenter"]


@dataclasses.dataclass(frozen=True)
class AugmentPreset:
    """One named augmentation recipe; all fields default to "off".

    Attributes:
        name: the preset's name.
        description: one line for ``list_augment_presets``/docs.
        shift: largest integer translation, as a fraction of the image side (zero
            padding then a random crop back to size: 0.125 is the classic
            "pad 4, crop 32" for CIFAR).
        flip: random horizontal flips (only where the data allows them).
        rotate: largest rotation, in degrees either way.
        zoom: largest zoom in or out, as a fraction (0.1 = 90%..110%).
        erase: probability of erasing (zeroing) one random rectangle per image.
        mixup: Beta(alpha, alpha) of MixUp (Zhang et al. 2018); 0 = off.
        cutmix: Beta(alpha, alpha) of CutMix (Yun et al. 2019); 0 = off.
    """

    name: str
    description: str = ""
    shift: float = 0.0
    flip: bool = False
    rotate: float = 0.0
    zoom: float = 0.0
    erase: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0

    @property
    def mixes_labels(self) -> bool:
        """True when labels come out as float32 one-hot mixtures ``(batch, classes)``."""
        return self.mixup > 0 or self.cutmix > 0


_PRESETS: dict[str, AugmentPreset] = {}


def register_augment_preset(preset: AugmentPreset) -> AugmentPreset:
    """Add ``preset`` to the registry; returns it.

    Raises:
        ValueError: a preset of that name exists, or MixUp and CutMix are both on.
    """
    if preset.name in _PRESETS:
        raise ValueError(f"augment preset {preset.name!r} is already registered.")
    if preset.mixup and preset.cutmix:
        raise ValueError(f"augment preset {preset.name!r} turns on both mixup and cutmix; "
                         f"choose one per preset.")
    _PRESETS[preset.name] = preset
    return preset


for _preset in (
    AugmentPreset("none", "no augmentation: pixels cast to float32"),
    AugmentPreset("light", "shift up to 1/14 of the side (2 px at 28), flip", shift=1 / 14,
                  flip=True),
    AugmentPreset("erasing", "light + erase a patch half the time (random erasing)",
                  shift=1 / 14, flip=True, erase=0.5),
    AugmentPreset("standard", "shift up to 1/8 (pad-and-crop), flip", shift=1 / 8, flip=True),
    AugmentPreset("strong", "standard + rotate 10 deg, zoom 10%, erase a patch half the time",
                  shift=1 / 8, flip=True, rotate=10.0, zoom=0.1, erase=0.5),
    AugmentPreset("mixup", "standard + MixUp(alpha=0.2); labels become mixed one-hot",
                  shift=1 / 8, flip=True, mixup=0.2),
    AugmentPreset("cutmix", "standard + CutMix(alpha=1.0); labels become mixed one-hot",
                  shift=1 / 8, flip=True, cutmix=1.0),
):
    register_augment_preset(_preset)


def list_augment_presets() -> list[str]:
    """Returns the registered preset names, weakest first.

    Example:
        >>> list_augment_presets()[:4]
        ['none', 'light', 'erasing', 'standard']
    """
    return list(_PRESETS)


def get_augment_preset(preset: str | AugmentPreset | None) -> AugmentPreset:
    """Returns the preset called ``preset`` (``None`` means ``"none"``).

    Raises:
        ValueError: unknown name (with the nearest names).
    """
    if isinstance(preset, AugmentPreset):
        return preset
    if preset is None:
        return _PRESETS["none"]
    if not isinstance(preset, str) or preset not in _PRESETS:
        close = difflib.get_close_matches(str(preset), list(_PRESETS), n=2)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown augment preset augment={preset!r}; known presets: "
                         f"{list(_PRESETS)}.{hint}")
    return _PRESETS[preset]


# ---- TensorFlow batch ops ----------------------------------------------------------------

def _geometry(tf, images, preset, flip, seed):
    """Shift, flip, rotate and zoom each image with one projective-transform op per batch.

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


def _box_mask(tf, batch, height, width, y0, x0, box_h, box_w):
    rows = tf.range(height)[None]
    cols = tf.range(width)[None]
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + box_h)[:, None])
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + box_w)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :])[..., None]


def _erase(tf, images, probability, seed):
    """Zero one random rectangle (2%..25% of the area, aspect 0.5..2) per chosen image."""
    height, width = images.shape[1], images.shape[2]
    batch = tf.shape(images)[0]
    u = tf.random.stateless_uniform([batch, 5], seed)
    area = (0.02 + 0.23 * u[:, 0]) * height * width
    aspect = tf.exp((u[:, 1] * 2.0 - 1.0) * math.log(2.0))
    box_h = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32), 1, height)
    box_w = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32), 1, width)
    y0 = tf.cast(u[:, 2] * tf.cast(height - box_h + 1, tf.float32), tf.int32)
    x0 = tf.cast(u[:, 3] * tf.cast(width - box_w + 1, tf.float32), tf.int32)
    mask = _box_mask(tf, batch, height, width, y0, x0, box_h, box_w)
    mask &= (u[:, 4] < probability)[:, None, None, None]
    return tf.where(mask, tf.zeros_like(images), images)


def _beta(tf, alpha, seed):
    seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    a = tf.random.stateless_gamma([], seed_a, alpha)
    b = tf.random.stateless_gamma([], seed_b, alpha)
    return a / (a + b)


def _mix(tf, images, onehot, preset, seed):
    """MixUp or CutMix with a partner drawn by permuting the batch (one lambda per batch)."""
    seed_perm, seed_lam, seed_box = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    batch = tf.shape(images)[0]
    partner = tf.random.experimental.stateless_shuffle(tf.range(batch), seed_perm)
    other_images = tf.gather(images, partner)
    other_labels = tf.gather(onehot, partner)
    if preset.mixup:
        lam = _beta(tf, preset.mixup, seed_lam)
        mixed = lam * images + (1.0 - lam) * other_images
    else:
        height, width = images.shape[1], images.shape[2]
        lam = _beta(tf, preset.cutmix, seed_lam)
        cut = tf.sqrt(1.0 - lam)
        box_h = tf.cast(tf.round(cut * height), tf.int32)
        box_w = tf.cast(tf.round(cut * width), tf.int32)
        centre = tf.random.stateless_uniform([2], seed_box)
        cy = tf.cast(centre[0] * height, tf.int32)
        cx = tf.cast(centre[1] * width, tf.int32)
        y0, y1 = tf.maximum(cy - box_h // 2, 0), tf.minimum(cy + (box_h + 1) // 2, height)
        x0, x1 = tf.maximum(cx - box_w // 2, 0), tf.minimum(cx + (box_w + 1) // 2, width)
        mask = _box_mask(tf, 1, height, width, y0[None], x0[None],
                         (y1 - y0)[None], (x1 - x0)[None])
        mixed = tf.where(mask, other_images, images)
        # The label weight is the area actually pasted, after clipping at the border.
        lam = 1.0 - tf.cast((y1 - y0) * (x1 - x0), tf.float32) / float(height * width)
    return mixed, lam * onehot + (1.0 - lam) * other_labels


def make_batch_augmenter(preset, *, num_classes: int, flip_allowed: bool = True):
    """Build the batch function the pipeline maps.

    Args:
        preset: a name from :func:`list_augment_presets`, an :class:`AugmentPreset`, or None.
        num_classes: number of classes (for one-hot labels when the preset mixes).
        flip_allowed: False for data where a mirror image changes the class (digits).

    Returns:
        ``fn(images, labels, seed)``: ``images`` uint8 ``(B, H, W, C)``, ``labels`` int
        ``(B,)``, ``seed`` an int32/int64 tensor of shape ``(2,)``. Returns float32 images
        in [0, 255] and int32 labels ``(B,)``, or float32 ``(B, num_classes)`` mixed
        one-hot labels when the preset mixes.

    Raises:
        ValueError: unknown preset.
    """
    import tensorflow as tf

    preset = get_augment_preset(preset)
    flip = preset.flip and flip_allowed

    def augment(images, labels, seed):
        seed_geometry, seed_erase, seed_mix = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
        if preset.erase:
            images = _erase(tf, images, preset.erase, seed_erase)
        if preset.shift or flip or preset.rotate or preset.zoom:
            images = _geometry(tf, images, preset, flip, seed_geometry)
        images = tf.cast(images, tf.float32)
        labels = tf.cast(labels, tf.int32)
        if preset.mixes_labels:
            onehot = tf.one_hot(labels, num_classes, dtype=tf.float32)
            images, labels = _mix(tf, images, onehot, preset, seed_mix)
        return images, labels

    return augment
