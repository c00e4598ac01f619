"""Read a folder of images, one sub-folder per class, into uint8 arrays.

Every file Keras's `image_dataset_from_directory` will read (it walks each class folder
recursively, hidden files and sub-folders included, and takes every file with an image
extension) is checked first by the same rules (`check_image_file`): a regular file (links
followed; no FIFO, device, broken or looping link), at most `MAX_IMAGE_FILE_BYTES`, bytes
that match its extension, and a header declaring at most
`cnnzoo.image_header.MAX_IMAGE_PIXELS` pixels (a decompression bomb). A file that fails is
a clear `ImageFolderError` naming its path rather than a hang, gigabytes of memory or a
TensorFlow traceback; a file that fails to decode all the same (its data cut short) is
named too.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import stat

import numpy as np

from cnnzoo.data.files import special_kind
from cnnzoo.image_header import MAX_IMAGE_PIXELS, ImageTooLargeError, check_image_size

__all__ = ["ImageFolderError", "MAX_IMAGE_FILE_BYTES", "check_image_file", "check_resize",
           "list_class_names", "list_image_folder", "read_image_folder", "SPLIT_FOLDERS"]

_IMAGE_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".bmp": (b"BM",),
}
# Folder names taken to be splits rather than classes when they sit at the top level.
SPLIT_FOLDERS = ("train", "test", "validation", "val")
# 64 MiB: above any encoded image of at most MAX_IMAGE_PIXELS pixels but an uncompressed
# 32-bit BMP (refused by its header anyway), far below what harms a process.
MAX_IMAGE_FILE_BYTES = 64 * 2 ** 20
_HEADER_BYTES = 65536  # Where `image_size` looks for the header.


class ImageFolderError(ValueError):
    """An image folder is empty, or holds a file that is not a readable image."""


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def _open_failure(path: str, error: OSError) -> str:
    """Says why `path` could not be opened, in the words of what it is."""
    if error.errno == errno.ELOOP:
        return f"{path} is a symbolic link that leads back to itself. Fix or remove the link."
    if os.path.islink(path) and not os.path.exists(path):
        return (f"{path} is a broken symbolic link (to {os.readlink(path)!r}, which does "
                f"not exist). Fix or remove the link.")
    try:
        kind = special_kind(os.stat(path).st_mode)  # A socket cannot be opened.
    except OSError:
        kind = None
    if kind is not None:
        return f"{path} is {kind}, not an image file. Remove it from the image folder."
    return (f"{path} cannot be opened ({error.strerror or error}). Fix its permissions or "
            f"remove it.")


def check_image_file(path: str) -> bytes:
    """Checks that `path` is an image file an image folder may hold, without decoding it.

    The file is opened without blocking (a FIFO cannot hang the open) and its kind and
    size are taken from the open file, so what is checked is what is read.

    Returns:
        Its first bytes (up to 64 KiB), holding the header.

    Raises:
        ImageFolderError: naming `path`: it cannot be opened (a broken or looping link,
            no permission), is no regular file (a FIFO, a device, a socket), is larger
            than `MAX_IMAGE_FILE_BYTES`, has no image extension, has bytes that do not
            match its extension, or declares more pixels than
            `cnnzoo.image_header.MAX_IMAGE_PIXELS`.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in _IMAGE_MAGIC:
        raise ImageFolderError(
            f"{path} is not an image file (extension {ext or 'none'!r}); image "
            f"folders may hold only {sorted(_IMAGE_MAGIC)} files. Move it out.")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ImageFolderError(_open_failure(path, error)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        kind = special_kind(info.st_mode) or (None if stat.S_ISREG(info.st_mode)
                                              else "not a regular file")
        if kind is not None:
            raise ImageFolderError(
                f"{path} is {kind}, not an image file; reading it could block or never "
                f"end. Remove it from the image folder.")
        if info.st_size > MAX_IMAGE_FILE_BYTES:
            raise ImageFolderError(
                f"{path} is {info.st_size:,} bytes; an image file may be at most "
                f"{MAX_IMAGE_FILE_BYTES:,} bytes. Resize it or remove it.")
        head = f.read(_HEADER_BYTES)
        if not head.startswith(_IMAGE_MAGIC[ext]):
            raise ImageFolderError(
                f"{path} is named like a {ext} image but its contents are not "
                f"(first bytes {head[:8].hex() or 'empty'}); the file is corrupt. "
                f"Replace or remove it.")
        # The whole file, mapped: a header may reach past any window (JPEG segments, GIF
        # frames), and image_header walks it without copying.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as whole:
            try:
                check_image_size(whole, name=path)
            except ImageTooLargeError as error:
                raise ImageFolderError(f"{error} A header declaring that much may be a "
                                       "decompression bomb; remove it if unsure.") from None
    return head


def _class_files(folder: str) -> list[str]:
    """Returns the files of class folder `folder` that Keras reads, each checked.

    Walks as `image_dataset_from_directory` does (recursively, not into linked folders,
    hidden files included) and checks every file with an image extension. A visible
    file without one is refused as a stray; a hidden one (`.DS_Store`) is not read, so
    it is left alone.

    Raises:
        ImageFolderError: see `check_image_file`.
    """
    paths = []
    for directory, _, names in sorted(os.walk(folder), key=lambda entry: entry[0]):
        relative = os.path.relpath(directory, folder)
        hidden_directory = any(part.startswith(".") for part in relative.split(os.sep)
                               if part != ".")
        for name in sorted(names):
            path = os.path.join(directory, name)
            is_image = name.lower().endswith(tuple(_IMAGE_MAGIC))
            if is_image or not (hidden_directory or name.startswith(".")):
                check_image_file(path)
                paths.append(path)
    return paths


def list_class_names(root: str) -> tuple[str, ...]:
    """Returns the class names of image folder `root`: its visible sub-folders, sorted
    (the label order `image_dataset_from_directory` uses).

    Raises:
        ImageFolderError: `root` has no class sub-folders.
    """
    classes = [n for n in _visible(os.listdir(root)) if os.path.isdir(os.path.join(root, n))]
    if not classes:
        raise ImageFolderError(
            f"{root} has no class sub-folders; an image folder needs one sub-folder "
            f"per class, e.g. {root}/cat/001.png, {root}/dog/002.png.")
    return tuple(classes)


def list_image_folder(root: str) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """Checks `root` and lists its classes and the files of each, every one checked.

    Returns:
        `(class_names, {class_name: [file paths]})`, classes sorted by name
        (the label order `image_dataset_from_directory` uses).

    Raises:
        ImageFolderError: no class sub-folders, an empty class folder, or a file that
            fails `check_image_file` (in a sub-folder or hidden, too).
    """
    classes = list_class_names(root)
    files: dict[str, list[str]] = {}
    for name in classes:
        folder = os.path.join(root, name)
        files[name] = _class_files(folder)
        if not files[name]:
            raise ImageFolderError(
                f"class folder {folder} is empty; every class needs at least one "
                f"image (or remove the folder).")
    return classes, files


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
    except tf.errors.OpError as err:
        raise ImageFolderError(f"{path} cannot be decoded as an image ({_reason(err)}); the "
                               f"file is corrupt or cut short. Replace or remove it.") from None


def _reason(error) -> str:
    """The first line of a TensorFlow error's message, without its graph and op noise."""
    message = re.sub(r"\{\{[^}]*\}\}|\[Op:.*", "", str(error.message)).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _name_undecodable(files: dict[str, list[str]], error) -> None:
    """Raises the `ImageFolderError` naming the file behind a decode `error` in the pipeline.

    `image_dataset_from_directory`'s error does not say which file failed; decoding each
    file again (only on this failure path) finds it. When none fails (the file changed
    since), the error's own first line is given.

    Raises:
        ImageFolderError: always.
    """
    for paths in files.values():
        for path in paths:
            _decode(path)
    raise ImageFolderError(f"an image under the folder could not be read ({_reason(error)}); "
                           f"did a file change while it was read? Try again.") from None


def _color_mode(files: dict[str, list[str]]) -> str:
    """"grayscale" when every image is gray, else "rgb" (one colour image settles it)."""
    return "grayscale" if all(_is_gray(p) for paths in files.values() for p in paths) \
        else "rgb"


def check_resize(image_size) -> tuple[int, int] | None:
    """Checks an `image_size=` to resize images to.

    Returns:
        `(height, width)` as ints, or None for None.

    Raises:
        ValueError: not two positive integers, or more pixels than
            `cnnzoo.image_header.MAX_IMAGE_PIXELS` (each image would take that memory).
    """
    if image_size is None:
        return None
    try:
        height, width = image_size
    except (TypeError, ValueError):
        height = width = None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
               for d in (height, width)):
        raise ValueError(f"image_size must be (height, width), two integers >= 1; received "
                         f"image_size={image_size!r}.")
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(f"image_size={tuple(image_size)!r} is {height * width:,} pixels an "
                         f"image; the limit is {MAX_IMAGE_PIXELS:,} (e.g. 4096x4096). Pass a "
                         f"smaller image_size.")
    return int(height), int(width)


