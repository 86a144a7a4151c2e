"""The drawn-digit set: digits drawn the way students draw on the app's canvas, made here.

MNIST test digits say how well the network reads MNIST; a class judges it by its drawings.
This set stands in for those: every digit is a pen path (the common shapes, including a 1
with and without a flag and a base, an open and a closed 4, a 7 with and without a bar, a 9
with a straight or a curved tail) rendered on a black 280x280 canvas with a round white pen,
as `streamlit-drawable-canvas` does, then prepared by the same `digit_from_image` as a
drawing on the Draw page. Each drawing varies pen width (thin to thick), slant, size,
position (off-centre), a small tilt and a smooth wobble of the hand, all from one seeded
generator: the same seed gives the same set on every machine, with nothing downloaded.

What it does not cover: real people's hands (hesitations, corrections, retraced strokes,
broken strokes), photos and scans, and the rarer shapes (a 2 with a loop, a crossed 7 in
another style, a 1 written as a single slash of a different angle).
It is for evaluation only: no training path reads it.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from tl_core.pipeline.images import digit_from_image

CANVAS_SIDE = 280  # the Draw page's canvas
THUMBNAIL = 56  # the side of a canvas in the CLI's contact sheet
SUPERSAMPLE = 2  # draw at twice the size, then shrink: smooth edges like the browser's
PER_DIGIT = 60  # 600 drawings in all
SEED = 0
PEN_WIDTHS = (6, 34)  # canvas pixels, thin to thick (the Draw page's pen is 18)
HEIGHTS = (0.3, 0.85)  # digit height as a share of the canvas: small to large
SLANTS = (-0.2, 0.45)  # horizontal shift per unit of height: leaning left to leaning right
TILT_DEGREES = 8.0
WOBBLE = 0.025  # amplitude of the hand's smooth wobble, as a share of the digit's height

Point = tuple[float, float]
Stroke = list[Point]


@dataclass(frozen=True)
class DrawnDigits:
    """Prepared drawings, uint8 (N, 28, 28), their digits (N,) and shape names (N,)."""

    x: np.ndarray
    y: np.ndarray
    styles: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points along an ellipse from angle `start` to `end` (degrees, 90 is up, y points down)."""
    angles = np.deg2rad(np.linspace(start, end, max(8, int(abs(end - start) / 8))))
    return [(cx + rx * np.cos(a), cy - ry * np.sin(a)) for a in angles]


