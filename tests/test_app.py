"""Every page of the Streamlit app, run headless with streamlit.testing.v1.AppTest."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, canvas_value
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from tl_core.config import TrainConfig
from tl_core.pipeline.evaluate import weakest_digit
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import Run, load_model
from tl_core.teaching.lesson import with_wrong_per_100

TIMEOUT = 120
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def page(name: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if name != "home":
        app.switch_page(f"pages/{name}.py").run()
    assert not app.exception, app.exception
    return app


def draw_a_seven() -> AppTest:
    """The Draw page after a 7 was drawn on its canvas."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page("pages/draw.py")
    app.session_state["canvas-0"] = canvas_value(
        lambda draw: draw.line([(60, 40), (200, 40), (110, 250)], fill="white", width=18)
    )
    return app.run()


def texts(app: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "info", "warning", "error", "success", "caption")
        for e in getattr(app, kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_home_explains_the_steps_and_names_the_pretrained_base_offline() -> None:
    app = page("home")
    assert "Transfer learning in seven steps" in [h.value for h in app.subheader]
    assert not app.warning  # offline, the base is still pretrained
    base = next(info.value for info in app.info if "The base is" in info.value)
    assert "then on edge detection" in base and "prefetch" in base
    assert [m.value for m in app.metric][:2] == ["embedded (5,000)", "ImageNet, then edges"]
    # no passcode, and Streamlit listens on every address: one is made up, shown only here
    assert "so it made one up for this lesson: **" in texts(app)


HOME_ALONE = """
import sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not app.exception, app.exception
assert app.metric, "Home drew no metrics"
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_home_is_drawn_without_loading_tensorflow() -> None:
    """Loading TensorFlow takes seconds: Home, the class's first sight, waits for none of it."""
    done = subprocess.run(
        [sys.executable, "-c", HOME_ALONE, APP], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", "Home loaded TensorFlow or Keras"


def test_data_page_shows_samples_and_augmentation() -> None:
    app = page("data")
    assert len(app.get("image")) == 3  # the sample grid, and before/after for train and test
    before = [image.proto.imgs[0].url for image in app.get("image")]
    app.slider(key="aug_rotation").set_value(40.0).run()
    assert not app.exception
    after = [image.proto.imgs[0].url for image in app.get("image")]
    assert after[0] == before[0] and after[1:] != before[1:]  # only the augmented ones change


@pytest.mark.slow  # trains with the page's own test budget: with the slow tests, in CI
def test_train_page_runs_a_job_to_completion_and_shows_curves() -> None:
    app = page("train")
    assert app.radio(key="weights").value == "pretrained"  # offline too: edge-detection VGG16
    assert "Trainable (head)" in [m.label for m in app.metric]
    app.number_input(key="per_class").set_value(10)
    app.number_input(key="epochs").set_value(2)
    app.number_input(key="views").set_value(1)
    app.button[0].click().run()  # the form's Start button
    from pages.common import server_job

    deadline = time.monotonic() + TIMEOUT
    while server_job().snapshot().is_active and time.monotonic() < deadline:
        time.sleep(0.5)
    status = server_job().snapshot()
    assert status.state == "done", status.error
    assert [row["epoch"] for row in status.history] == [1, 2]
    app.run()
    assert not app.exception
    assert len(app.get("vega_lite_chart")) >= 2  # accuracy and loss curves
    assert "is now the model in use" in texts(app)


def test_a_second_start_while_training_is_refused() -> None:
    from pages.common import server_job

    job = server_job()
    slow = TrainConfig(data_source="embedded", weights="random", per_class=50, epochs=50)
    assert job.start(slow)
    try:
        assert not job.start(TINY)
    finally:
        job.stop()
        assert job.wait(TIMEOUT).state == "stopped"


def test_draw_page_predicts_an_injected_drawing(trained_run: Run) -> None:
    app = draw_a_seven()
    assert not app.exception, app.exception
    (guess,) = [m for m in app.metric if m.label == "The network says"]
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))  # as canvas_value draws it
    ImageDraw.Draw(image).line([(60, 40), (200, 40), (110, 250)], fill="white", width=18)
    model = load_model(trained_run, trained_run.path.parent)
    expected = Predictor(model).predict_image(np.asarray(image), drawing=True)
    assert guess.value == str(expected.digit)  # the shared model's answer for this drawing
    shown = [c.value for c in app.caption if c.value.startswith("Probabilities: ")]
    assert shown == [
        "Probabilities: "
        + " · ".join(f"{d}: {p:.0%}" for d, p in enumerate(expected.probabilities))
    ]
    assert len(app.get("vega_lite_chart")) == 1
    runner_up = int(np.argsort(expected.probabilities)[-2])
    (why,) = [h.value for h in app.html if "<figcaption>Orange marks" in h.value]
    assert f"<strong>Why {expected.digit}?</strong>" in why  # its heading in the same element
    assert f"say {expected.digit}" in why and f"pointed to {runner_up}" in why
    assert why.count('<img src="data:image/png;base64,') == 1  # inline, not fetched
    assert 'role="status"' in why  # the guess, read out when it changes
    (steps,) = [h.value for h in app.html if "slant straightened" in h.value]
    assert steps.count("<img ") == 4 and steps.count('alt="') == 4
    assert "<strong>What the network sees</strong>: every training digit" in steps
    drawn = app.session_state["canvas-0"]["drawing"]["data"]
    assert f'<img src="{drawn}"' in steps  # the drawing shown as the canvas sent it


