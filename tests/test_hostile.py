"""A hostile class: what a curious student's browser can send, over Streamlit's own protocol,
to a real `streamlit run app.py` (tl_core.tools.classsim speaks it), and a server killed in
the middle of a lesson.

Each test checks the server is still up, its memory grew by less than 50 MB, the other
students are still answered, and nothing the class made was lost.
"""

import asyncio
import base64
import io
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import install_run
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tl_core.pipeline.handwriting import class_entries, load_handwriting
from tl_core.pipeline.runs import INTERRUPTED, RUNNING, Run, list_runs
from tl_core.tools.classload import free_port, peak_rss_mb, start_server
from tl_core.tools.classsim import CANVAS, Session, drawing_of_a_seven

pytestmark = pytest.mark.slow  # real servers: with the slow tests, in CI

PASSCODE = "owl-in-the-oak"
GREW_AT_MOST_MB = 50
LONG_RUN = {"Training digits per class (0 = all)": 400, "Epochs": 100}


@dataclass
class Server:
    url: str
    process: object
    home: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_up(self) -> bool:
        return self.process.poll() is None


def serve(home: Path, passcode: str | None, address: str | None = "127.0.0.1") -> Server:
    """`streamlit run app.py` with its own home (a copy of the session's trained run in it)."""
    env = {**os.environ, "DIGITLAB_HOME": str(home), "DIGITLAB_OFFLINE": "1"}
    env.pop("DIGITLAB_TEACHER_PASSCODE", None)
    if passcode:
        env["DIGITLAB_TEACHER_PASSCODE"] = passcode
    port = free_port()
    log = home.parent / f"server-{port}.log"
    process = start_server(port, env, log=log, address=address)
    return Server(f"http://127.0.0.1:{port}", process, home)


def stop(server: Server) -> None:
    server.process.terminate()
    server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def home(tiny_run: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile") / "digitlab"
    install_run(tiny_run, home / "runs")
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    """One server with a teacher passcode for the class's tests (a student on 127.0.0.1 is a
    student: the passcode was set by hand)."""
    running = serve(home, PASSCODE)
    yield running
    stop(running)


def seven(student: int = 0, round_: int = 0) -> object:
    return drawing_of_a_seven(student, round_)


def canvas_state(session: Session, data_url: str) -> WidgetState:
    """The canvas's value as a browser sends it after a stroke, with any `data` URL."""
    drawing = {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url}}
    return WidgetState(id=session.elements[CANVAS].id, json_value=json.dumps(drawing))


async def send_canvas(session: Session, value: WidgetState) -> list[str]:
    """Send a canvas value; the texts the Draw fragment's run showed."""
    seen = await session.run([value], fragment_id=session.elements[CANVAS].fragment_id)
    return seen.texts


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def enter_passcode(session: Session, passcode: str) -> list[str]:
    field = session.elements["Teacher passcode"]
    seen = await session.run([WidgetState(id=field.id, string_value=passcode)])
    return seen.texts


async def start_long_training(teacher: Session) -> list[str]:
    """The Train form's Start, with a run long enough to outlast the test."""
    widgets = []
    for label, value in LONG_RUN.items():
        widgets.append(WidgetState(id=teacher.elements[label].id, int_value=value))
    widgets.append(WidgetState(id=teacher.elements["Start training"].id, trigger_value=True))
    seen = await teacher.run(widgets)
    return seen.texts


def runs_in(home: Path, state: str) -> list[Run]:
    return [run for run in list_runs(home / "runs") if run.state == state]


async def a_victim_and_another_student(server: Server) -> tuple[Session, Session, float]:
    """Two students on Draw, the other one answered once; the server's peak memory now."""
    victim = await Session.open(server.url, "draw")
    other = await Session.open(server.url, "draw")
    await other.draw(seven())
    return victim, other, peak_rss_mb(server.pid)


def test_a_drawing_that_decodes_to_gigabytes_costs_the_server_nothing(server: Server) -> None:
    async def play() -> None:
        victim, other, before = await a_victim_and_another_student(server)
        bomb = png_bytes(Image.new("RGBA", (12_000, 12_000), (0, 0, 0, 255)))
        assert 100_000 < len(bomb) < 1_000_000  # a few hundred KB: 576 MB once decoded
        url = "data:image/png;base64," + base64.b64encode(bomb).decode()
        texts = await send_canvas(victim, canvas_state(victim, url))
        assert any("This drawing could not be read" in text for text in texts)
        for forged in ("data:image/png;base64,!!!", "not a data URL", "data:text/plain,hi"):
            texts = await send_canvas(victim, canvas_state(victim, forged))
            assert any("This drawing could not be read" in text for text in texts)
        assert await other.draw(seven(1)) < 30  # the other students are still answered
        assert await victim.draw(seven(2)) < 30  # and the curious one, drawing again
        assert peak_rss_mb(server.pid) - before < GREW_AT_MOST_MB
        for session in (victim, other):
            await session.close()

    asyncio.run(play())
    assert server.is_up()


