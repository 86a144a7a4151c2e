"""Serving predictions: ten probabilities for each digit, fast enough to follow a pen.

`model.predict` costs about 60 ms for one image on 2 cores; the same model inside a compiled
`tf.function` with a fixed signature costs about 8 to 12 ms, so the live canvas uses
`Predictor`. Evaluation (pipeline.evaluate) goes through the same class, so tests, the CLI
and the app share one path.

One Predictor serves every student (the app shares it). Drawings that arrive together are
run as one batch by a single worker thread: thirty drawings in one call cost far less than
thirty calls one after another on 2 cores, and only that thread ever calls the model. A
drawing whose guess is to be explained (the Draw page) also gets, in the same batch, the
gradient the explanation is made of (tl_core.teaching.explain): one forward and backward
pass for the whole batch instead of a pass per student.
"""

import queue
import threading
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from tl_core.errors import ImageError, PredictionFailed
from tl_core.i18n import Text, _, percent
from tl_core.pipeline.images import DIGIT_SIDE, digit_from_image
from tl_core.pipeline.preprocess import to_model_input

EVAL_BATCH = 256
STUDENTS_FIRST_MAX_WAIT_S = 2.0  # a heavy job never waits longer than this for drawings
WORKER_IDLE_S = 5.0
WORKER_CHECK_S = 1.0  # how often a waiting drawing checks that the worker is still alive
LOW_CONFIDENCE = 0.6


class _Waiting:
    """How many drawings are waiting for their answer, across every Predictor of the server.

    The heavy job (serving.jobs) waits for this to reach zero between its batches, so a
    drawing never queues behind more than the batches of training already in flight
    (tl_core.pipeline.features.STREAMS) on the shared cores.
    """

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_until_none(self, timeout: float = STUDENTS_FIRST_MAX_WAIT_S) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._count == 0, timeout)


DRAWINGS_WAITING = _Waiting()


@dataclass(frozen=True)
class Prediction:
    """The guess for one image, with the 28x28 digit it was made from."""

    digit: int
    confidence: float
    probabilities: np.ndarray
    digit_image: np.ndarray
    # Gradient x input, per pixel of `digit_image`, of the log-odds of the guess over the
    # runner-up: what tl_core.teaching.explain draws. None unless asked for.
    push: np.ndarray | None = None

    @property
    def is_confident(self) -> bool:
        return self.confidence >= LOW_CONFIDENCE

    def sentence(self) -> str:
        """The guess in words, for a screen reader and as the bars' text alternative:
        "The network says 7, 92% sure; next 1 at 5%."."""
        runner_up = int(np.argsort(self.probabilities)[-2])
        return _(
            "The network says {digit}, {sure} sure; next {runner_up} at {runner_up_sure}.",
            digit=self.digit,
            sure=percent(self.confidence),
            runner_up=runner_up,
            runner_up_sure=percent(float(self.probabilities[runner_up])),
        )


@dataclass
class _Request:
    """One digit waiting for its probabilities (and its push, if `explained`); `done` is set
    once `result` or `error` is."""

    digit: np.ndarray
    explained: bool
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[np.ndarray, np.ndarray | None] | None = None
    error: BaseException | None = None


