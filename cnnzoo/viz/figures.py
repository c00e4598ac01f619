"""Making and saving figures without pyplot, so no backend is chosen or changed.

Figures are `matplotlib.figure.Figure` objects made directly (matplotlib's advice for
servers and libraries): they keep no global state, need no display, render to PNG with
the Agg canvas on any headless machine, and a notebook still shows one returned as the
last expression of a cell through its own (e.g. inline) backend, which is left alone.
"""

import pathlib

from cnnzoo.atomic import atomic_file

INSTALL_HINT = "pip install cnnzoo[viz]"


def new_figure(width, height, **kwargs):
    """Returns an empty `matplotlib.figure.Figure` of `width` x `height` inches.

    Raises:
        ImportError: matplotlib is not installed, naming the extra that installs it.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"cnnzoo.viz draws with matplotlib, which is not installed: "
                          f"{INSTALL_HINT}") from error
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def save_figure(figure, path, *, dpi=100):
    """Writes `figure` to `path` (PNG, or any format matplotlib knows by its suffix).

    The file is written atomically: a reader never sees half an image.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: a path without a suffix naming the format.
    """
    path = pathlib.Path(path)
    if not path.suffix:
        raise ValueError(f"path needs a suffix naming the image format, such as .png; "
                         f"received {str(path)!r}.")
    with atomic_file(path, overwrite=True) as temporary:
        figure.savefig(temporary, dpi=dpi, format=path.suffix[1:].lower())
    return path


def grid_shape(count, columns):
    """Returns `(rows, columns)` for `count` panels at most `columns` wide.

    Example:
        >>> grid_shape(10, 8), grid_shape(3, 8)
        ((2, 8), (1, 3))
    """
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def panel_grid(count, *, columns=8, size=1.4, title_space=0.35):
    """Returns `(figure, axes)`: a grid for `count` small panels, spare ones hidden.

    `axes` is a flat list of the first `count` axes, ticks off.
    """
    rows, columns = grid_shape(count, columns)
    figure = new_figure(columns * size, rows * (size + title_space))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    for axis in axes[count:]:
        axis.set_visible(False)
    return figure, list(axes[:count])


def show_image(axis, image):
    """Draws one raw-pixel image (H, W, 1 or 3; values 0-255) on `axis`, ticks off."""
    import numpy as np

    image = np.clip(np.asarray(image, np.float32), 0, 255)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        axis.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        axis.imshow(image / 255.0, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
