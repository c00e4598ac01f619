"""Image sizes read from headers agree with what the encoders wrote, in every format."""

import io
import struct
import zlib

import pytest
import tensorflow as tf
from PIL import Image

from cnnzoo.image_header import (MAX_DECODED_BYTES, ImageHeaderError, ImageTooLargeError,
                                 check_image_header, check_image_size, image_size,
                                 read_image_header)

FORMATS = [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("GIF", {}),
           ("BMP", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80})]


def _encoded(size, image_format, mode="RGB", **options):
    buffer = io.BytesIO()
    Image.new(mode, size, (40, 90, 200) if mode == "RGB" else 128).save(
        buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("image_format, options", FORMATS,
                         ids=[f"{f}{'-' + '-'.join(o) if o else ''}" for f, o in FORMATS])
@pytest.mark.parametrize("size", [(1, 1), (28, 28), (641, 37), (300, 4000)])
def test_header_size_is_the_encoded_size(image_format, options, size):
    assert image_size(_encoded(size, image_format, **options)) == size


def test_webp_with_alpha_uses_the_extended_header():
    data = _encoded((123, 45), "WEBP", mode="RGBA", quality=80)
    assert data[12:16] in (b"VP8X", b"VP8L") and image_size(data) == (123, 45)


def test_jpeg_size_found_after_an_exif_segment():
    image = Image.new("RGB", (77, 66))
    exif = Image.Exif()
    exif[0x010E] = "x" * 5000  # ImageDescription: a long segment before the frame header.
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert image_size(buffer.getvalue()) == (77, 66)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"])
def test_unknown_or_cut_short_headers_give_none(data):
    assert image_size(data) is None
    assert check_image_size(data) == data  # The decoder reports what is wrong.


def test_images_over_the_limit_are_refused_by_name():
    data = _encoded((200, 100), "PNG")
    assert check_image_size(data, max_pixels=20_000) == data
    with pytest.raises(ImageTooLargeError, match=r"shoe.png is 200x100 pixels; the limit "
                                                 r"is 19,999"):
        check_image_size(data, max_pixels=19_999, name="shoe.png")


# -- issue 27: the header is walked, whatever precedes the size, and bytes are capped -----

def _with_app_segments(jpeg, count=2, size=65533):
    """`jpeg` with `count` APP segments of `size` bytes each inserted after its SOI."""
    segments = b"".join(b"\xff" + bytes([0xE2 + i]) + (size + 2).to_bytes(2, "big")
                        + b"\0" * size for i in range(count))
    return jpeg[:2] + segments + jpeg[2:]


def _resized_frame(jpeg, width, height):
    """`jpeg` with its frame header declaring `width` x `height` (the data unchanged)."""
    position = jpeg.index(b"\xff\xc0")  # Pillow writes baseline frames (SOF0).
    return jpeg[:position + 5] + struct.pack(">HH", height, width) + jpeg[position + 9:]


def test_jpeg_size_found_after_two_64_kb_app_segments():
    data = _with_app_segments(_encoded((77, 66), "JPEG"))
    assert len(data) > 2 * 65536 and image_size(data) == (77, 66)
    assert tf.io.decode_jpeg(data).shape == (66, 77, 3)  # The decoder reads them past, too.


def test_jpeg_bomb_behind_app_segments_is_refused():
    bomb = _with_app_segments(_resized_frame(_encoded((16, 16), "JPEG"), 20000, 20000))
    with pytest.raises(ImageTooLargeError, match="20000x20000 pixels"):
        check_image_header(bomb, name="bomb.jpg")
    with pytest.raises(ImageTooLargeError, match="20000x20000 pixels"):
        check_image_size(bomb)


def test_jpeg_size_found_past_stray_bytes_as_libjpeg_finds_it():
    data = _encoded((31, 17), "JPEG")
    # Stray bytes and fill bytes between two segments: libjpeg warns and reads on.
    position = data.index(b"\xff\xdb")
    data = data[:position] + b"junk\xff\x00\xff\xff" + data[position:]
    assert image_size(data) == (31, 17)
    assert tf.io.decode_jpeg(data).shape == (17, 31, 3)


@pytest.mark.parametrize("mode, channels, depth", [("L", 1, 1), ("RGB", 3, 1),
                                                   ("RGBA", 4, 1), ("I;16", 1, 2),
                                                   ("P", 3, 1)])
def test_png_channels_and_sample_bytes_are_those_decoded(mode, channels, depth):
    data = _encoded((9, 5), "PNG", mode=mode)
    header = read_image_header(data)
    assert (header.channels, header.bytes_per_sample) == (channels, depth)
    assert tf.io.decode_image(data, channels=0).shape[-1] == channels
    assert header.decoded_bytes == 9 * 5 * channels * depth


def _png(width, height, depth, color):
    """A real PNG of zeros: `depth`-bit samples, PNG colour type `color`."""
    channels = {0: 1, 2: 3, 6: 4}[color]
    row = b"\0" * (1 + width * channels * depth // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_a_16_bit_rgba_png_is_capped_by_its_decoded_bytes():
    bomb = _png(4096, 4096, 16, 6)  # 4096x4096 pixels, within the pixel limit.
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLargeError, match="4 channels at 16 bits.*134,217,728 bytes"):
        check_image_header(bomb, name="deep.png")
    assert check_image_header(_png(4096, 4096, 8, 2)).decoded_bytes == MAX_DECODED_BYTES


def test_every_frame_of_a_gif_counts():
    frames = [Image.new("RGB", (64, 48), (40 * i, 0, 0)) for i in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    header = read_image_header(buffer.getvalue())
    assert (header.width, header.height, header.frames) == (64, 48, 5)
    with pytest.raises(ImageTooLargeError, match="in 5 frames"):
        check_image_header(buffer.getvalue(), max_bytes=header.decoded_bytes - 1)


def test_a_gif_frame_larger_than_its_screen_is_refused():
    screen = b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 30000, 30000, 0) + b"\x08\x01\x00\x00\x3b"
    with pytest.raises(ImageTooLargeError, match="frame of 30000x30000"):
        check_image_header(screen + frame)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n",
                                  b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"GIF89a\x01"])
def test_an_image_whose_size_cannot_be_found_is_refused_by_name(data):
    with pytest.raises(ImageHeaderError, match="shoe.png is not a PNG, JPEG"):
        check_image_header(data, name="shoe.png")
    assert check_image_size(data) is data  # The lenient check leaves it to the decoder.
