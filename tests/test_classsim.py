"""The class simulator at the protocol level, against the real `streamlit run app.py`."""

from pathlib import Path

import pytest

from tl_core.pipeline.runs import STOPPED, Run, list_runs
from tl_core.tools.classsim import run_protocol_load, summary_line

pytestmark = pytest.mark.slow


def test_a_class_opening_the_draw_link_at_once_on_a_fresh_server_all_draw_and_are_answered(
    trained_run: Run, isolated_homes: Path
) -> None:
    """Eight sessions ask for /draw at the same moment as the server's first requests (each
    of their first runs starts in Streamlit's old pages-folder mode), then draw twice."""
    result = run_protocol_load(students=8, rounds=2, home=isolated_homes / "digitlab")
    assert result["drawings"] == result["answered"] == 16, result["error_kinds"]
    assert 0 < result["answer_p50_s"] <= result["answer_max_s"] < 60
    assert result["server_cpu_s_per_drawing"] > 0 and result["server_peak_rss_mb"] > 100
    assert summary_line(result).startswith("students=8 answered=16/16 p50_s=")


def test_a_teacher_session_trains_while_the_students_draw_and_stops_the_run(
    trained_run: Run, isolated_homes: Path
) -> None:
    home = isolated_homes / "digitlab"
    result = run_protocol_load(students=2, rounds=2, while_training=True, home=home)
    assert result["answered"] == 4, result["error_kinds"]
    assert result["training_state"] == "running throughout"
    assert result["runs_removed"] == [STOPPED]  # the teacher's run, stopped, is gone
    assert [run.name for run in list_runs(home / "runs")] == [trained_run.name]
