"""From canvas drawings, photos and scans to MNIST-style 28x28 digits, and bad images."""

import base64
import io
import resource
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tl_core.errors import ImageError, NoDigitFound
from tl_core.pipeline.images import (
    MAX_CANVAS_BYTES,
    WORKING_SIDE,
    digit_from_image,
    png_data_url,
    read_drawing,
    read_image,
)


def canvas(draw_strokes) -> np.ndarray:
    """A 280x280 RGBA canvas like streamlit-drawable-canvas returns: transparent + white ink."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    draw_strokes(ImageDraw.Draw(image))
    return np.asarray(image)


def seven(draw: ImageDraw.ImageDraw) -> None:
    draw.line([(60, 40), (200, 40), (110, 250)], fill=(255, 255, 255, 255), width=18)


def test_a_drawing_becomes_a_centred_20_pixel_digit() -> None:
    digit = digit_from_image(canvas(seven), drawing=True)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    ink = np.argwhere(digit > 30)
    height, width = ink.max(axis=0) - ink.min(axis=0) + 1
    assert max(height, width) in (19, 20, 21)
    rows, cols = np.indices(digit.shape)
    mass = digit.astype(float)
    centre = ((rows * mass).sum() / mass.sum(), (cols * mass).sum() / mass.sum())
    assert centre == pytest.approx((14, 14), abs=1.0)
    assert digit.max() > 200


def test_dark_ink_on_paper_is_inverted_like_mnist() -> None:
    photo = 255 - canvas(seven)[..., 3]  # black ink on a white page, gray scan
    digit = digit_from_image(photo)
    assert digit[0, 0] == 0 and digit.max() > 200
    rgb = np.stack([photo] * 3, axis=-1)
    assert np.array_equal(digit_from_image(rgb), digit)


@pytest.mark.parametrize(
    ("strokes", "message"),
    [
        (lambda draw: None, "empty: draw a digit"),
        (lambda draw: draw.ellipse((130, 130, 145, 145), fill=(255,) * 4), "too small"),
        (lambda draw: draw.rectangle((0, 0, 280, 280), fill=(255,) * 4), "whole image is ink"),
    ],
    ids=["empty", "dot", "painted"],
)
def test_no_digit_found_says_why(strokes, message: str) -> None:
    with pytest.raises(NoDigitFound, match=message):
        digit_from_image(canvas(strokes), drawing=True)


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_png_and_jpeg_are_read() -> None:
    rgba = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    assert read_image(png_bytes(rgba)).shape == (30, 40, 4)
    assert read_image(png_bytes(Image.new("RGB", (40, 30)), "JPEG")).shape == (30, 40, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, I am a text file", "not a PNG or JPEG"),
        (png_bytes(Image.new("L", (10, 10)), "GIF"), "not a PNG or JPEG"),
        (png_bytes(Image.new("L", (300, 300)))[:100], "damaged or incomplete"),
        (png_bytes(Image.new("1", (6000, 5000))), "too many"),
        (b"\x89PNG" + bytes(6 * 1024 * 1024), "larger than 5 MB"),
    ],
    ids=["text", "gif", "truncated", "huge-pixels", "huge-file"],
)
def test_bad_images_get_one_clear_sentence(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        read_image(data)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="Cannot read"):
        read_image(tmp_path / "nope.png")


def test_an_opaque_png_scan_is_treated_like_paper_not_a_canvas() -> None:
    ink = canvas(seven)[..., 3]
    scan = np.stack([255 - ink] * 3 + [np.full_like(ink, 255)], axis=-1)  # RGBA, alpha 255
    assert np.array_equal(digit_from_image(scan), digit_from_image(255 - ink))


@pytest.mark.parametrize("shape", [(28, 28), (168, 168, 3)])
def test_a_picture_shown_inline_is_exactly_the_picture(shape: tuple[int, ...]) -> None:
    picture = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    url = png_data_url(picture)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert np.array_equal(np.asarray(decoded), picture)  # PNG: lossless, unlike st.image's JPEG


def test_the_canvas_drawing_is_decoded_only_when_it_is_the_canvas_own_png() -> None:
    drawn = Image.fromarray(canvas(seven))
    assert read_drawing(png_bytes(drawn), 280).shape == (280, 280, 4)
    assert np.array_equal(read_drawing(png_bytes(drawn), 280), canvas(seven))
    refused = [
        png_bytes(drawn.resize((300, 300))),  # not the canvas's size
        png_bytes(drawn.convert("RGB"), "JPEG"),  # not a PNG
        png_bytes(drawn)[:200],  # cut short
        b"not an image",
        b"\x89PNG" + bytes(MAX_CANVAS_BYTES),  # more bytes than a canvas PNG can take
    ]
    for data in refused:
        with pytest.raises(ImageError, match="could not be read: clear the canvas"):
            read_drawing(data, 280)


def test_a_tiny_png_that_would_decode_into_gigabytes_is_refused_before_decoding() -> None:
    """A 12,000 x 12,000 black PNG is a few hundred KB and 576 MB of RGBA: the header is
    read, the pixels never are."""
    bomb = png_bytes(Image.new("L", (12_000, 12_000)))
    assert len(bomb) < MAX_CANVAS_BYTES
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError):
        read_drawing(bomb, 280)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50


def test_a_large_photo_is_read_at_the_size_a_digit_needs() -> None:
    """A 6,000 x 4,000 JPEG is decoded at a fraction of its size (the digit becomes 20x20
    pixels anyway): no 96 MB array for one upload."""
    photo = Image.new("RGB", (6000, 4000), (250, 250, 250))
    ImageDraw.Draw(photo).line([(2500, 800), (3500, 800), (2800, 3200)], fill=0, width=200)
    image = read_image(png_bytes(photo, "JPEG"))
    assert max(image.shape[:2]) <= WORKING_SIDE and image.shape[:2] == (683, 1024)
    assert digit_from_image(image).shape == (28, 28)
