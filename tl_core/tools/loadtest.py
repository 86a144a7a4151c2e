"""The classroom load test: N students asking for predictions at once, on 127.0.0.1.

A server process holds one shared Predictor, as the app does (one model for every session),
behind a small HTTP endpoint: POST /predict with a PNG drawing returns the guess as JSON. It
takes the same path as an upload on the Draw page: read_image -> digit_from_image ->
Predictor. Each client is a thread in this process with its own keep-alive connection that
sends its next drawing `pause` seconds after the last answer came (0: back to back, the worst
case; a student draws one digit in a few seconds). With `while_training`, the server process
also runs a training job, as the app does in class.

Only loopback is used; the test stops by itself after `seconds`.
"""

import http.client
import http.server
import io
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tl_core.errors import DigitLabError

HOST = "127.0.0.1"
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LoadResult:
    """What the clients saw: requests answered, failures, latencies in milliseconds."""

    clients: int
    seconds: float
    requests: int
    errors: int
    latencies_ms: tuple[float, ...]
    digits: tuple[int, ...]
    pause: float
    while_training: bool
    training_state: str | None

    def summary(self) -> dict[str, Any]:
        """Throughput and latency percentiles, as printed and as JSON."""
        latencies = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "errors": self.errors,
            "throughput_per_s": round(self.requests / self.seconds, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "pause_s": self.pause,
            "while_training": self.while_training,
            "training_state": self.training_state,
        }


def run_load_test(
    run_path: Path,
    clients: int,
    seconds: float,
    drawing: np.ndarray,
    training: dict[str, Any] | None = None,
    pause: float = 0.0,
) -> LoadResult:
    """Start the server process, run `clients` client threads for `seconds`, stop it.

    `training` is a TrainConfig as a dict, trained in the server process meanwhile, or None.
    """
    context = get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    server = context.Process(
        target=_serve, args=(str(run_path), training, ports, stop), daemon=True
    )
    server.start()
    try:
        port, error = ports.get(timeout=300)
        if error:
            raise DigitLabError(error)
        body = _png(drawing)
        outcomes: list[list[tuple[float, int | None]]] = [[] for _ in range(clients)]
        started = time.perf_counter()
        deadline = started + seconds
        threads = [
            threading.Thread(target=_client, args=(port, body, deadline, pause, outcome))
            for outcome in outcomes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        stop.set()
        training_state = ports.get(timeout=60)
    finally:
        stop.set()
        server.join(timeout=60)
        if server.is_alive():
            server.kill()
    answered = [outcome for per_client in outcomes for outcome in per_client]
    good = [(ms, digit) for ms, digit in answered if digit is not None]
    return LoadResult(
        clients=clients,
        seconds=elapsed,
        requests=len(good),
        errors=len(answered) - len(good),
        latencies_ms=tuple(ms for ms, _ in good),
        digits=tuple(sorted({digit for _, digit in good})),
        pause=pause,
        while_training=training is not None,
        training_state=training_state,
    )


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # thirty clients connect at once; the default 5 drops some
    daemon_threads = True


def _png(drawing: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(drawing).save(buffer, "PNG")
    return buffer.getvalue()


def _client(port: int, body: bytes, deadline: float, pause: float, outcomes: list) -> None:
    """Send drawings until the deadline, `pause` s apart; record (ms, digit or None on error)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            connection.request("POST", "/predict", body, {"Content-Type": "image/png"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            digit = answer["digit"] if response.status == 200 else None
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
            digit = None
        outcomes.append(((time.perf_counter() - started) * 1000, digit))
        time.sleep(pause)
    connection.close()


def _serve(run_path: str, training: dict[str, Any] | None, ports: Any, stop: Any) -> None:
    """The server process: one Predictor for every request, optionally a training job."""
    from tl_core.config import TrainConfig
    from tl_core.paths import HOME_ENV
    from tl_core.pipeline.images import read_image
    from tl_core.pipeline.predict import Predictor
    from tl_core.pipeline.runs import load_model, read_run
    from tl_core.serving.jobs import ServerJob

    try:
        run = read_run(Path(run_path))
        predictor = Predictor(load_model(run, run.path.parent))
    except DigitLabError as error:
        ports.put((None, str(error)))
        return

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a browser's websocket stays open

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                prediction = predictor.predict_image(read_image(body), drawing=True)
                status, answer = 200, {"digit": prediction.digit}
            except DigitLabError as error:
                status, answer = 422, {"error": str(error)}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server((HOST, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    job = None
    if training is not None:  # in a folder of its own, from an empty feature cache
        os.environ[HOME_ENV] = tempfile.mkdtemp(prefix="digitlab-loadtest-")
        job = ServerJob()
        job.start(TrainConfig.from_dict(training))
    ports.put((server.server_address[1], None))
    stop.wait()
    server.shutdown()
    state = None
    if job is not None:
        state = job.snapshot().state
        job.stop()
        job.wait(120)
    ports.put(state)
