"""From a canvas drawing, photo or scan to a 28x28 digit prepared the way MNIST prepared its own.

MNIST digits are white on black, cropped to their bounding box, scaled to fit a 20x20 box
and placed in a 28x28 image with their centre of mass at the centre. A drawing that skips
these steps looks nothing like the training data, so the canvas, uploads and the CLI's
`predict` all go through `digit_from_image`.
"""

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tl_core.errors import ImageError, NoDigitFound
from tl_core.i18n import N_, Text

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000
WORKING_SIDE = 1024  # an upload is read at most this large: its digit becomes 20x20 pixels
# A canvas drawing's PNG: the canvas's own size, and bytes at most what an uncompressed RGBA
# picture of it takes (280x280: 314 KB; a real drawing is 5 to 20 KB).
MAX_CANVAS_BYTES = 400_000
NOT_A_DRAWING = N_("This drawing could not be read: clear the canvas and draw again.")
IMAGE_FORMATS = ("PNG", "JPEG")
DIGIT_BOX, DIGIT_SIDE = 20, 28
MIN_INK_LEVEL = 40.0  # below this the brightest pixel is noise, not a stroke
MAX_INK_FRACTION = 0.5  # more ink than this is a painted-over canvas, not a digit
MIN_DIGIT_FRACTION = 0.08  # a mark smaller than this share of the side is a dot


