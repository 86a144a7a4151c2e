"""The class in the loop: the class set's names, the wall, the Class page, and the model
taught our handwriting."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from test_app import draw_a_seven, page, texts

from tl_core.errors import ClassSetFull, NotAllowed
from tl_core.pipeline import handwriting
from tl_core.pipeline.handwriting import (
    RETENTION_DAYS,
    archive_dir,
    class_entries,
    expire_drawings,
    load_handwriting,
    not_trained_on,
    parse_name,
    remove_drawing,
    remove_half_written,
    save_drawing,
    start_new_class_set,
)
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import Run, latest_complete_run, load_model, resolve_runs_dir
from tl_core.serving.quota import SESSION_MOST, SaveQuota
from tl_core.teaching.adapt import adapt_to_class, adopt, styled_class_set
from tl_core.teaching.classwall import in_cell, summarise

NAME = re.compile(r"^\d-\d{8}-\d{12}-[0-9a-f]{6}-g\d-\d{3}\.png$")


def a_digit(value: int = 200) -> np.ndarray:
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = value
    return digit


def save_class_set(answers: list[tuple[int, int]], folder: Path | None = None) -> None:
    """Save one drawing per (meant, guess) pair, oldest first."""
    for index, (meant, guess) in enumerate(answers):
        save_drawing(a_digit(100 + index), meant, folder, guess=guess, confidence=0.5)


def test_a_saved_drawing_keeps_only_the_digit_the_answer_and_the_guess(tmp_path: Path) -> None:
    path = save_drawing(a_digit(), 7, tmp_path, guess=1, confidence=0.634)
    assert NAME.match(path.name), path.name  # nothing else: no name, no address, no session
    entry = parse_name(path.name)
    assert (entry.label, entry.guess, entry.confidence, entry.is_right) == (7, 1, 0.63, False)
    assert parse_name("7-20260101-000000-abcdef.png").guess is None  # older files still read
    assert parse_name("notes.txt") is None and parse_name("12-2026-00-x.png") is None


def test_a_full_class_set_refuses_more_and_drops_none_of_the_class_drawings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handwriting, "CLASS_SET_CAP", 3)
    save_class_set([(digit, digit) for digit in range(3)], tmp_path)
    with pytest.raises(ClassSetFull, match="the teacher can start a new class set"):
        save_drawing(a_digit(), 9, tmp_path)
    assert [entry.label for entry in class_entries(tmp_path)] == [2, 1, 0]  # all still there


def test_a_new_class_set_puts_the_old_one_aside_or_deletes_it_and_old_drawings_expire(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "handwriting"
    folder.mkdir()
    save_class_set([(1, 1), (2, 2)], folder)
    assert start_new_class_set(True, folder) == 2 and class_entries(folder) == []
    (aside,) = archive_dir(folder).iterdir()
    assert sorted(entry.label for entry in class_entries(aside)) == [1, 2]  # kept, not shown
    save_class_set([(3, 3)], folder)
    assert start_new_class_set(False, folder) == 1 and class_entries(folder) == []
    assert len(class_entries(aside)) == 2  # the set put aside earlier is untouched
    save_class_set([(4, 4)], folder)
    later = time.time() + (RETENTION_DAYS + 1) * 86400
    assert expire_drawings(folder, now=time.time()) == 0
    assert expire_drawings(folder, now=later) == 3  # the set's one and the two put aside
    assert class_entries(folder) == [] and not aside.exists()


def test_a_save_killed_halfway_leaves_nothing_once_the_server_starts_again(tmp_path: Path) -> None:
    save_class_set([(1, 1)], tmp_path)
    leftover = tmp_path / ".3-20261202-173251897176-5c1790-g7-094.png.ny35r5ou"
    leftover.write_bytes(b"\x89PNG half")  # what kill -9 during write_atomic leaves
    assert remove_half_written(tmp_path) == 1 and not leftover.exists()
    assert [entry.label for entry in class_entries(tmp_path)] == [1]  # the saved one stays


def test_a_session_saves_one_drawing_a_second_and_the_server_takes_a_class_burst() -> None:
    now = [0.0]
    quota = SaveQuota(clock=lambda: now[0])
    assert quota.take("a") is None
    assert "wait a second" in quota.take("a")
    now[0] += 1.0
    assert quota.take("a") is None
    assert all(quota.take(f"student-{n}") is None for n in range(30))  # a class at once
    refused = [quota.take(f"script-{n}") for n in range(100)]  # a script opening sessions
    assert refused.count(None) < 20 and "arriving at once" in refused[-1]
    now[0] += 10.0
    assert quota.take("b") is None  # the server refills
    patient = SaveQuota(clock=lambda: now[0])
    for _ in range(SESSION_MOST):
        now[0] += 1.0
        assert patient.take("c") is None
    now[0] += 1.0
    assert "the most one student may" in patient.take("c")


def test_only_the_teacher_removes_drawings_or_starts_a_new_set_whatever_the_page_shows(
    tmp_path: Path,
) -> None:
    from tl_core.serving.access import TeacherKey
    from tl_core.serving.jobs import ServerJob

    save_class_set([(1, 1), (2, 2)])
    job = ServerJob(tmp_path / "runs", key=TeacherKey("owl-in-the-oak", "set"))
    newest = class_entries()[0].name
    for action in (
        lambda: job.remove_drawing(newest, None, False),
        lambda: job.remove_drawing(newest, "wrong", True),
        lambda: job.new_class_set(False, "guess-it-now", False),
    ):
        with pytest.raises(NotAllowed):
            action()
    assert len(class_entries()) == 2  # nothing changed
    assert job.remove_drawing(newest, "owl-in-the-oak", False)
    assert job.new_class_set(False, "owl-in-the-oak", False) == 1 and not class_entries()


def test_a_drawing_is_removed_by_its_name_and_nothing_else(tmp_path: Path) -> None:
    save_class_set([(1, 1), (2, 2)], tmp_path)
    outside = tmp_path.parent / "1-20260101-000000-abcdef.png"
    outside.write_bytes(b"not ours")
    assert not remove_drawing(f"../{outside.name}", tmp_path)  # a path is not a name
    assert outside.exists()
    newest = class_entries(tmp_path)[0].name
    assert remove_drawing(newest, tmp_path) and not remove_drawing(newest, tmp_path)
    assert [entry.label for entry in class_entries(tmp_path)] == [1]


def test_the_wall_counts_right_readings_per_digit_and_the_confusions(tmp_path: Path) -> None:
    save_class_set([(7, 7), (7, 1), (7, 1), (1, 1), (3, 8)], tmp_path)
    save_drawing(a_digit(), 4, tmp_path)  # no guess recorded: not counted
    summary = summarise(class_entries(tmp_path))
    assert summary.sentence == "The model read 2 of our 5 drawings right."
    per_digit = summary.per_digit().set_index("digit")
    assert per_digit.loc["7", "drawings"] == 3 and per_digit.loc["7", "right"] == 1
    assert per_digit.loc["1", "accuracy"] == 1.0 and np.isnan(per_digit.loc["5", "accuracy"])
    assert summary.most_confused() == [(7, 1, 2), (3, 8, 1)]
    assert len(summary.confusions()) == 4  # (7,7), (7,1), (1,1), (3,8)
    assert [entry.label for entry in in_cell(class_entries(tmp_path), 7, 1)] == [7, 7]


def test_the_class_page_shows_the_counts_and_hides_teacher_controls_from_students(
    trained_run: Run, teacher_passcode: str
) -> None:
    save_class_set([(7, 7), (7, 1), (2, 2), (5, 5)])
    app = page("classroom")
    assert "The model read 3 of our 4 drawings right." in [h.value for h in app.subheader]
    assert len(app.get("vega_lite_chart")) == 2  # per-digit accuracy, confusions
    assert "Confused most: 7 read as 1 (1)" in texts(app)
    assert len(app.get("image")) == 4
    assert not [b for b in app.button if b.label in ("Remove", "Teach it our handwriting")]
    assert "Only the teacher removes drawings" in texts(app)
    app.text_input(key="teacher_passcode_field").input(teacher_passcode).run()
    labels = [b.label for b in app.button]
    assert labels.count("Remove") == 4 and "Teach it our handwriting" in labels
    assert "Start a new class set" in labels


def test_right_or_i_meant_saves_the_drawing_once_with_the_guess(trained_run: Run) -> None:
    app = draw_a_seven()
    assert "with no name" in texts(app) and not class_entries()  # nothing without the tap
    guess = int(app.metric[0].value)
    app.button(key="answer_right").click().run()
    assert not app.exception, app.exception
    (entry,) = class_entries()
    assert entry.label == entry.guess == guess
    assert "On the class wall" in texts(app)
    assert not [b for b in app.button if b.key == "answer_right"]  # this drawing is answered
    save_class_set([(1, 1)])  # another student's
    (take_back,) = [b for b in app.button if b.label == "Take back my drawings (1)"]
    take_back.click().run()
    assert [entry.label for entry in class_entries()] == [1]  # only this session's went


@pytest.mark.slow  # a run and an adaptation: with the slow tests, in CI
def test_teaching_it_our_handwriting_never_trains_on_the_held_out_drawings_and_adapts(
    isolated_homes: Path,
) -> None:
    # A run with random weights: it reads these styles badly (the pretrained tiny run reads
    # them all already), so adapting has something to show.
    from dataclasses import replace

    from helpers import TINY

    from tl_core.pipeline.train import train

    trained_run = train(replace(TINY, weights="random"), resolve_runs_dir(None)).run
    class_set = styled_class_set(40)  # 7s with a bar, 1s with a flag and a base
    steps = []
    adaptation = adapt_to_class(trained_run, class_set, lambda *step: steps.append(step))
    assert not set(adaptation.trained_on) & set(adaptation.held_out)
    assert set(adaptation.trained_on) | set(adaptation.held_out) == set(class_set.names)
    assert len(adaptation.held_out) >= 5 and steps[-1][0] == steps[-1][1]  # progress to the end
    print(f"held-out class accuracy {adaptation.before} -> {adaptation.after}")
    assert adaptation.after["class"] >= adaptation.before["class"] + 0.2
    assert latest_complete_run(resolve_runs_dir(None)).name == trained_run.name  # not yet in use

    path = adopt(adaptation)
    adopted = latest_complete_run(resolve_runs_dir(None))
    assert adopted.path == path and adopted.status["handwriting_trained"] == list(
        adaptation.trained_on
    )
    served = Predictor(load_model(adopted)).probabilities(class_set.x[:8])
    assert np.allclose(served, Predictor(adaptation.model).probabilities(class_set.x[:8]))
    assert load_handwriting().y.size == 0  # the class set on disk was not touched
    results = page("results")  # the adopted run is now the model in use
    assert adopted.name in texts(results)


def test_a_clicked_square_of_misread_drawings_shows_why_the_model_read_them_so(
    trained_run: Run,
) -> None:
    save_class_set([(7, 7), (7, 1), (7, 1), (2, 2)])
    app = page("classroom")
    app.session_state["cells"] = {"selection": {"cell": [{"meant": 7, "guess": 1}]}}
    app.run()
    assert not app.exception, app.exception
    assert "2 drawing(s) meant as 7, read as 1" in texts(app)
    assert "orange marks the strokes that pushed it toward its guess" in texts(app)
    assert len(app.get("image")) == 2 + 4  # the square's two, explained; the wall's four
    app.session_state["cells"] = {"selection": {"cell": [{"meant": 7, "guess": 7}]}}
    app.run()
    assert "1 drawing(s) meant as 7, read as 7" in texts(app)
    assert "orange marks" not in texts(app)  # read right: nothing to explain


def test_draw_says_the_model_only_guesses_and_how_many_drawings_wait_for_the_teacher(
    trained_run: Run,
) -> None:
    save_class_set([(1, 1), (2, 2)])
    app = page("draw")
    line = next(text for text in app.caption if "The network only guesses" in text.value)
    assert "(2 drawings waiting)" in line.value and "not whether it is right" in line.value
    assert not_trained_on([class_entries()[0].name]) == [class_entries()[1].name]