def test_a_message_over_the_size_cap_closes_only_its_own_connection(server: Server) -> None:
    async def play() -> None:
        victim, other, before = await a_victim_and_another_student(server)
        huge = WidgetState(id=victim.elements[CANVAS].id, json_value="x" * 3_000_000)
        with pytest.raises((ConnectionClosed, asyncio.TimeoutError)):
            await send_canvas(victim, huge)
        assert await other.draw(seven(3)) < 30
        assert peak_rss_mb(server.pid) - before < GREW_AT_MOST_MB
        await other.close()

    asyncio.run(play())
    assert server.is_up()


def test_clear_cache_and_forged_buttons_leave_the_teachers_run_and_its_stop(server: Server) -> None:
    async def play() -> None:
        teacher = await Session.open(server.url, "train")
        assert "Start training" not in teacher.elements  # a passcode set by hand: not yet
        await enter_passcode(teacher, PASSCODE)
        await teacher.run()
        start_id = teacher.elements["Start training"].id
        await start_long_training(teacher)
        student = await Session.open(server.url, "train")
        assert "Start training" not in student.elements and "Stop" not in student.elements
        forged = WidgetState(id=start_id, trigger_value=True)  # the teacher's button, forged
        await student.run([forged])
        for message in ("clear_cache", "debug_shutdown_runtime"):
            back = BackMsg()
            setattr(back, message, True)
            await student.socket.send(back.SerializeToString())
        await asyncio.sleep(2)
        drawer = await Session.open(server.url, "draw")
        assert await drawer.draw(seven()) < 30
        await teacher.run()  # the teacher's Train page after all that
        assert "Stop" in teacher.elements  # still sees the run, and its Stop
        assert len(runs_in(server.home, RUNNING)) == 1  # one run, not two
        texts = await start_long_training(teacher)  # a second Start is refused
        assert any("is running on the server" in text for text in texts)
        assert len(runs_in(server.home, RUNNING)) == 1
        stop_button = teacher.elements["Stop"]
        await teacher.run([WidgetState(id=stop_button.id, trigger_value=True)])
        for session in (teacher, student, drawer):
            await session.close()

    asyncio.run(play())
    deadline = time.monotonic() + 120
    while runs_in(server.home, RUNNING) and time.monotonic() < deadline:
        time.sleep(1)
    assert not runs_in(server.home, RUNNING) and server.is_up()


def test_a_burst_of_saves_is_slowed_and_a_student_cannot_remove_the_class_drawings(
    server: Server,
) -> None:
    async def play() -> tuple[int, float]:
        student = await Session.open(server.url, "draw")
        before = len(class_entries(server.home / "handwriting"))
        started = time.monotonic()
        for round_ in range(8):  # draw and tap "Right" as fast as a script can
            await student.draw(seven(5, round_))
            right = next(label for label in student.elements if label.startswith("Right, it"))
            await student.run([WidgetState(id=student.elements[right].id, trigger_value=True)])
        elapsed = time.monotonic() - started
        saved = len(class_entries(server.home / "handwriting")) - before
        wall = await Session.open(server.url, "classroom")
        assert "Remove" not in wall.elements and "Start a new class set" not in wall.elements
        teacher = await Session.open(server.url, "classroom")
        await enter_passcode(teacher, PASSCODE)
        await teacher.run()
        new_set = teacher.elements["Start a new class set"]
        await wall.run([WidgetState(id=new_set.id, trigger_value=True)])  # forged
        for session in (student, wall, teacher):
            await session.close()
        return saved, elapsed

    saved, elapsed = asyncio.run(play())
    assert 1 <= saved <= elapsed + 1  # at most one a second
    assert len(class_entries(server.home / "handwriting")) >= saved  # nothing was removed


