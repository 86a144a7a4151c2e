"""Chart colours that colour-blind students can tell apart (tl_core/teaching/palette.py)."""

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from tl_core.teaching.palette import DIGIT_COLOURS, OKABE_ITO

ROOT = Path(__file__).resolve().parents[1]
# Machado, Oliveira and Fernandes (2009), full severity, on linear RGB.
SIMULATIONS = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip
CLEARLY_DIFFERENT = 12.0  # CIE76 ΔE; about 2.3 is the smallest difference anyone notices
VEGA_DEFAULT = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
                "#ff9da6", "#9d755d", "#bab0ac")  # fmt: skip


def lab(colours: tuple[str, ...], simulation: str | None) -> np.ndarray:
    """CIELAB of sRGB colours as a student with that colour blindness sees them."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if simulation is not None:
        linear = np.clip(linear @ np.array(SIMULATIONS[simulation]).T, 0, 1)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])  # fmt: skip
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def closest_pair(colours: tuple[str, ...], simulation: str | None) -> float:
    seen = lab(colours, simulation)
    return min(
        float(np.linalg.norm(seen[i] - seen[j]))
        for i, j in itertools.combinations(range(len(colours)), 2)
    )


@pytest.mark.parametrize("simulation", [None, *SIMULATIONS])
@pytest.mark.parametrize("palette", [OKABE_ITO, DIGIT_COLOURS], ids=["series", "digits"])
def test_every_pair_of_chart_colours_stays_clearly_different(
    palette: tuple[str, ...], simulation: str | None
) -> None:
    assert closest_pair(palette, simulation) >= CLEARLY_DIFFERENT


def test_the_charts_default_colours_would_fail_a_colour_blind_student() -> None:
    """Why the palettes exist: Vega-Lite's own ten collapse under deuteranopia."""
    assert closest_pair(VEGA_DEFAULT, "deuteranopia") < 3


def test_every_chart_with_a_colour_per_series_names_its_palette() -> None:
    """An Altair colour over categories (":N") in a page must carry a `scale`, and a Plotly
    figure coloured by category its `color_discrete_sequence`."""
    unnamed = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            keywords = {keyword.arg for keyword in node.keywords}
            first = node.args[0] if node.args else None
            categorical = isinstance(first, ast.Constant) and str(first.value).endswith(":N")
            if node.func.attr == "Color" and categorical and "scale" not in keywords:
                unnamed.append(f"{path.name}:{node.lineno}")
            plotly = node.func.attr.startswith("scatter") and "color" in keywords
            if plotly and "color_discrete_sequence" not in keywords:
                unnamed.append(f"{path.name}:{node.lineno}")
    assert not unnamed, unnamed
