"""The raw-pixel rule: cnnzoo models take pixels as loaded (0-255) and normalise inside.

A Keras user who divides by 255, as the Keras MNIST examples do, feeds a cnnzoo model
images it sees as nearly black: training still runs and quietly ends far lower
(19% instead of 70% on Fashion-MNIST). `fit`, `evaluate` and an export's `predict`
check the first batch and warn. To refuse such data instead, turn the warning into an
error: `warnings.simplefilter("error", cnnzoo.PixelRangeWarning)`.
"""

import warnings

import numpy as np

# Enough images to tell a scaled batch from a dark one, and cheap on any input.
_CHECKED_IMAGES = 256


class PixelRangeWarning(UserWarning):
    """Images whose pixels all lie in [0, 1] went to a model that takes 0-255 pixels."""


def warn_if_scaled(images, *, where, stacklevel=3):
    """Warns with `PixelRangeWarning` when every pixel of `images` lies in [0, 1].

    All-zero images (padding, a blank test image) do not warn. Only the first 256 images
    are looked at; `images` is a NumPy array or anything `np.asarray` takes (a tensor).

    Args:
        images: a batch of images.
        where: the function the images went to, for the message (e.g. "fit").
        stacklevel: as `warnings.warn`'s, counted from the caller of this function's
            caller (the default points at whoever called `fit`).

    Returns:
        Whether it warned.

    Example:
        >>> import numpy as np
        >>> warn_if_scaled(np.full((2, 4, 4, 1), 200, "uint8"), where="fit")
        False
    """
    try:
        values = np.asarray(images[:_CHECKED_IMAGES])
    except (TypeError, ValueError, IndexError):  # Not a batch of pixels; the caller's checks say so.
        return False
    if values.dtype.kind not in "biuf" or not values.size:
        return False
    low, high = values.min(), values.max()
    if not (0 <= low and 0 < high <= 1):
        return False
    warnings.warn(
        f"{where} received images whose pixels all lie in [0, 1] (largest {float(high):.3g}); "
        f"cnnzoo models take raw 0-255 pixels and normalise them inside the model. Pass the "
        f"images as loaded, without dividing by 255.",
        PixelRangeWarning, stacklevel=stacklevel)
    return True
