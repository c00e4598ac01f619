"""Image sizes read from the file header, so oversized images are refused before decoding.

A 0.4 MB PNG can declare 10000x10000 pixels and decode to 300 MB; a server or a folder
reader that decodes first and checks after has already spent the memory. These readers
walk only the header structures of PNG, JPEG, GIF, BMP and WebP (plain Python, no
TensorFlow), which is all `tf.io.decode_image` accepts: a JPEG's segments up to its frame
header wherever they end, a PNG's chunks up to its pixel data, every frame of a GIF, a
WebP's chunks. They give what the decoder will hold: width x height x channels x bytes
per sample (x frames), so a 16-bit RGBA PNG counts 8 bytes a pixel, not 1.

Two checks use them: `check_image_header` refuses an image whose size cannot be found
(what the server, `cnnzoo predict` and `cnnzoo explain` decode must pass it);
`check_image_size` lets such bytes through for the decoder to name what is wrong.
"""

import dataclasses
import struct

# 4096 x 4096: far above any image a classifier in this zoo resizes from, far below what
# harms a process (one such RGB image decodes to 48 MiB).
MAX_IMAGE_PIXELS = 4096 * 4096
# What one image may decode to: a 4096 x 4096 8-bit RGB image. A 16-bit or RGBA one of
# that size is refused by this, not by its pixels.
MAX_DECODED_BYTES = 4096 * 4096 * 3

__all__ = ["ImageHeader", "ImageHeaderError", "ImageTooLargeError", "MAX_DECODED_BYTES",
           "MAX_IMAGE_PIXELS", "check_image_header", "check_image_size", "image_size",
           "read_image_header"]


class ImageTooLargeError(ValueError):
    """An encoded image whose header declares more pixels or decoded bytes than allowed."""


class ImageHeaderError(ValueError):
    """Encoded image bytes whose size cannot be read from a PNG, JPEG, GIF, BMP or WebP
    header (not an image, or cut short before its size)."""


@dataclasses.dataclass(frozen=True)
class ImageHeader:
    """What an encoded image's header declares.

    Attributes:
        format: "png", "jpeg", "gif", "bmp" or "webp".
        width, height: the image's size (a GIF's screen, a WebP's canvas).
        channels: the channels `tf.io.decode_image(..., channels=0)` gives (at most).
        bytes_per_sample: 2 for 16-bit PNG and 12/16-bit JPEG samples, else 1.
        frames: the frames a decoder reads (a GIF's images, an animated WebP's frames).
        largest_frame: `(width, height)` of the largest frame (a GIF frame may exceed
            its screen).
        frame_pixels: the pixels of every frame together (a GIF decoder holds them all).
    """

    format: str
    width: int
    height: int
    channels: int
    bytes_per_sample: int = 1
    frames: int = 1
    largest_frame: tuple = None
    frame_pixels: int = None

    @property
    def pixels(self):
        """The most pixels one image or frame of it holds."""
        largest = self.largest_frame or (self.width, self.height)
        return max(self.width * self.height, largest[0] * largest[1])

    @property
    def decoded_bytes(self):
        """What decoding holds: every frame at width x height x channels x bytes per
        sample, plus a GIF's frames as read (one byte a pixel)."""
        whole = self.width * self.height * self.channels * self.bytes_per_sample
        return whole * max(self.frames, 1) + (self.frame_pixels or 0)


def _bytes(data, start, length):
    return bytes(data[start:start + length])


def _png_header(data):
    if _bytes(data, 0, 8) != b"\x89PNG\r\n\x1a\n" or _bytes(data, 12, 4) != b"IHDR" \
            or len(data) < 26:
        return None
    width, height, depth, color = struct.unpack(">IIBB", _bytes(data, 16, 10))
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color)
    if channels is None:
        return None
    position = 8
    while position + 8 <= len(data):  # Chunks up to the pixel data: is there a tRNS?
        length, kind = struct.unpack(">I4s", _bytes(data, position, 8))
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"tRNS" and color in (2, 3):  # Palette and RGB gain alpha; gray not.
            channels = 4
        position += 12 + length
    return ImageHeader("png", width, height, channels, 2 if depth == 16 else 1)


