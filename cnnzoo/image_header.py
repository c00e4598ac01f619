"""Image sizes read from the file header, so oversized images are refused before decoding.

A 0.4 MB PNG can declare 10000x10000 pixels and decode to 300 MB; a server or a folder
reader that decodes first and checks after has already spent the memory. These readers
look only at the header bytes of PNG, JPEG, GIF, BMP and WebP (plain Python, no
TensorFlow), which is all `tf.io.decode_image` accepts.
"""

import struct

# 4096 x 4096: far above any image a classifier in this zoo resizes from, far below what
# harms a process (one such RGB image decodes to 48 MB).
MAX_IMAGE_PIXELS = 4096 * 4096


class ImageTooLargeError(ValueError):
    """An encoded image whose header declares more pixels than allowed."""


def _png_size(data):
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    return None


def _gif_size(data):
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return None


def _bmp_size(data):
    if data[:2] == b"BM" and len(data) >= 26:
        header_size = struct.unpack("<I", data[14:18])[0]
        if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes.
            return struct.unpack("<HH", data[18:22])
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)  # A negative height means rows stored top-down.
    return None


def _webp_size(data):
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # Extended: 24-bit width-1 and height-1.
        return (int.from_bytes(data[24:27], "little") + 1,
                int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8L":  # Lossless: 14-bit width-1 and height-1 after a signature byte.
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # Lossy: 14-bit sizes after the key-frame start code.
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


# JPEG start-of-frame markers (baseline, progressive, lossless...); not DHT, JPG or DAC.
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data):
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # Fill byte before a marker.
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # Markers without a length.
            position += 2
            continue
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        if marker in _JPEG_FRAMES and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
        position += 2 + length
    return None


def image_size(data):
    """Returns `(width, height)` as the header of encoded image `data` declares it.

    Returns None for bytes that are none of PNG, JPEG, GIF, BMP or WebP, or whose header
    is cut short (the decoder then says what is wrong).

    Example:
        >>> image_size(b"GIF89a" + (640).to_bytes(2, "little") + (480).to_bytes(2, "little"))
        (640, 480)
    """
    data = bytes(data[:65536])  # Headers (JPEG's may follow EXIF) sit near the start.
    for reader in (_png_size, _jpeg_size, _gif_size, _bmp_size, _webp_size):
        size = reader(data)
        if size is not None:
            return size
    return None


def check_image_size(data, *, max_pixels=MAX_IMAGE_PIXELS, name="the image"):
    """Returns `data` if its header declares at most `max_pixels` pixels (or no size).

    Raises:
        ImageTooLargeError: the header declares more; the message names `name`, its size
            and the limit.
    """
    size = image_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {size[0]}x{size[1]} pixels; the limit is {max_pixels:,} pixels "
            f"(e.g. 4096x4096). Resize it first.")
    return data
