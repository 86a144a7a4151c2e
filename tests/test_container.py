"""The container, built and run (tests/containers.py builds it with podman): it waits for
the image's own health check, trains a tiny run inside, has a drawing answered through the
app's own websocket (tl_core.tools.classsim) and saved to the class set with "Right", then
stops the container, starts a new one on the same volume and finds the run (it answers
again) and the class set still there.
"""

import asyncio
import subprocess
import uuid

import pytest
from containers import draw, draw_and_say_right, podman, start

pytestmark = pytest.mark.slow


def test_the_container_trains_answers_and_keeps_its_run_and_class_set_across_a_restart(
    engine: dict[str, str], image: str
) -> None:
    volume = f"digit-lab-data-{uuid.uuid4().hex[:8]}"
    names = []
    try:
        name, url = start(engine, image, volume)
        names.append(name)
        podman(engine, "exec", name, "python", "-m", "tl_core", "train", "--source", "embedded",
               "--per-class", "10", "--test-per-class", "5", "--epochs", "1")  # fmt: skip
        guess = asyncio.run(draw_and_say_right(url))
        saved = podman(engine, "exec", name, "ls", "/data/handwriting").split()
        assert len(saved) == 1 and saved[0].startswith(f"{guess}-"), saved

        podman(engine, "stop", "-t", "10", name)  # the class ends; the next one starts afresh
        name, url = start(engine, image, volume)
        names.append(name)
        assert podman(engine, "exec", name, "ls", "/data/handwriting").split() == saved
        assert 0 < asyncio.run(draw(url)) < 60  # the run trained before the restart answers
    finally:
        for name in names:
            subprocess.run(["podman", "rm", "-f", name], env=engine, capture_output=True)
        subprocess.run(["podman", "volume", "rm", "-f", volume], env=engine, capture_output=True)
