"""The class at the protocol level: N students drawing at the same moment, without browsers.

`classload` (Chromium) measures a class end to end, but its 30 renderers share the server's
2 cores, so its figures mix the browsers' work with the server's. This simulator speaks
Streamlit's own websocket protocol (its protobuf BackMsg and ForwardMsg) to a real
`streamlit run app.py`, as N sessions that open the Draw page and send the canvas
component's value, as the browser does after a stroke, and render nothing.

A drawing's time runs from sending the stroke's message to the server's message that the
run it started has finished (the Draw page's fragment: guess, answer buttons, bars,
explanation and the preparation steps). It counts as answered only if that run sent the
ten probabilities. The server's CPU time over the rounds and its peak memory come from
/proc. With `while_training`, a teacher session on the Train page starts a long run first
(from 127.0.0.1, so it may) and presses Stop at the end; the stopped run is then removed
(classload.on_a_fresh_server).
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tl_core.pipeline.images import png_data_url
from tl_core.tools.classload import (
    LOOK_AT_THE_ANSWER_S,
    class_figures,
    cpu_seconds,
    on_a_fresh_server,
)

CANVAS = "streamlit-drawable-canvas.streamlit_drawable_canvas"
ANSWER = "Probabilities: 0: "  # the caption under the bars: the run answered the drawing
RUN_ENDED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
ANSWER_TIMEOUT_S = 120
OPENING_AT_ONCE = 8  # sessions opening their first page together, as a class arrives


@dataclass(frozen=True)
class Element:
    """A widget the server drew: its id and the fragment it belongs to ("" for none)."""

    id: str
    fragment_id: str
    data_type: int = 0  # a number input's: int or float


@dataclass
class RunSeen:
    """What one run of a session's page sent: its seconds and the texts it showed."""

    seconds: float
    texts: list[str] = field(default_factory=list)