async def train_page_offers_start(url: str, **connect_options: object) -> bool:
    """Open the Train page over a websocket made with these options; whether it has Start."""
    socket = await connect(
        url.replace("http://", "ws://") + "/_stcore/stream",
        subprotocols=[Subprotocol("streamlit")],
        origin=url,
        max_size=None,
        **connect_options,
    )
    session = Session(socket)
    await session.run(page_name="train")
    await session.close()
    return "Start training" in session.elements


def test_only_a_direct_loopback_browser_is_the_teacher_without_a_passcode(home: Path) -> None:
    """A server on 127.0.0.1 without a passcode: the browser at 127.0.0.1 gets Start; one
    connecting from 127.0.0.6 (a sidecar proxy) or with a forwarding header does not."""
    alone = serve(home, None)
    try:

        async def play() -> dict[str, bool]:
            return {
                "direct": await train_page_offers_start(alone.url),
                "127.0.0.6": await train_page_offers_start(alone.url, local_addr=("127.0.0.6", 0)),
                "forwarded": await train_page_offers_start(
                    alone.url, additional_headers={"X-Forwarded-For": "127.0.0.1"}
                ),
            }

        assert asyncio.run(play()) == {"direct": True, "127.0.0.6": False, "forwarded": False}
    finally:
        stop(alone)


def test_a_server_started_as_the_readme_says_makes_up_a_passcode_for_other_devices(
    home: Path,
) -> None:
    """`streamlit run app.py` listens on every address: the browser at 127.0.0.1 (seen as
    ::ffff:127.0.0.1 where the socket is IPv6) is the teacher, and a passcode is made up and
    printed on the server's own screen for the teacher's other devices."""
    readme = serve(home, None, address=None)
    try:
        assert asyncio.run(train_page_offers_start(readme.url))
        log = next(home.parent.glob(f"server-{readme.url.rsplit(':', 1)[1]}.log")).read_text()
        made_up = log.split("Teacher passcode for this lesson: ")[1].split()[0]

        async def from_a_forwarded_device() -> tuple[bool, bool]:
            options = {"additional_headers": {"X-Forwarded-For": "192.0.2.7"}}
            socket = await connect(
                readme.url.replace("http://", "ws://") + "/_stcore/stream",
                subprotocols=[Subprotocol("streamlit")],
                origin=readme.url,
                **options,
            )
            device = Session(socket)
            await device.run(page_name="train")
            before = "Start training" in device.elements
            await enter_passcode(device, made_up)
            await device.run()
            after = "Start training" in device.elements
            await device.close()
            return before, after

        assert asyncio.run(from_a_forwarded_device()) == (False, True)
    finally:
        stop(readme)


def test_a_server_killed_mid_training_and_mid_save_restarts_with_both_intact(
    tiny_run: Run, tmp_path: Path
) -> None:
    home = tmp_path / "digitlab"
    install_run(tiny_run, home / "runs")
    first = serve(home, PASSCODE)

    async def lesson() -> None:
        teacher = await Session.open(first.url, "train")
        await enter_passcode(teacher, PASSCODE)
        await teacher.run()
        await start_long_training(teacher)
        savers = [await Session.open(first.url, "draw") for _ in range(3)]

        async def save_forever(number: int, student: Session) -> None:
            for round_ in range(1000):
                await student.draw(seven(number, round_))
                right = next(label for label in student.elements if label.startswith("Right"))
                await student.run([WidgetState(id=student.elements[right].id, trigger_value=True)])
                await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(save_forever(n, s)) for n, s in enumerate(savers)]
        deadline = time.monotonic() + 60
        while len(class_entries(home / "handwriting")) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        os.kill(first.pid, signal.SIGKILL)  # mid-training, and mid-save for some student
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(lesson())
    first.process.wait(timeout=30)
    (killed,) = runs_in(home, RUNNING)
    saved = class_entries(home / "handwriting")
    assert len(saved) >= 4
    second = serve(home, PASSCODE)
    try:

        async def after_restart() -> list[str]:
            teacher = await Session.open(second.url, "train")
            seen = await teacher.run()
            await teacher.close()
            return seen.texts

        asyncio.run(after_restart())
        (interrupted,) = runs_in(home, INTERRUPTED)
        assert interrupted.name == killed.name and not runs_in(home, RUNNING)
        kept = load_handwriting(home / "handwriting")
        assert kept.skipped == 0 and len(kept) == len(saved)  # every drawing, none half-written
        assert not list((home / "handwriting").glob(".*"))  # no temporary file left behind
    finally:
        stop(second)