class Predictor:
    """A full model (base + head) compiled once for uint8 28x28 digits; safe to share.

    Everything runs in float32, one drawing or many: a drawing gets the same probabilities
    alone or in a batch with the class's. (A bfloat16 base for batches was about twice as
    fast on CPUs with bfloat16 hardware, but the head standardises the features, which
    magnified its rounding into probabilities up to 0.12 apart.)
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.input_size = int(model.input_shape[1])
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._worker_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.serve(tf.zeros([1, 28, 28], tf.uint8))  # traced now, not under load
        self._explained(tf.zeros([1, 28, 28], tf.uint8))

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8)])
    def serve(self, digits: tf.Tensor) -> tf.Tensor:
        """The model behind a fixed signature, preparation included: uint8 digits
        (N, 28, 28), as `digit_from_image` makes them, to (N, 10) probabilities. The
        TensorFlow Lite export is this same function (tl_core.serving.export)."""
        return self.model(to_model_input(digits, self.input_size), training=False)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8)])
    def _explained(self, digits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`serve`'s probabilities and, per digit, gradient x input of log p(guess) -
        log p(runner-up) with respect to its 28x28 pixels. Each digit's log-odds depends
        on its own pixels only (nothing mixes a batch at inference), so one gradient of
        their sum holds every digit's own."""
        pixels = tf.cast(digits, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            probabilities = self.model(to_model_input(pixels, self.input_size), training=False)
            top = tf.math.top_k(probabilities, 2).indices
            top_two = tf.gather(probabilities, top, batch_dims=1)
            log_odds = tf.math.log(top_two[:, 0] + 1e-7) - tf.math.log(top_two[:, 1] + 1e-7)
        return probabilities, pixels * tape.gradient(log_odds, pixels)

    def probabilities(self, digits: np.ndarray) -> np.ndarray:
        """Softmax outputs (N, 10) for uint8 digits (N, 28, 28): one alone, or in batches."""
        chunks = [
            self.serve(tf.constant(digits[start : start + EVAL_BATCH])).numpy()
            for start in range(0, len(digits), EVAL_BATCH)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), np.float32)

    def predict_image(
        self, image: np.ndarray, drawing: bool = False, explained: bool = False
    ) -> Prediction:
        """Guess the digit in a canvas drawing or photo; raises NoDigitFound if there is none.
        With `explained`, the prediction carries the push its explanation is drawn from."""
        return self.predict_digit(digit_from_image(image, drawing), explained)

    def predict_digit(self, digit_image: np.ndarray, explained: bool = False) -> Prediction:
        """Guess a prepared uint8 28x28 digit (what `digit_from_image` makes).

        Safe from many threads at once: the digit joins the next batch of the worker thread.
        A worker that died leaves no drawing waiting forever: the drawing gets one sentence
        (PredictionFailed), and the next one starts a fresh worker.
        """
        if digit_image.shape != (DIGIT_SIDE, DIGIT_SIDE) or digit_image.dtype != np.uint8:
            raise ImageError(
                Text("A digit must be 28x28 (uint8), not {shape}.", shape=str(digit_image.shape))
            )
        request = _Request(digit_image, explained)
        with DRAWINGS_WAITING:
            with self._worker_lock:
                self._requests.put(request)
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._serve, daemon=True, name="digit-lab-predict"
                    )
                    self._worker.start()
                worker = self._worker
            while not request.done.wait(WORKER_CHECK_S):
                if not worker.is_alive() and not request.done.is_set():
                    self._forget_worker(worker)
                    raise PredictionFailed(
                        Text("The model stopped answering: draw your digit again.")
                    )
        if request.error is not None:
            raise request.error
        probabilities, push = request.result
        best = int(np.argmax(probabilities))
        return Prediction(best, float(probabilities[best]), probabilities, digit_image, push)

    def _forget_worker(self, worker: threading.Thread) -> None:
        """The next drawing starts a new worker, if `worker` is still the current one."""
        with self._worker_lock:
            if self._worker is worker:
                self._worker = None

    def _serve(self) -> None:
        """The worker: wait for a digit, take every other one waiting too, run them as one.

        It ends after WORKER_IDLE_S without work, so an unused Predictor can be freed. A
        failure in a batch is handed to that batch's drawings; the worker goes on.
        """
        while True:
            try:
                batch = [self._requests.get(timeout=WORKER_IDLE_S)]
            except queue.Empty:
                with self._worker_lock:
                    if self._requests.empty():
                        self._worker = None
                        return
                continue
            while len(batch) < EVAL_BATCH:
                try:
                    batch.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            for explained in (False, True):  # a pass for each kind waiting, at most two
                self._answer([request for request in batch if request.explained == explained])

    def _answer(self, requests: list[_Request]) -> None:
        """Run these requests as one batch and hand each its result (or the failure)."""
        if not requests:
            return
        try:
            digits = tf.constant(np.stack([request.digit for request in requests]))
            if requests[0].explained:
                probabilities, pushes = (t.numpy() for t in self._explained(digits))
            else:
                probabilities, pushes = self.serve(digits).numpy(), [None] * len(requests)
        except BaseException as error:  # hand any failure to the callers, keep serving
            for request in requests:
                request.error = error
                request.done.set()
            return
        for request, result, push in zip(requests, probabilities, pushes, strict=True):
            request.result = (result, push)
            request.done.set()
