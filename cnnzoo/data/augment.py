"""Augmentation presets, applied to whole batches inside tf.data.

A preset is data (`AugmentPreset`): how far to shift, whether to flip, rotate,
zoom, erase, MixUp or CutMix; presets need no TensorFlow. `make_batch_augmenter` (in
`augment_ops`, imported on first use) turns a preset into a function
`(uint8 images, int labels, seed) -> (float32 images, labels)` that the pipeline maps
over batches.

Why plain TensorFlow ops and not Keras preprocessing layers (measured, not assumed:
`python bench/bench_pipeline.py --compare-keras` runs the same shuffled, batched
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
(`flip=False`, set from the dataset name by the pipeline).
"""

from __future__ import annotations

import dataclasses
import difflib

from cnnzoo.lazy import lazy_attributes

__all__ = ["AugmentPreset", "register_augment_preset", "get_augment_preset",
           "list_augment_presets", "make_batch_augmenter"]


@dataclasses.dataclass(frozen=True)
class AugmentPreset:
    """One named augmentation recipe; all fields default to "off".

    Attributes:
        name: the preset's name.
        description: one line for `list_augment_presets`/docs.
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
        """True when labels come out as float32 one-hot mixtures `(batch, classes)`."""
        return self.mixup > 0 or self.cutmix > 0


_PRESETS: dict[str, AugmentPreset] = {}


def register_augment_preset(preset: AugmentPreset) -> AugmentPreset:
    """Adds `preset` to the registry; returns it.

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
    """Returns the preset called `preset` (`None` means `"none"`).

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


# The batch function needs TensorFlow; it is imported when first asked for, so the
# presets stay plain Python (the JAX backend and the CLI's parser list them).
__getattr__, __dir__ = lazy_attributes(__name__,
                                       {"make_batch_augmenter": "cnnzoo.data.augment_ops"})