def _bezier(*controls: Point) -> Stroke:
    """A cubic Bezier curve through four control points."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = controls
    t = np.linspace(0, 1, 24)
    a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3
    return list(
        zip(a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3, strict=True)
    )


def _eight_one_stroke() -> Stroke:
    """An 8 in one stroke, crossing in the middle (a Lissajous figure)."""
    t = np.linspace(0, 2 * np.pi, 64)
    return list(zip(0.5 + 0.45 * np.sin(2 * t), 0.5 - 0.5 * np.cos(t), strict=True))


# Each shape: strokes in a unit box (x right, y down, both 0 to 1) and its width/height ratio.
SHAPES: dict[int, dict[str, tuple[float, list[Stroke]]]] = {
    0: {
        "oval": (0.7, [_arc(0.5, 0.5, 0.5, 0.5, 100, 460)]),
        "round": (0.9, [_arc(0.5, 0.5, 0.5, 0.5, 80, -280)]),
    },
    1: {
        "stroke": (0.05, [[(0.5, 0.0), (0.5, 1.0)]]),
        "flag": (0.35, [[(0.05, 0.3), (0.6, 0.0), (0.6, 1.0)]]),
        "flag and base": (
            0.5,
            [[(0.15, 0.25), (0.55, 0.0), (0.55, 1.0)], [(0.1, 1.0), (1.0, 1.0)]],
        ),
    },
    2: {
        "curved": (0.7, [[*_arc(0.5, 0.3, 0.48, 0.3, 160, -30), (0.0, 1.0), (1.0, 1.0)]]),
        "swan": (
            0.7,
            [
                [
                    *_arc(0.5, 0.28, 0.45, 0.28, 150, 0),
                    *_bezier((0.95, 0.3), (0.9, 0.6), (0.3, 0.8), (0.0, 1.0)),
                    (1.0, 0.95),
                ]
            ],
        ),
    },
    3: {
        "round": (
            0.65,
            [[*_arc(0.45, 0.25, 0.45, 0.25, 150, -90), *_arc(0.45, 0.74, 0.55, 0.26, 90, -150)]],
        ),
        "flat top": (
            0.65,
            [[(0.0, 0.0), (1.0, 0.0), (0.4, 0.4), *_arc(0.45, 0.7, 0.55, 0.3, 100, -150)]],
        ),
    },
    4: {
        "closed": (0.75, [[(0.7, 0.0), (0.0, 0.65), (1.0, 0.65)], [(0.7, 0.0), (0.7, 1.0)]]),
        "open": (0.75, [[(0.08, 0.0), (0.02, 0.6), (1.0, 0.6)], [(0.72, 0.05), (0.72, 1.0)]]),
    },
    5: {
        "round belly": (
            0.65,
            [
                [(0.15, 0.0), (0.1, 0.45), *_arc(0.45, 0.7, 0.5, 0.3, 135, -150)],
                [(0.15, 0.0), (0.95, 0.0)],
            ],
        ),
        "one stroke": (
            0.65,
            [[(0.95, 0.0), (0.12, 0.0), (0.08, 0.45), *_arc(0.45, 0.7, 0.52, 0.3, 130, -155)]],
        ),
    },
    6: {
        "loop": (
            0.65,
            [
                [
                    *_bezier((0.85, 0.0), (0.3, 0.1), (0.0, 0.45), (0.06, 0.72)),
                    *_arc(0.5, 0.72, 0.44, 0.28, 180, -180),
                ]
            ],
        ),
        "straight stem": (0.6, [[(0.7, 0.0), (0.1, 0.65), *_arc(0.5, 0.7, 0.42, 0.3, 165, -195)]]),
    },
    7: {
        "plain": (0.7, [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]]),
        "bar": (0.7, [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)], [(0.3, 0.52), (0.9, 0.52)]]),
        "hook": (0.7, [[(0.0, 0.18), (0.02, 0.0), (1.0, 0.0), (0.4, 1.0)]]),
    },
    8: {
        "two loops": (
            0.6,
            [_arc(0.5, 0.25, 0.4, 0.25, -90, 270), _arc(0.5, 0.74, 0.5, 0.26, 90, 450)],
        ),
        "one stroke": (0.6, [_eight_one_stroke()]),
    },
    9: {
        "straight tail": (0.6, [[*_arc(0.45, 0.28, 0.45, 0.28, 0, 360), (0.85, 1.0)]]),
        "curved tail": (
            0.6,
            [
                [
                    *_arc(0.45, 0.28, 0.45, 0.28, 0, 360),
                    *_bezier((0.9, 0.28), (0.95, 0.7), (0.6, 1.0), (0.12, 0.92)),
                ]
            ],
        ),
    },
}


def drawn_digit_set(per_digit: int = PER_DIGIT, seed: int = SEED) -> DrawnDigits:
    """The set as the network sees it: each canvas drawing prepared like a Draw-page drawing.

    Shapes take turns within each digit, so every variant is equally common.
    """
    return _prepared(per_digit, seed)


def drawn_set_for(test_per_class: int | None) -> DrawnDigits:
    """The drawn-digit set a run is scored on: as many per digit as its MNIST test digits
    per class, at most PER_DIGIT, so a small run is scored on a small set (as on people's
    digits) and the app's runs on all 600."""
    return drawn_digit_set(min(PER_DIGIT, test_per_class or PER_DIGIT))


