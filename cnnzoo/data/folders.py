"""Read a folder of images, one sub-folder per class, into uint8 arrays.

Every file is checked by name and by its first bytes before Keras's
`image_dataset_from_directory` (which does the decoding and resizing) sees it,
so an empty class folder, a stray non-image file or an image declaring more
pixels than `cnnzoo.image_header.MAX_IMAGE_PIXELS` (a decompression bomb) is a
clear error naming the path rather than a TensorFlow decode error deep inside a
pipeline or gigabytes of memory; a file that fails to decode all the same
(its data cut short) is named too.
"""

from __future__ import annotations

import os
import re

import numpy as np

from cnnzoo.image_header import ImageTooLargeError, check_image_size

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
    """Checks `root` and lists its classes and files.

    Returns:
        `(class_names, {class_name: [file paths]})`, classes sorted by name
        (the label order `image_dataset_from_directory` uses).

    Raises:
        ImageFolderError: no class sub-folders, an empty class folder, a file
            without an image extension, a file whose bytes do not match its
            extension, or one whose header declares more pixels than
            `cnnzoo.image_header.MAX_IMAGE_PIXELS`.
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
                head = f.read(65536)  # Where `image_size` looks for the header.
            if not head.startswith(_IMAGE_MAGIC[ext]):
                raise ImageFolderError(
                    f"{path} is named like a {ext} image but its contents are not "
                    f"(first bytes {head[:8].hex() or 'empty'}); the file is corrupt. "
                    f"Replace or remove it.")
            try:
                check_image_size(head, name=path)
            except ImageTooLargeError as error:
                raise ImageFolderError(f"{error} A header declaring that many pixels may "
                                       "be a decompression bomb; remove it if unsure.") \
                    from None
        files[name] = entries
    return tuple(classes), files


# Pillow modes holding one gray channel (plus, for "LA"/"La", an alpha that is dropped).
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _is_gray(path: str) -> bool:
    """Whether `path` holds a gray image, from its header when Pillow is installed."""
    if os.path.splitext(path)[1].lower() in (".gif", ".bmp"):
        return False  # TensorFlow decodes these only to 3 or 4 channels
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        try:
            with Image.open(path) as image:  # reads the header only, not the pixels
                if image.mode == "P":  # a palette: gray when every entry is
                    palette = np.asarray(image.getpalette() or [0, 0, 0]).reshape(-1, 3)
                    return bool(np.all(palette == palette[:, :1]))
                return image.mode in _GRAY_MODES
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            # PIL.UnidentifiedImageError is an OSError.
            raise ImageFolderError(f"{path} cannot be read as an image ({err}); the file is "
                                   f"corrupt. Replace or remove it.") from None
    return int(_decode(path).shape[-1]) < 3


def _decode(path: str):
    """Returns the image in `path` decoded by TensorFlow, as the folder reader decodes it.

    Raises:
        ImageFolderError: TensorFlow cannot decode it; the message names `path`.
    """
    import tensorflow as tf

    try:
        return tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False)
    except tf.errors.InvalidArgumentError as err:
        reason = re.sub(r"\{\{[^}]*\}\}|\[Op:.*", "", str(err.message)).strip()
        raise ImageFolderError(f"{path} cannot be decoded as an image ({reason}); the file "
                               f"is corrupt or cut short. Replace or remove it.") from None


def _name_undecodable(files: dict[str, list[str]], error) -> None:
    """Raises the `ImageFolderError` naming the file behind a decode `error` in the pipeline.

    `image_dataset_from_directory`'s error does not say which file failed; decoding each
    file again (only on this failure path) finds it. Re-raises `error` if none fails.
    """
    for paths in files.values():
        for path in paths:
            _decode(path)
    raise error


def _color_mode(files: dict[str, list[str]]) -> str:
    """"grayscale" when every image is gray, else "rgb" (one colour image settles it)."""
    return "grayscale" if all(_is_gray(p) for paths in files.values() for p in paths) \
        else "rgb"


def read_image_folder(root: str, *, image_size: tuple[int, int] | None = None,
                      color_mode: str | None = None):
    """Reads every image under `root` (one sub-folder per class) into memory.

    Args:
        root: the folder.
        image_size: `(height, width)` to resize to; `None` takes the first
            image's size.
        color_mode: `"grayscale"` or `"rgb"`; `None` reads `"grayscale"`
            when every image is gray (from the file headers when Pillow is
            installed, else by decoding) and `"rgb"` otherwise, so one gray image
            never turns a colour folder gray. Alpha is always dropped, as the
            exported bytes signature does: models take 1 or 3 channels. GIF and BMP
            files count as colour (TensorFlow decodes them only to 3 or 4 channels).

    Returns:
        `(images, labels, class_names)`: uint8 `(N, H, W, C)` with C 1 or 3,
        int32 `(N,)`, and the class names in label order.

    Raises:
        ImageFolderError: see `list_image_folder`; also a file TensorFlow cannot decode.
        ValueError: `color_mode` is not None, "grayscale" or "rgb".
    """
    import keras
    import tensorflow as tf

    if color_mode not in (None, "grayscale", "rgb"):
        raise ValueError(f"color_mode must be None, 'grayscale' or 'rgb' (cnnzoo models take "
                         f"1 or 3 channels); received color_mode={color_mode!r}.")
    class_names, files = list_image_folder(root)
    if image_size is None:
        image_size = tuple(int(d) for d in _decode(files[class_names[0]][0]).shape[:2])
    if color_mode is None:
        color_mode = _color_mode(files)
    dataset = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=list(class_names),
        color_mode=color_mode, batch_size=None, image_size=tuple(image_size),
        shuffle=False, verbose=False)
    images, labels = [], []
    try:
        for x, y in dataset.batch(1024).as_numpy_iterator():
            images.append(np.clip(np.round(x), 0, 255).astype(np.uint8))
            labels.append(y.astype(np.int32))
    except tf.errors.InvalidArgumentError as error:
        _name_undecodable(files, error)
    return np.concatenate(images), np.concatenate(labels), class_names
