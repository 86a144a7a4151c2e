"""The load test through the real server: a class of N students drawing at the same moment.

It starts `streamlit run app.py` on 127.0.0.1 with the newest complete run of the runs
folder, opens the Draw page in N pages of one headless Chromium (Playwright's async API),
and in each round every page draws a 7 at the same moment, as a class does when the
teacher says "now" (a later round traces the 7 again: every stroke is a new drawing for the
app, answered by a new run; between rounds the students look at their answers for 1 s).
For each drawing it takes the time from the mouse-up to the first frame in which the
student's browser shows the ten probabilities, after the server's message that the run
the drawing started has finished (seen on the page's own websocket). Server-side, it reads
the server process's CPU time while the drawings are answered and its peak memory, from /proc.
With `while_training`, a teacher page starts a long training run first and stops it at the
end, so the students draw while the server trains; the stopped run is then removed, so the
teacher's list of runs keeps none of the load test's.

Needs Playwright (requirements-dev.txt) and Debian's Chromium at /usr/bin/chromium.
"""

import asyncio
import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from tl_core.paths import HOME_ENV, default_runs_dir
from tl_core.pipeline.runs import list_runs

CHROMIUM = "/usr/bin/chromium"
# Every page is a student's own screen, in front: no throttling of pages in the background,
# which otherwise held back some canvases' strokes for seconds.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
]
APP = Path(__file__).resolve().parents[2] / "app.py"
ANSWER_TIMEOUT_MS = 120_000
# A student reads the answer before drawing again.
LOOK_AT_THE_ANSWER_S = 1.0
# Installed before the app loads: it timestamps, in performance.now() milliseconds, every
# message the page sends to the server (a drawing is one) and the first frame painted after
# each message saying the session's script stopped running (ForwardMsg field 9,
# `session_status_changed`, with `script_is_running` false: the two bytes 0x4a 0x00).
# The app's `data-test-script-state` attribute can't be used: when the browser is busy,
# React applies a run's start and end in one render and the attribute never changes, so an
# answered drawing would look lost (4 of 40 did).
WATCH_SERVER = """
const PROBABILITIES = /^Probabilities: 0: \\d+% · 1: /;
window.__sent = [];
window.__answered = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.__sent.push(performance.now());
  return send.call(this, data);
};
// From a finished run on: the first painted frame in which the ten probabilities are shown
// and not stale (it gives up after 30 s).
const whenShown = () => {
  const until = performance.now() + 30000;
  const check = () => {
    const shown = [...document.querySelectorAll('[data-testid="stElementContainer"]')].some(
      e => e.dataset.stale !== 'true' && PROBABILITIES.test(e.innerText));
    if (shown) window.__answered.push(performance.now());
    else if (performance.now() < until) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
};
const PageSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new PageSocket(...args);
  socket.addEventListener('message', async ({data}) => {
    const size = data.byteLength ?? data.size;  // an ArrayBuffer or a Blob
    if (size !== 2) return;
    const bytes = new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data);
    if (bytes[0] === 0x4a && bytes[1] === 0x00) whenShown();
  });
  return socket;
};
window.WebSocket.prototype = PageSocket.prototype;
Object.assign(window.WebSocket, PageSocket);
window.addEventListener('mouseup', () => { window.__mouseUp = performance.now(); }, true);
"""
# The end of the first run answered after the first message sent after the mouse-up, or null.
ANSWERED_AT = """t => {
  const sent = window.__sent.find(s => s > t);
  const end = sent === undefined ? undefined : window.__answered.find(a => a > sent);
  return end === undefined ? null : end;
}"""