def _label_map(found: tuple[str, ...], class_names, root: str) -> np.ndarray:
    """Returns, for each class folder in `found`, its label among `class_names`.

    Raises:
        ImageFolderError: a class folder that `class_names` (the training split's) lacks.
    """
    extra = [name for name in found if name not in class_names]
    if extra:
        raise ImageFolderError(
            f"{root} has class folder(s) {extra} that the training split lacks (it has "
            f"{list(class_names)}); every split must use the training split's classes, or "
            f"its labels would mean other classes. Rename or remove those folders.")
    return np.array([list(class_names).index(name) for name in found], np.int32)


def read_image_folder(root: str, *, image_size: tuple[int, int] | None = None,
                      color_mode: str | None = None, class_names=None):
    """Reads every image under `root` (one sub-folder per class) into memory.

    Args:
        root: the folder.
        image_size: `(height, width)` to resize to (`check_resize`); `None` takes the
            first image's size.
        color_mode: `"grayscale"` or `"rgb"`; `None` reads `"grayscale"`
            when every image is gray (from the file headers when Pillow is
            installed, else by decoding) and `"rgb"` otherwise, so one gray image
            never turns a colour folder gray. Alpha is always dropped, as the
            exported bytes signature does: models take 1 or 3 channels. GIF and BMP
            files count as colour (TensorFlow decodes them only to 3 or 4 channels).
        class_names: the label of each class name (a training split's classes, for a
            test split); `root` may lack some, but may hold no other. None: `root`'s
            own class folders.

    Returns:
        `(images, labels, class_names)`: uint8 `(N, H, W, C)` with C 1 or 3,
        int32 `(N,)`, and the class names in label order.

    Raises:
        ImageFolderError: see `list_image_folder`; a class folder not in `class_names`;
            a file TensorFlow cannot decode.
        ValueError: `color_mode` is not None, "grayscale" or "rgb"; a bad `image_size`.
    """
    import keras
    import tensorflow as tf

    if color_mode not in (None, "grayscale", "rgb"):
        raise ValueError(f"color_mode must be None, 'grayscale' or 'rgb' (cnnzoo models take "
                         f"1 or 3 channels); received color_mode={color_mode!r}.")
    image_size = check_resize(image_size)
    found = list_class_names(root)
    class_names = found if class_names is None else tuple(class_names)
    labels_of = _label_map(found, class_names, root)  # Before any file is read.
    found, files = list_image_folder(root)
    if image_size is None:
        image_size = tuple(int(d) for d in _decode(files[found[0]][0]).shape[:2])
    if color_mode is None:
        color_mode = _color_mode(files)
    dataset = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=list(found),
        color_mode=color_mode, batch_size=None, image_size=tuple(image_size),
        shuffle=False, verbose=False)
    checked = {path for paths in files.values() for path in paths}
    for path in dataset.file_paths:  # Keras's own list: nothing unchecked is read.
        if path not in checked:
            check_image_file(path)
    images, labels = [], []
    try:
        for x, y in dataset.batch(1024).as_numpy_iterator():
            images.append(np.clip(np.round(x), 0, 255).astype(np.uint8))
            labels.append(labels_of[y])
    except tf.errors.OpError as error:
        _name_undecodable(files, error)
    return np.concatenate(images), np.concatenate(labels), class_names