def test_draw_page_with_an_empty_canvas_asks_for_a_digit(trained_run: Run) -> None:
    app = page("draw")
    assert not [m for m in app.metric if m.label == "The network says"]
    assert "Draw a digit" in texts(app)
    app.session_state["canvas-0"] = canvas_value(lambda draw: None)
    app.run()
    assert not [m for m in app.metric if m.label == "The network says"]
    assert "The image is empty: draw a digit." in texts(app)


def test_draw_page_without_a_model_says_where_to_train() -> None:
    app = page("draw")
    assert "train one on the Train page" in texts(app)


def test_results_page_shows_metrics_confusion_and_runs(trained_run: Run) -> None:
    app = page("results")
    labels = [m.label for m in app.metric]
    assert labels[:3] == [
        "MNIST (clean)",
        "MNIST (augmented)",
        "Real people's digits",
    ]
    assert len(app.dataframe) >= 1
    metrics = trained_run.metrics
    assert app.metric[0].value == f"{metrics['test_accuracy']:.1%}"
    assert app.metric[1].value == f"{metrics['test_accuracy_augmented']:.1%}"
    assert app.metric[2].value == f"{metrics['people_accuracy']:.1%}"
    assert app.metric[labels.index("Drawn-digit set")].value == f"{metrics['drawn_accuracy']:.1%}"
    weakest = weakest_digit(metrics["people_per_digit"])
    assert f"Weakest digit and its accuracy: {weakest}." in texts(app)
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    lines = [spec for spec in specs if spec.get("mark") == {"type": "line", "point": True}]
    curves = {spec["encoding"]["y"]["title"]: spec for spec in lines}
    assert set(curves) == {"accuracy", "wrong per 100 digits", "loss"}
    fitted = curves["accuracy"]["encoding"]["y"]["scale"]
    assert fitted == {"zero": False}  # the axis fits the values, not 0 to 1
    last = trained_run.history[-1]
    assert with_wrong_per_100([last])[0]["val_wrong"] == round(100 * (1 - last["val_accuracy"]), 2)
    app.selectbox(key="true").set_value(0).run()
    app.selectbox(key="guess").set_value(0).run()
    assert not app.exception
    right = np.array(metrics["confusion"])[0, 0]  # the zeros read as zeros, from the run
    shown = f"{right} test digit(s) 0 guessed as 0" if right else "No test digit 0 was"
    captions = [image.caption for element in app.get("image") for image in element.proto.imgs]
    assert shown in texts(app) + " ".join(captions)