def stroke_of_a_seven(box: dict[str, float], steps: int = 15) -> list[tuple[float, float]]:
    """The stroke of a 7 across a canvas's bounding box, in page coordinates."""
    corners = [(0.22, 0.15), (0.75, 0.15), (0.40, 0.90)]
    points = [corners[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        points += [
            (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)
        ]
    return [(box["x"] + px * box["width"], box["y"] + py * box["height"]) for px, py in points]


def run_class_load(
    students: int, rounds: int, while_training: bool = False, home: Path | None = None
) -> dict[str, Any]:
    """Drive `students` pages for `rounds` rounds; returns the figures (see the module)."""
    return on_a_fresh_server(
        lambda url, pid: _class(url, pid, students, rounds, while_training), home
    )


def on_a_fresh_server(
    play: Callable[[str, int], Coroutine[Any, Any, dict[str, Any]]], home: Path | None
) -> dict[str, Any]:
    """Start `streamlit run app.py` (with `home` as its DIGITLAB_HOME, if given), run the
    class `play(url, server_pid)` against it, and add the server's peak memory. Then remove
    the unfinished runs that server started (`remove_unfinished_runs`), so a load test
    leaves no stopped run in the teacher's list; the figures say in which state they were."""
    port = free_port()
    env = {**os.environ, **({HOME_ENV: str(home)} if home else {})}
    server = start_server(port, env)
    try:
        result = asyncio.run(play(f"http://127.0.0.1:{port}", server.pid))
        result["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    runs_removed = remove_unfinished_runs(default_runs_dir(home), server.pid)
    return {**result, "runs_removed": runs_removed}


def remove_unfinished_runs(runs_dir: Path, pid: int) -> list[str]:
    """Delete the runs that process `pid` started and did not complete (a class's teacher
    starts one and stops it); returns their states. Nothing another process started, and
    no complete run, is touched."""
    removed = []
    for run in list_runs(runs_dir):
        if run.status.get("pid") == pid and not run.is_complete:
            shutil.rmtree(run.path)
            removed.append(run.state)
    return removed


def class_figures(
    students: int,
    rounds: int,
    while_training: bool,
    training_state: str | None,
    answers: list[Any],
    cpu: float,
    wall: float,
) -> dict[str, Any]:
    """The figures of a class's rounds: `answers` holds each drawing's seconds, or the
    exception that kept it from being answered; `cpu` and `wall` span the rounds."""
    latencies = [answer for answer in answers if isinstance(answer, float)]
    failures = sorted({str(answer) for answer in answers if isinstance(answer, BaseException)})
    drawings = students * rounds
    return {
        "students": students,
        "rounds": rounds,
        "while_training": while_training,
        "training_state": training_state,
        "drawings": drawings,
        "answered": len(latencies),
        "errors": drawings - len(latencies),
        "error_kinds": failures,
        "answer_p50_s": percentile(latencies, 50),
        "answer_p95_s": percentile(latencies, 95),
        "answer_max_s": round(max(latencies), 3) if latencies else None,
        "server_cpu_s_per_drawing": round(cpu / drawings, 4),
        "server_cpu_s": round(cpu, 2),  # while the drawings were answered, training too
        "wall_s": round(wall, 1),  # the same spans, on the clock
    }


async def _class(
    url: str, pid: int, students: int, rounds: int, while_training: bool
) -> dict[str, Any]:
    """The class in one browser; every page draws at the same moment, each round."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        pages = [await _open_draw_page(browser, url) for _ in range(students)]
        for page in pages:  # warm: each page's first answer also loads its scripts
            await _answer_time(page, await _draw(page))
        await asyncio.sleep(LOOK_AT_THE_ANSWER_S)
        teacher = await _start_training(browser, url) if while_training else None
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        answers = []
        for _ in range(rounds):
            answers += await asyncio.gather(
                *(_draw_and_wait(page) for page in pages), return_exceptions=True
            )
            await asyncio.sleep(LOOK_AT_THE_ANSWER_S)
        wall, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
        training_state = await _stop_training(teacher) if teacher else None
        await browser.close()
    return class_figures(students, rounds, while_training, training_state, answers, cpu, wall)


def format_class_load(result: dict[str, Any]) -> str:
    """The figures as a two-column text table."""
    width = max(len(key) for key in result)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in result.items())


async def _open_draw_page(browser: Any, url: str) -> Any:
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    await page.add_init_script(WATCH_SERVER)
    await page.goto(f"{url}/draw")
    await page.locator("canvas.upper-canvas").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return page


async def _draw(page: Any) -> float:
    """Draw a 7 with the mouse; returns the mouse-up moment in the page's clock (ms)."""
    box = await page.locator("canvas.upper-canvas").first.bounding_box()
    points = stroke_of_a_seven(box)
    await page.mouse.move(*points[0])
    await page.mouse.down()
    for point in points[1:]:
        await page.mouse.move(*point)
    await page.mouse.up()
    return await page.evaluate("window.__mouseUp")


async def _draw_and_wait(page: Any) -> float:
    return await _answer_time(page, await _draw(page))


async def _answer_time(page: Any, mouse_up: float) -> float:
    """Seconds from the mouse-up to the first frame showing the answer of the run it started."""
    answered = await page.wait_for_function(ANSWERED_AT, arg=mouse_up, timeout=ANSWER_TIMEOUT_MS)
    ended = await answered.json_value()
    return round((ended - mouse_up) / 1000, 3)


async def _start_training(browser: Any, url: str) -> Any:
    """A teacher's page starts a run long enough to outlast the students' rounds."""
    teacher = await browser.new_page(viewport={"width": 1280, "height": 1600})
    await teacher.goto(f"{url}/train")
    await teacher.get_by_label("Training digits per class (0 = all)").fill("400")
    await teacher.get_by_label("Epochs").fill("100")
    await teacher.get_by_text("Start training").click()
    await teacher.get_by_text("Building features").wait_for(timeout=ANSWER_TIMEOUT_MS)
    return teacher


async def _stop_training(teacher: Any) -> str:
    """Stop the teacher's run; says whether it was still running (it should have been)."""
    stop = teacher.locator(".st-key-stop button")  # the Train page's Stop, not Streamlit's
    if not await stop.count():
        return "ended before the students finished"
    await stop.click()
    return "running throughout"


def start_server(
    port: int, env: dict[str, str], log: Path | None = None, address: str | None = "127.0.0.1"
) -> subprocess.Popen:
    """`streamlit run app.py` on `address`:`port` (loopback unless told; None: as the README
    starts it, on every address), returned once its health check answers; its output goes
    to `log` when given, else nowhere."""
    where = [] if address is None else ["--server.address", address]
    with open(log or os.devnull, "wb") as output:  # the server keeps its own copy
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
             *where, "--server.port", str(port)],
            cwd=APP.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("streamlit did not start") from None
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024, 1)


def percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 3)
