"""The drawn-digit set: canvas-like drawings of every digit and common shape, the same
every time, prepared exactly as a drawing on the Draw page."""

import numpy as np

from tl_core.pipeline.drawn import SHAPES, drawings, drawn_digit_set
from tl_core.pipeline.images import digit_from_image


def test_the_set_has_at_least_500_prepared_drawings_of_every_digit_and_shape() -> None:
    drawn = drawn_digit_set()
    assert len(drawn) >= 500
    assert drawn.x.shape == (len(drawn), 28, 28) and drawn.x.dtype == np.uint8
    assert np.bincount(drawn.y, minlength=10).min() >= 50
    for digit, shapes in SHAPES.items():
        assert set(drawn.styles[drawn.y == digit]) == set(shapes)
    # the variants a class draws are there: 1 with a base, open 4, 7 with a bar, curved 9
    assert {"flag and base", "open", "bar", "curved tail"} <= set(drawn.styles)


def test_the_same_seed_gives_the_same_drawings_and_another_seed_others() -> None:
    first = [canvas for _, _, canvas in drawings(per_digit=2, seed=0)]
    again = [canvas for _, _, canvas in drawings(per_digit=2, seed=0)]
    other = [canvas for _, _, canvas in drawings(per_digit=2, seed=1)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_drawings_vary_in_pen_size_and_place_like_a_class() -> None:
    canvases = np.stack([canvas for _, _, canvas in drawings(per_digit=6)])
    ink = canvases > 127
    heights = np.array([np.ptp(np.flatnonzero(m.any(axis=1))) for m in ink])
    centres = np.array([np.flatnonzero(m.any(axis=0)).mean() for m in ink])
    assert heights.min() < 110 and heights.max() > 200  # small and large
    assert np.ptp(centres) > 60  # off-centre, left and right
    assert canvases.shape[1:] == (280, 280)  # the Draw page's canvas


def test_each_drawing_is_prepared_by_the_draw_pages_function() -> None:
    label, _, canvas = drawings(per_digit=1)[7]
    assert label == 7
    assert np.array_equal(digit_from_image(canvas, drawing=True), drawn_digit_set(per_digit=1).x[7])


def test_the_drawn_command_writes_the_set_and_a_sheet(tmp_path, capsys) -> None:
    from tl_core.cli import main

    assert main(["drawn", "--npz", str(tmp_path / "d.npz"), "--png", str(tmp_path / "d.png")]) == 0
    saved = np.load(tmp_path / "d.npz")
    assert np.array_equal(saved["x"], drawn_digit_set().x)
    assert f"{len(drawn_digit_set())} drawings in all" in capsys.readouterr().out
    assert (tmp_path / "d.png").stat().st_size > 10_000