@pytest.mark.slow  # two strategies trained: with the slow tests, in CI
def test_compare_page_runs_pretrained_and_scratch_offline() -> None:
    app = page("compare")
    assert [h.value for h in app.subheader][:3] == [
        "1. Strategies, one chart",
        "2. How much data do you need?",
        "3. Where to cut",
    ]
    assert [m.value for m in app.metric] == ["4x4x256", "2x2x512", "1x1x512"]
    app.select_slider(key="strategies_per_class").set_value(10)
    app.number_input(key="strategies_epochs").set_value(1)
    app.multiselect(key="keys").set_value(["pretrained", "scratch"])
    app.button(key="run_compare").click().run()
    from pages.common import server_job

    assert server_job().wait(TIMEOUT).state == "done"  # in the server's job, not the request
    app.run()
    assert not app.exception, app.exception
    assert not app.warning  # offline, the pretrained base is the edge-detection VGG16
    assert len(app.get("vega_lite_chart")) >= 1 and len(app.dataframe) == 1
    table = app.dataframe[0].value
    assert list(table["people's digits"].notna()) == [True, True]
    assert "then on edge detection" in table["strategy"][0]


def test_inside_page_shows_maps_filters_and_the_feature_space(trained_run: Run) -> None:
    app = page("inside")
    assert [h.value for h in app.subheader] == [
        "Feature maps after each block",
        "The first layer's 64 filters",
        "The feature space",
    ]
    blocks = int(trained_run.config.bottleneck.removeprefix("block"))
    assert len(app.get("image")) == 1 + blocks + 1  # the digit, a grid per block, the filters
    app.radio(key="space_dims").set_value(3).run()
    assert not app.exception, app.exception
    assert len(app.get("plotly_chart")) == 1


def test_inside_page_without_a_model_says_where_to_train() -> None:
    app = page("inside")
    assert "train one on the Train page" in texts(app)


def test_a_drawing_answered_on_the_draw_page_counts_on_the_results_page(trained_run: Run) -> None:
    app = draw_a_seven()
    guess = int(app.metric[0].value)
    (meant_buttons,) = app.pills
    assert meant_buttons.label == "I meant…" and guess not in meant_buttons.options
    meant = int(meant_buttons.options[0])
    meant_buttons.set_value(meant).run()
    assert not app.exception, app.exception
    from tl_core.pipeline.handwriting import class_entries, load_handwriting

    assert load_handwriting().y.tolist() == [meant] and class_entries()[0].guess == guess
    app.switch_page("pages/results.py").run()
    (ours,) = [m for m in app.metric if m.label == "Our handwriting"]
    assert ours.value.endswith("%") and "1 drawings" in str(ours.delta)


def test_with_a_passcode_only_the_teacher_starts_training(teacher_passcode: str) -> None:
    app = page("train")
    assert "Only the teacher starts and stops training here" in texts(app)
    assert not [b for b in app.button if "Start" in b.label]  # no control a student can't use
    from pages.common import server_job

    assert server_job().snapshot().state == "idle"
    app.text_input(key="teacher_passcode_field").input(teacher_passcode).run()
    app.run()  # a later rerun still knows the passcode
    assert "Only the teacher starts" not in texts(app)
    app.number_input(key="per_class").set_value(10)
    app.number_input(key="epochs").set_value(1)
    app.button[0].click().run()
    assert server_job().snapshot().state in ("running", "done")  # the teacher's Start worked
    server_job().stop(teacher_passcode)  # a whole run: test_train_page_runs_a_job_to_...
    assert server_job().wait(TIMEOUT).state in ("stopped", "done")


@pytest.mark.slow  # a few trainings: with the slow tests, in CI
def test_compare_is_the_teachers_and_every_tab_sees_its_result(teacher_passcode: str) -> None:
    from pages.common import server_job

    student = page("compare")
    assert "Only the teacher starts these" in texts(student)
    assert not student.button  # no heavy button a student could press
    teacher = page("compare")
    teacher.text_input(key="teacher_passcode_field").input(teacher_passcode).run()
    teacher.select_slider(key="strategies_per_class").set_value(10)
    teacher.number_input(key="strategies_epochs").set_value(1)
    teacher.multiselect(key="keys").set_value(["scratch"])
    teacher.button(key="run_compare").click().run()
    assert server_job().snapshot().title == "Compare: 1 strategies"
    refused = TrainConfig(data_source="embedded", weights="random", per_class=5, epochs=1)
    assert not server_job().start(refused, teacher_passcode)  # one heavy job at a time
    assert "Compare: 1 strategies is running" in server_job().busy_message()
    assert server_job().wait(TIMEOUT).state == "done"
    student.run()  # the student's tab, which pressed nothing, shows the result
    assert len(student.dataframe) == 1 and not student.exception
