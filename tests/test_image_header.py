"""Image sizes read from headers agree with what the encoders wrote, in every format."""

import io

import pytest
from PIL import Image

from cnnzoo.image_header import ImageTooLargeError, check_image_size, image_size

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