@cache
def _prepared(per_digit: int, seed: int) -> DrawnDigits:
    digits, labels, styles = [], [], []
    for label, style, canvas in drawings(per_digit, seed):
        digits.append(digit_from_image(canvas, drawing=True))
        labels.append(label)
        styles.append(style)
    x = np.stack(digits)
    x.setflags(write=False)
    return DrawnDigits(x, np.array(labels, np.int64), np.array(styles))


def drawings(per_digit: int = PER_DIGIT, seed: int = SEED) -> list[tuple[int, str, np.ndarray]]:
    """(digit, shape name, canvas) for each drawing: uint8 (280, 280), white ink on black."""
    result = []
    for label in range(10):
        names = list(SHAPES[label])
        for k in range(per_digit):
            style = names[k % len(names)]
            rng = np.random.default_rng([seed, label, k])
            result.append((label, style, render(SHAPES[label][style], rng)))
    return result


def render(shape: tuple[float, list[Stroke]], rng: np.random.Generator) -> np.ndarray:
    """Draw one shape on the canvas with a random pen, slant, size, place, tilt and wobble."""
    aspect, strokes = shape
    height = rng.uniform(*HEIGHTS) * CANVAS_SIDE
    pen = rng.uniform(*PEN_WIDTHS)
    slant = rng.uniform(*SLANTS)
    tilt = np.deg2rad(rng.uniform(-TILT_DEGREES, TILT_DEGREES))
    wobble = _wobble(rng)
    width = max(aspect, 0.05) * height
    margin_x = (width + slant * height) / 2 + pen
    margin_y = height / 2 + pen
    centre_x = rng.uniform(
        min(margin_x, CANVAS_SIDE / 2), max(CANVAS_SIDE - margin_x, CANVAS_SIDE / 2)
    )
    centre_y = rng.uniform(
        min(margin_y, CANVAS_SIDE / 2), max(CANVAS_SIDE - margin_y, CANVAS_SIDE / 2)
    )
    big = CANVAS_SIDE * SUPERSAMPLE
    image = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(image)
    radius = pen * SUPERSAMPLE / 2
    for stroke in strokes:
        u, v = np.array(_densify(stroke)).T
        u, v = (u - 0.5) * aspect, v - 0.5  # centred, in units of the height
        du, dv = wobble(u, v)
        u, v = u + du - slant * (v + dv), v + dv
        u, v = u * np.cos(tilt) - v * np.sin(tilt), u * np.sin(tilt) + v * np.cos(tilt)
        xs, ys = (centre_x + u * height) * SUPERSAMPLE, (centre_y + v * height) * SUPERSAMPLE
        draw.line(list(zip(xs, ys, strict=True)), fill=255, width=round(2 * radius))
        # A disc on every point rounds the joints and both ends, as the canvas pen does
        # (PIL's own joint="curve" draws the same in Python, at 20x the cost).
        for px, py in zip(xs, ys, strict=True):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return np.asarray(image.reduce(SUPERSAMPLE))  # the mean of each 2x2 block


def _densify(stroke: Stroke, step: float = 0.02) -> Stroke:
    """Extra points along straight segments, so the wobble bends them smoothly."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        count = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        points += [
            (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.arange(1, count + 1) / count
        ]
    return points


def _wobble(rng: np.random.Generator) -> Callable[[np.ndarray, np.ndarray], tuple]:
    """A smooth random displacement of the unit box: the hand is never quite steady."""
    amplitude = rng.uniform(0, WOBBLE, 4)
    frequency = rng.uniform(2, 6, 4)
    phase = rng.uniform(0, 2 * np.pi, 4)

    def move(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = amplitude[0] * np.sin(frequency[0] * v + phase[0])
        dx += amplitude[1] * np.sin(frequency[1] * u + phase[1])
        dy = amplitude[2] * np.sin(frequency[2] * u + phase[2])
        dy += amplitude[3] * np.sin(frequency[3] * v + phase[3])
        return dx, dy

    return move