def _gif_header(data):
    if _bytes(data, 0, 6) not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    width, height = struct.unpack("<HH", _bytes(data, 6, 4))
    flags = data[10] if len(data) > 10 else 0
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, frame_pixels, largest = 0, 0, (0, 0)
    # Every block up to the trailer: giflib reads every frame into memory, whatever the
    # screen size says.
    while position < len(data):
        block = data[position]
        if block == 0x2C and position + 10 <= len(data):  # An image: its own size.
            frame_width, frame_height, frame_flags = struct.unpack(
                "<HHB", _bytes(data, position + 5, 5))
            frames += 1
            frame_pixels += frame_width * frame_height
            largest = max(largest, (frame_width, frame_height), key=lambda s: s[0] * s[1])
            position += 10 + (3 << ((frame_flags & 7) + 1) if frame_flags & 0x80 else 0)
            position += 1  # The LZW minimum code size.
        elif block == 0x21:  # An extension: its label, then sub-blocks.
            position += 2
        else:  # The trailer, or what giflib refuses: the walk ends.
            break
        while position < len(data) and data[position] != 0:  # Sub-blocks to a 0 size.
            position += 1 + data[position]
        position += 1
    return ImageHeader("gif", width, height, 3, 1, max(frames, 1), largest, frame_pixels)