def read_image(source: bytes | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """Decode a PNG or JPEG into a uint8 array (H, W), (H, W, 3) or (H, W, 4), at most
    WORKING_SIDE pixels on its longer side (a JPEG is decoded that small, not shrunk after).

    Raises ImageError with one sentence for anything else: too large in bytes or pixels,
    not an image, a truncated file.
    """
    if isinstance(source, Path):
        try:
            if source.stat().st_size > max_bytes:
                raise ImageError(_too_big(max_bytes))
            source = source.read_bytes()
        except OSError as error:
            raise ImageError(
                Text(
                    "Cannot read {file}: {error}.",
                    file=str(source),
                    error=str(error.strerror or error),
                )
            ) from error
    if len(source) > max_bytes:
        raise ImageError(_too_big(max_bytes))
    try:
        with Image.open(io.BytesIO(source)) as image:
            if image.format not in IMAGE_FORMATS:
                raise ImageError(Text("This file is not a PNG or JPEG image."))
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(
                    Text(
                        "This image has {width}x{height} pixels, too many: "
                        "use a photo under 25 megapixels.",
                        width=image.width,
                        height=image.height,
                    )
                )
            mode = "RGBA" if "A" in image.getbands() else ("L" if image.mode == "L" else "RGB")
            if image.format == "JPEG":  # decoded at 1/2 to 1/8 of its size where that fits
                image.draft(mode, (WORKING_SIDE, WORKING_SIDE))
            picture = image.convert(mode)
            picture.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
            return np.asarray(picture)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageError(
            Text("This file is not a PNG or JPEG image (or is far too large).")
        ) from None
    except OSError as error:
        raise ImageError(
            Text("This image is damaged or incomplete ({error}).", error=str(error))
        ) from error


def read_drawing(png: bytes, side: int) -> np.ndarray:
    """Decode the canvas's drawing, an RGBA (side, side, 4) uint8 array, checking it first.

    The canvas sends its picture as a PNG of exactly its own size; anything else (a larger
    picture, another format, more bytes than such a PNG can take) is not a drawing, and is
    refused with one sentence before a pixel is decoded: a crafted 12,000 x 12,000 PNG of a
    few hundred KB would otherwise decode into gigabytes on the server.
    """
    not_a_drawing = Text(NOT_A_DRAWING)
    if len(png) > MAX_CANVAS_BYTES:
        raise ImageError(not_a_drawing)
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG" or image.size != (side, side):
                raise ImageError(not_a_drawing)
            return np.asarray(image.convert("RGBA"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageError(not_a_drawing) from None


def digit_from_image(image: np.ndarray, drawing: bool = False) -> np.ndarray:
    """Turn a drawing or photo into a uint8 (28, 28) MNIST-style digit.

    Accepts gray (H, W), RGB or RGBA uint8 arrays. A `drawing` (the canvas: light strokes)
    is taken as it is; a photo or scan with a light border (paper) is inverted.
    Raises NoDigitFound when the image is empty, a dot, or nearly all ink.
    """
    ink = ink_image(image, drawing)
    if (ink > 127).mean() > MAX_INK_FRACTION:
        raise NoDigitFound(Text("Almost the whole image is ink: clear it and draw one digit."))
    ink = np.clip(ink - np.median(ink), 0, None)  # remove the background (paper is gray)
    peak = float(ink.max())
    if peak < MIN_INK_LEVEL:
        raise NoDigitFound(Text("The image is empty: draw a digit."))
    mask = ink > peak * 0.3
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    if max(height, width) < MIN_DIGIT_FRACTION * max(ink.shape):
        raise NoDigitFound(Text("That mark is too small to be a digit: draw it bigger."))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] * (255.0 / peak)
    return _centre_by_mass(_fit_box(crop))


def ink_image(image: np.ndarray, drawing: bool = False) -> np.ndarray:
    """Float (H, W) in 0-255 with the ink bright and the background dark.

    Transparent pixels are background: black behind a drawing, white paper behind a scan.
    """
    if image.ndim == 2:
        gray = image.astype(np.float32)
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        gray = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        if image.shape[2] == 4:
            alpha = image[..., 3].astype(np.float32) / 255.0
            gray = gray * alpha + (0.0 if drawing else 255.0) * (1.0 - alpha)
    else:
        raise ImageError(
            Text(
                "An image must be gray, RGB or RGBA, not an array of {shape}.",
                shape=str(image.shape),
            )
        )
    if drawing:
        return gray
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 255.0 - gray if np.median(border) > 127 else gray


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is 20 pixels, keeping the aspect ratio (as MNIST did)."""
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(crop.astype(np.float32)).resize(size, Image.LANCZOS)
    return np.clip(np.asarray(resized), 0, 255)


def _centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Place the box in a 28x28 image so its centre of mass sits at the centre."""
    rows, cols = np.indices(box.shape)
    total = box.sum()
    centre_y, centre_x = (rows * box).sum() / total, (cols * box).sum() / total
    top = int(np.clip(round(DIGIT_SIDE / 2 - centre_y), 0, DIGIT_SIDE - box.shape[0]))
    left = int(np.clip(round(DIGIT_SIDE / 2 - centre_x), 0, DIGIT_SIDE - box.shape[1]))
    digit = np.zeros((DIGIT_SIDE, DIGIT_SIDE), np.float32)
    digit[top : top + box.shape[0], left : left + box.shape[1]] = box
    return np.rint(digit).astype(np.uint8)


def thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    """An upload shrunk to fit `side` pixels, for showing beside its digit: a photo of a
    few megapixels is not sent back to the student on every run. Gray, RGB and RGBA keep
    their mode (a transparent background stays transparent)."""
    picture = Image.fromarray(image)
    picture.thumbnail((side, side), Image.Resampling.BOX)
    return np.asarray(picture)


def png_data_url(image: np.ndarray) -> str:
    """A uint8 gray, RGB or RGBA picture as a PNG `data:` URL, the form the canvas sends a
    drawing in. The Draw page shows its pictures this way on every stroke: for an array,
    `st.image` encodes a JPEG at quality 100, opens it again to check its size and keeps it
    for the browser to fetch over HTTP, several times the work for pictures of a few
    hundred bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return png_bytes_data_url(buffer.getvalue())


def png_bytes_data_url(png: bytes) -> str:
    """An encoded PNG as a `data:` URL: the canvas's own drawing is shown back this way,
    with no decoding, resizing or encoding on the server."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _too_big(max_bytes: int) -> str:
    return Text(
        "This file is larger than {megabytes} MB: use a smaller image.",
        megabytes=max_bytes // (1024 * 1024),
    )


def mosaic(digits: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Tile uint8 images (N, h, w) or (N, h, w, 3) into one, `columns` per row, for grids."""
    count, height, width = digits.shape[:3]
    rows = max(1, -(-count // columns))
    sheet = np.zeros(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, *digits.shape[3:]), np.uint8
    )
    for index, digit in enumerate(digits):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = digit
    return sheet