class Session:
    """One student's browser tab, as the server sees it: a websocket and a session."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.page_hash = ""
        self.elements: dict[str, Element] = {}

    @classmethod
    async def open(cls, url: str, page: str) -> "Session":
        """Connect and run `page` (its URL path) once, as a first request to it does."""
        host = url.removeprefix("http://")
        socket = await connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=[Subprotocol("streamlit")],
            origin=url,
            max_size=None,
        )
        session = cls(socket)
        await session.run(page_name=page)
        return session

    async def run(
        self, widgets: list[WidgetState] | None = None, fragment_id: str = "", page_name: str = ""
    ) -> RunSeen:
        """Ask for a rerun (of one fragment, if given) with these widget values; wait for it
        to finish, noting the widgets it drew."""
        message = BackMsg()
        state = message.rerun_script
        state.page_name = page_name
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.widget_states.widgets.extend(widgets or [])
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        started = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        seen = RunSeen(0.0)
        while True:
            forward = ForwardMsg.FromString(
                await asyncio.wait_for(self.socket.recv(), ANSWER_TIMEOUT_S)
            )
            kind = forward.WhichOneof("type")
            if kind == "navigation":  # the page the app's navigation runs, as a tab keeps it
                self.page_hash = forward.navigation.page_script_hash
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                self._note(forward.delta, seen)
            elif kind == "script_finished" and forward.script_finished in RUN_ENDED:
                seen.seconds = time.perf_counter() - started
                return seen

    def _note(self, delta: Any, seen: RunSeen) -> None:
        element = delta.new_element
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind in ("markdown", "alert"):  # captions and text; info, warning and error
            seen.texts.append(proto.body)
        name = getattr(proto, "label", "") or getattr(proto, "component_name", "")
        if name and getattr(proto, "id", ""):
            data_type = proto.data_type if kind == "number_input" else 0
            self.elements[name] = Element(proto.id, delta.fragment_id, data_type)

    async def draw(self, drawing: np.ndarray) -> float:
        """Send a canvas drawing as the component's new value; seconds to the run's end.
        Raises RuntimeError if the run did not show the ten probabilities."""
        canvas = self.elements[CANVAS]
        value = WidgetState(id=canvas.id, json_value=canvas_value(drawing))
        seen = await self.run([value], fragment_id=canvas.fragment_id)
        if not any(text.startswith(ANSWER) for text in seen.texts):
            raise RuntimeError("the run ended without the ten probabilities")
        return round(seen.seconds, 3)

    async def close(self) -> None:
        await self.socket.close()


def canvas_value(drawing: np.ndarray) -> str:
    """The JSON streamlit-drawable-canvas sends after a stroke: the drawing as a PNG data URL."""
    url = png_data_url(drawing)
    return json.dumps({"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}})


def drawing_of_a_seven(student: int, round_: int) -> np.ndarray:
    """A 7 as the canvas returns it, moved a few pixels per student and round, so every
    drawing is a new image for the app."""
    from tl_core.tools.bench import sample_drawing

    shift = (student * 7 + round_ * 3) % 21 - 10
    return np.roll(sample_drawing(), (shift, -shift), axis=(0, 1))


def run_protocol_load(
    students: int, rounds: int, while_training: bool = False, home: Path | None = None
) -> dict[str, Any]:
    """Start a server, open `students` sessions on Draw, draw `rounds` times at once."""
    return on_a_fresh_server(
        lambda url, pid: _class(url, pid, students, rounds, while_training), home
    )


async def _class(
    url: str, pid: int, students: int, rounds: int, while_training: bool
) -> dict[str, Any]:
    opening = asyncio.Semaphore(OPENING_AT_ONCE)

    async def arrive() -> Session:
        async with opening:
            return await Session.open(url, "draw")

    sessions = await asyncio.gather(*(arrive() for _ in range(students)))
    for number, session in enumerate(sessions):  # warm: every session's first answer
        await session.draw(drawing_of_a_seven(number, -1))
    teacher = await _start_training(url) if while_training else None
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    answers: list[Any] = []
    for round_ in range(rounds):
        answers += await asyncio.gather(
            *(s.draw(drawing_of_a_seven(n, round_)) for n, s in enumerate(sessions)),
            return_exceptions=True,
        )
        await asyncio.sleep(LOOK_AT_THE_ANSWER_S)
    wall, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
    training_state = await _stop_training(teacher) if teacher else None
    for session in sessions:
        await session.close()
    return class_figures(students, rounds, while_training, training_state, answers, cpu, wall)


def summary_line(result: dict[str, Any]) -> str:
    """The one line a school sizes a machine by."""
    return (
        f"students={result['students']} answered={result['answered']}/{result['drawings']} "
        f"p50_s={result['answer_p50_s']} p95_s={result['answer_p95_s']} "
        f"cpu_per_drawing_s={result['server_cpu_s_per_drawing']} "
        f"peak_rss_mb={result['server_peak_rss_mb']}"
    )


async def _start_training(url: str) -> Session:
    """A teacher's session on Train starts a run long enough to outlast the rounds."""
    teacher = await Session.open(url, "train")
    values = {"Training digits per class (0 = all)": 400, "Epochs": 100}
    widgets = [_number(teacher.elements[label], value) for label, value in values.items()]
    start = teacher.elements["Start training"]
    widgets.append(WidgetState(id=start.id, trigger_value=True))
    await teacher.run(widgets)
    return teacher


async def _stop_training(teacher: Session) -> str:
    """Press the Train page's Stop; says whether the run was still going (it should be)."""
    await teacher.run()  # the page as it is now: the progress with its Stop button
    stop = teacher.elements.get("Stop")
    if stop is None:
        await teacher.close()
        return "ended before the students finished"
    await teacher.run([WidgetState(id=stop.id, trigger_value=True)], stop.fragment_id)
    await teacher.close()
    return "running throughout"


def _number(element: Element, value: float) -> WidgetState:
    """A number input's new value, typed as the input is (whole numbers or not)."""
    if element.data_type == NumberInput.INT:
        return WidgetState(id=element.id, int_value=int(value))
    return WidgetState(id=element.id, double_value=float(value))