def _bmp_header(data):
    if _bytes(data, 0, 2) != b"BM" or len(data) < 26:
        return None
    header_size = struct.unpack("<I", _bytes(data, 14, 4))[0]
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes.
        width, height = struct.unpack("<HH", _bytes(data, 18, 4))
        bits = _bytes(data, 24, 2)
    else:
        width, height = struct.unpack("<ii", _bytes(data, 18, 8))
        bits = _bytes(data, 28, 2)
    bits = struct.unpack("<H", bits)[0] if len(bits) == 2 else 32
    # A negative height means rows stored top-down.
    return ImageHeader("bmp", abs(width), abs(height), max(1, -(-bits // 8)))


def _webp_chunks(data):
    """Yields `(fourcc, start of data, size)` of a RIFF file's chunks after the header."""
    position = 12
    while position + 8 <= len(data):
        kind, size = struct.unpack("<4sI", _bytes(data, position, 8))
        yield kind, position + 8, size
        position += 8 + size + (size & 1)


def _webp_header(data):
    if _bytes(data, 0, 4) != b"RIFF" or _bytes(data, 8, 4) != b"WEBP" or len(data) < 30:
        return None
    chunk = _bytes(data, 12, 4)
    if chunk == b"VP8X":  # Extended: flags, then 24-bit width-1 and height-1.
        flags = data[20]
        width = int.from_bytes(_bytes(data, 24, 3), "little") + 1
        height = int.from_bytes(_bytes(data, 27, 3), "little") + 1
        frames = sum(kind == b"ANMF" for kind, _, _ in _webp_chunks(data)) \
            if flags & 0x02 else 1
        return ImageHeader("webp", width, height, 4 if flags & 0x12 else 3, 1,
                           max(frames, 1))
    if chunk == b"VP8L":  # Lossless: 14-bit width-1 and height-1, then the alpha bit.
        bits = int.from_bytes(_bytes(data, 21, 4), "little")
        return ImageHeader("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1,
                           4 if bits >> 28 & 1 else 3)
    if chunk == b"VP8 ":  # Lossy: 14-bit sizes after the key-frame start code.
        width, height = struct.unpack("<HH", _bytes(data, 26, 4))
        return ImageHeader("webp", width & 0x3FFF, height & 0x3FFF, 3)
    return None


# JPEG start-of-frame markers (baseline, progressive, lossless...); not DHT, JPG or DAC.
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and the restart markers.


def _next_jpeg_marker(data, position):
    """Returns `(marker, position after it)` as libjpeg finds the next marker, or None.

    libjpeg skips stray bytes before a marker, 0xFF fill bytes, and 0xFF 0x00 pairs, so
    the walk does too: it must find the frame header the decoder will use.
    """
    while True:
        while position < len(data) and data[position] != 0xFF:
            position += 1
        while position < len(data) and data[position] == 0xFF:
            position += 1
        if position >= len(data):
            return None
        if data[position] != 0x00:
            return data[position], position + 1
        position += 1


def _jpeg_header(data):
    if _bytes(data, 0, 3) != b"\xff\xd8\xff":
        return None
    position = 2
    while True:  # Segment by segment, however long the APP segments before the frame.
        found = _next_jpeg_marker(data, position)
        if found is None:
            return None
        marker, position = found
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # SOI again, EOI or scan data before a frame.
            return None
        if position + 2 > len(data):
            return None
        length = struct.unpack(">H", _bytes(data, position, 2))[0]
        if length < 2:
            return None
        if marker in _JPEG_FRAMES:
            if position + 8 > len(data):
                return None
            precision, height, width, components = struct.unpack(
                ">BHHB", _bytes(data, position + 2, 6))
            return ImageHeader("jpeg", width, height, max(components, 1),
                               2 if precision > 8 else 1)
        position += length


def read_image_header(data):
    """Returns the `ImageHeader` of encoded image `data`, or None.

    `data` is bytes-like (bytes, a memoryview, an mmap of a file): only the header
    structures are read, however far into the data they reach, and nothing is copied.
    None for bytes that are none of PNG, JPEG, GIF, BMP or WebP, or cut short before
    their size.

    Example:
        >>> header = read_image_header(b"GIF89a" + struct.pack("<HHBBB", 640, 480, 0, 0, 0))
        >>> header.width, header.height, header.channels, header.decoded_bytes
        (640, 480, 3, 921600)
    """
    data = memoryview(data).cast("B")
    for reader in (_png_header, _jpeg_header, _gif_header, _bmp_header, _webp_header):
        header = reader(data)
        if header is not None:
            return header
    return None


def image_size(data):
    """Returns `(width, height)` as the header of encoded image `data` declares it.

    Returns None for bytes that are none of PNG, JPEG, GIF, BMP or WebP, or whose header
    is cut short (see `read_image_header`).

    Example:
        >>> image_size(b"GIF89a" + (640).to_bytes(2, "little") + (480).to_bytes(2, "little"))
        (640, 480)
    """
    header = read_image_header(data)
    return None if header is None else (header.width, header.height)


def _check_limits(header, *, name, max_pixels, max_bytes):
    """Raises `ImageTooLargeError` if `header` declares more than the limits."""
    if header.pixels > max_pixels:
        largest = header.largest_frame
        size = (f"{header.width}x{header.height} pixels" if header.pixels ==
                header.width * header.height else
                f"{header.width}x{header.height} pixels with a frame of "
                f"{largest[0]}x{largest[1]}")
        raise ImageTooLargeError(
            f"{name} is {size}; the limit is {max_pixels:,} pixels (e.g. 4096x4096). "
            "Resize it first.")
    if header.decoded_bytes > max_bytes:
        frames = f" in {header.frames} frames" if header.frames > 1 else ""
        raise ImageTooLargeError(
            f"{name} is {header.width}x{header.height} pixels of {header.channels} channels"
            f" at {8 * header.bytes_per_sample} bits{frames}: it decodes to "
            f"{header.decoded_bytes:,} bytes; the limit is {max_bytes:,} (e.g. 4096x4096 "
            "8-bit RGB). Resize it, or save it with 8 bits and fewer channels or frames.")


def check_image_header(data, *, name="the image", max_pixels=MAX_IMAGE_PIXELS,
                       max_bytes=MAX_DECODED_BYTES):
    """Returns the `ImageHeader` of `data` once it is safe to decode.

    The check for bytes about to be decoded: their size must be found in the header,
    and the image may hold at most `max_pixels` pixels (its largest frame) and decode to
    at most `max_bytes` bytes (`ImageHeader.decoded_bytes`). Reads the header only
    (`read_image_header`); give it the whole file, or an mmap of it.

    Raises:
        ImageHeaderError: no PNG, JPEG, GIF, BMP or WebP header with a size; the
            message names `name`.
        ImageTooLargeError: more pixels or decoded bytes than allowed; the message names
            `name`, its size and the limit.

    Example:
        >>> check_image_header(b"not an image", name="cat.png")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cnnzoo.image_header.ImageHeaderError: cat.png is not a PNG, JPEG, GIF, BMP or ...
    """
    header = read_image_header(data)
    if header is None:
        head = bytes(memoryview(data).cast("B")[:8]).hex()
        raise ImageHeaderError(
            f"{name} is not a PNG, JPEG, GIF, BMP or WebP image whose size can be read "
            f"({f'first bytes {head}' if head else 'it is empty'}); it may be cut short or "
            "another format. Convert it to PNG or JPEG.")
    _check_limits(header, name=name, max_pixels=max_pixels, max_bytes=max_bytes)
    return header


def check_image_size(data, *, max_pixels=MAX_IMAGE_PIXELS, name="the image",
                     max_bytes=MAX_DECODED_BYTES):
    """Returns `data` if its header declares at most `max_pixels` pixels and
    `max_bytes` decoded bytes, or no size at all (the decoder then says what is wrong).

    Use `check_image_header` where bytes are decoded next: it also refuses bytes whose
    size cannot be found.

    Raises:
        ImageTooLargeError: the header declares more; the message names `name`, its size
            and the limit.
    """
    header = read_image_header(data)
    if header is not None:
        _check_limits(header, name=name, max_pixels=max_pixels, max_bytes=max_bytes)
    return data
