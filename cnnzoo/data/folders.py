"""Read a folder of images, one sub-folder per class, into uint8 arrays.

Every file is checked by name and by its first bytes before Keras's
``image_dataset_from_directory`` (which does the decoding and resizing) sees it,
so an empty class folder or a stray non-image file is a clear error naming the
path rather than a TensorFlow decode error deep inside a pipeline.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["ImageFolderError", "list_image_folder", "read_image_folder", "SPLIT_FOLDERS"]

_IMAGE_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".bmp": (b"BM",),
}
# Folder names taken to be splits rather than classes when they sit at the top level.
SPLIT_FOLDERS = ("train", "test", "validation", "val")


class ImageFolderError(ValueError):
    """An image folder is empty, or holds a file that is not a readable image."""


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def list_image_folder(root: str) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """Check ``root`` and list its classes and files.

    Returns:
        ``(class_names, {class_name: [file paths]})``, classes sorted by name
        (the label order ``image_dataset_from_directory`` uses).

    Raises:
        ImageFolderError: no class sub-folders, an empty class folder, a file
            without an image extension, or a file whose bytes do not match its
            extension.
    """
    classes = [n for n in _visible(os.listdir(root)) if os.path.isdir(os.path.join(root, n))]
    if not classes:
        raise ImageFolderError(
            f"{root} has no class sub-folders; an image folder needs one sub-folder "
            f"per class, e.g. {root}/cat/001.png, {root}/dog/002.png.")
    files: dict[str, list[str]] = {}
    for name in classes:
        folder = os.path.join(root, name)
        entries = [os.path.join(folder, n) for n in _visible(os.listdir(folder))]
        entries = [p for p in entries if os.path.isfile(p)]
        if not entries:
            raise ImageFolderError(
                f"class folder {folder} is empty; every class needs at least one "
                f"image (or remove the folder).")
        for path in entries:
            ext = os.path.splitext(path)[1].lower()
            if ext not in _IMAGE_MAGIC:
                raise ImageFolderError(
                    f"{path} is not an image file (extension {ext or 'none'!r}); image "
                    f"folders may hold only {sorted(_IMAGE_MAGIC)} files. Move it out.")
            with open(path, "rb") as f:
                head = f.read(8)
            if not head.startswith(_IMAGE_MAGIC[ext]):
                raise ImageFolderError(
                    f"{path} is named like a {ext} image but its contents are not "
                    f"(first bytes {head.hex() or 'empty'}); the file is corrupt. "
                    f"Replace or remove it.")
        files[name] = entries
    return tuple(classes), files


def read_image_folder(root: str, *, image_size: tuple[int, int] | None = None,
                      color_mode: str | None = None):
    """Read every image under ``root`` (one sub-folder per class) into memory.

    Args:
        root: the folder.
        image_size: ``(height, width)`` to resize to; ``None`` takes the first
            image's size.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``; ``None`` follows
            the first image's channels.

    Returns:
        ``(images, labels, class_names)``: uint8 ``(N, H, W, C)``, int32 ``(N,)``,
        and the class names in label order.

    Raises:
        ImageFolderError: see :func:`list_image_folder`.
    """
    import keras
    import tensorflow as tf

    class_names, files = list_image_folder(root)
    first = tf.io.decode_image(tf.io.read_file(files[class_names[0]][0]),
                               expand_animations=False)
    if image_size is None:
        image_size = tuple(int(d) for d in first.shape[:2])
    if color_mode is None:
        color_mode = {1: "grayscale", 4: "rgba"}.get(int(first.shape[-1]), "rgb")
    dataset = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=list(class_names),
        color_mode=color_mode, batch_size=None, image_size=tuple(image_size),
        shuffle=False, verbose=False)
    images, labels = [], []
    for x, y in dataset.batch(1024).as_numpy_iterator():
        images.append(np.clip(np.round(x), 0, 255).astype(np.uint8))
        labels.append(y.astype(np.int32))
    return np.concatenate(images), np.concatenate(labels), class_names
