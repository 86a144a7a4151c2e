"""A lesson as one file (tl_core/serving/lessonfile.py): saved, carried to a fresh home and
opened there, or refused with one sentence when it is damaged, oversized or foreign."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_classwall import save_class_set

from tl_core.cli import main
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.handwriting import class_entries, load_handwriting
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import Run, latest_complete_run, list_runs, load_model
from tl_core.serving import lessonfile
from tl_core.serving.lessonfile import LessonError, open_lesson, read_lesson, save_lesson


def saved(run: Run, folder: Path | None = None) -> bytes:
    buffer = io.BytesIO()
    save_lesson(buffer, run, folder)
    return buffer.getvalue()


def rewritten(lesson: bytes, change) -> bytes:
    """The lesson's members through `change(members, manifest)`, zipped again."""
    with zipfile.ZipFile(io.BytesIO(lesson)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members.pop("manifest.json"))
    change(members, manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", json.dumps(manifest))
    return buffer.getvalue()


def test_a_lesson_opened_on_a_fresh_home_reads_every_drawing_as_the_first_did(
    trained_run: Run, tmp_path: Path
) -> None:
    save_class_set([(7, 7), (1, 7), (3, 3)])
    lesson = saved(trained_run)
    runs, folder = tmp_path / "other" / "runs", tmp_path / "other" / "handwriting"
    summary = open_lesson(lesson, runs, folder)
    assert (summary.drawings, summary.skipped_drawings) == (3, 0)
    restored = latest_complete_run(runs)
    assert restored.name == summary.run_name and restored.is_complete  # the model in use
    assert restored.status["model_sha256"] == trained_run.status["model_sha256"]
    assert [e.name for e in class_entries(folder)] == [e.name for e in class_entries()]
    drawings = np.concatenate([load_handwriting(folder).x, load_embedded().x_test[:5]])
    here = Predictor(load_model(trained_run)).probabilities(drawings)
    there = Predictor(load_model(restored, runs)).probabilities(drawings)
    np.testing.assert_array_equal(here, there)  # the same drawing, the same probabilities
    again = open_lesson(lesson, runs, folder)
    assert (again.drawings, again.skipped_drawings) == (0, 3)  # nothing twice


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (lambda m, f: m.update({"../../evil.py": b"import os"}), "not a Digit Lab lesson"),
        (lambda m, f: f.update(format="something else"), "not a Digit Lab lesson"),
        (lambda m, f: f.update(version=2), "saved in format 2"),
        (lambda m, f: m.update({"run/model.keras": b"x" + m["run/model.keras"][1:]}), "damaged"),
        (lambda m, f: m.pop("run/metrics.json"), "not a Digit Lab lesson"),
    ],
    ids=["a path outside", "foreign", "newer format", "a changed model", "a part missing"],
)
def test_a_damaged_or_foreign_lesson_is_refused_with_one_sentence_and_changes_nothing(
    trained_run: Run, tmp_path: Path, change, sentence: str
) -> None:
    lesson = rewritten(saved(trained_run), change)
    runs, folder = tmp_path / "runs", tmp_path / "handwriting"
    with pytest.raises(LessonError, match=sentence):
        open_lesson(lesson, runs, folder)
    assert not list_runs(runs) and not class_entries(folder)


def test_an_oversized_file_or_one_that_is_no_zip_is_refused_before_it_is_read(
    trained_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LessonError, match="not a Digit Lab lesson"):
        read_lesson(b"PK\x03\x04 not really a zip")
    monkeypatch.setattr(lessonfile, "MAX_LESSON_BYTES", 1000)
    with pytest.raises(LessonError, match="larger than a lesson can be"):
        read_lesson(saved(trained_run))


def test_a_drawing_that_is_not_a_28x28_png_is_refused(trained_run: Run, tmp_path: Path) -> None:
    def swap(members: dict, manifest: dict) -> None:
        name = next(name for name in members if name.startswith("drawings/"))
        members[name] = b"\x89PNG not a drawing"
        manifest["files"][name] = {
            "bytes": len(members[name]),
            "sha256": lessonfile._sha256(members[name]),
        }

    save_class_set([(2, 2)])
    with pytest.raises(LessonError, match="not a Digit Lab lesson"):
        open_lesson(rewritten(saved(trained_run), swap), tmp_path / "runs", tmp_path / "hw")


def test_the_command_line_saves_and_opens_a_lesson(trained_run: Run, tmp_path: Path) -> None:
    save_class_set([(4, 4)])
    file = tmp_path / "class-7b.digitlab"
    assert main(["lesson", "save", str(file)]) == 0 and file.stat().st_size > 1000
    other = tmp_path / "elsewhere" / "runs"
    assert main(["lesson", "open", str(file), "--runs-dir", str(other)]) == 0
    assert latest_complete_run(other).status["model_sha256"] == (trained_run.status["model_sha256"])
    assert main(["lesson", "open", str(tmp_path / "missing.digitlab")]) == 2


def test_the_teacher_opens_a_lesson_from_the_class_page_a_student_sees_no_such_control(
    trained_run: Run, teacher_passcode: str, tmp_path: Path
) -> None:
    from test_app import page, texts

    from tl_core.serving.lessonfile import lessons_dir

    save_class_set([(5, 5)])
    lesson = saved(trained_run)
    lessons_dir().mkdir(parents=True)
    (lessons_dir() / "class-7b.digitlab").write_bytes(lesson)
    app = page("classroom")
    assert not [b for b in app.button if b.key == "open_lesson"]  # a student
    app.text_input(key="teacher_passcode_field").input(teacher_passcode).run()
    app.button(key="open_lesson").click().run()
    assert not app.exception, app.exception
    assert "is now the model in use; 0 drawings joined" in texts(app)  # already here
    assert latest_complete_run(trained_run.path.parent).name != trained_run.name
    assert len(app.get("download_button")) == 1  # "Save this lesson"
