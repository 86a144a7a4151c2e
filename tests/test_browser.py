"""End to end in a real browser: Debian's Chromium, driven by Playwright, against
`streamlit run app.py`. It trains from the Train page, draws a digit with the mouse on the
canvas, sees ten probabilities appear, and saves a screenshot of every page.

Screenshots and timings go to `screenshots/` at the repository root (see the README).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
PROBABILITIES = re.compile(r"Probabilities: " + " · ".join(rf"{d}: \d+%" for d in range(10)))

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_url(isolated_homes: Path) -> Iterator[str]:
    """`streamlit run app.py` on 127.0.0.1, with this test's own runs folder."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser.new_page(viewport={"width": 1280, "height": 1600})
        browser.close()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let charts finish drawing
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def draw_seven(page: Page) -> None:
    canvas = page.locator("canvas.upper-canvas").first
    expect(canvas).to_be_visible(timeout=60_000)
    box = canvas.bounding_box()
    points = [(0.22, 0.15), (0.75, 0.15), (0.40, 0.90)]
    x, y = box["x"], box["y"]
    page.mouse.move(x + points[0][0] * box["width"], y + points[0][1] * box["height"])
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(x + px * box["width"], y + py * box["height"], steps=15)
    page.mouse.up()


def test_train_then_draw_a_digit_and_see_ten_probabilities(app_url: str, page: Page) -> None:
    timings = {}
    page.goto(app_url)
    expect(page.get_by_text("Transfer learning in seven steps")).to_be_visible(timeout=60_000)
    shoot(page, "1-home")

    page.goto(f"{app_url}/data")
    expect(page.get_by_text("Augmentation preview")).to_be_visible(timeout=60_000)
    shoot(page, "2-data")

    page.goto(f"{app_url}/train")
    start = page.get_by_text("Start training")
    expect(start).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Estimated time")).to_be_visible(timeout=60_000)
    clicked = time.perf_counter()
    start.click()
    expect(page.get_by_text("First curve point")).to_be_visible(timeout=240_000)
    timings["start_to_first_curve_point_s"] = round(time.perf_counter() - clicked, 2)
    expect(page.get_by_text("is now the model in use")).to_be_visible(timeout=240_000)
    timings["start_to_saved_model_s"] = round(time.perf_counter() - clicked, 2)
    shoot(page, "3-train")

    page.goto(f"{app_url}/draw")
    expect(page.get_by_text("Draw a digit on the black square")).to_be_visible(timeout=60_000)
    draw_seven(page)
    released = time.perf_counter()
    expect(page.get_by_text(PROBABILITIES)).to_be_visible(timeout=30_000)
    timings["mouse_up_to_prediction_s"] = round(time.perf_counter() - released, 3)
    expect(page.get_by_text("The network says")).to_be_visible()
    shoot(page, "4-draw")

    page.goto(f"{app_url}/results")
    expect(page.get_by_text("Confusion matrix")).to_be_visible(timeout=60_000)
    shoot(page, "5-results")

    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=2))
    print(timings)
