"""Podman for the container and cluster tests: the engine's settings and the image, built
once per test session on a Debian base made with mmdebstrap (no image registry is reachable),
the pip packages from a wheelhouse downloaded on the host first.

`.ci/run` installs podman, runc and mmdebstrap as it installs Chromium; a machine without
them fails here with the command that installs them.
"""

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tl_core.tools.classsim import Session, drawing_of_a_seven

ROOT = Path(__file__).resolve().parents[1]
# Debian's default runtime (crun) refuses this machine's hybrid cgroups; podman's default
# ulimits can't be set inside this sandbox.
ENGINE = '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
PYTHON_BASE = "python3,python3-venv,ca-certificates"
# `python` and `pip` in the base are a virtual environment's, as the Dockerfile expects.
VENV_HOOK = (
    'chroot "$1" python3 -m venv /opt/venv && for tool in python pip; do '
    'printf "#!/bin/sh\\nexec /opt/venv/bin/$tool \\"\\$@\\"\\n" > "$1/usr/local/bin/$tool"; '
    'chmod +x "$1/usr/local/bin/$tool"; done'
)
HEALTHY_WITHIN_S = 180


def podman(env: dict[str, str], *args: str, timeout: int = 600, stdin: str | None = None) -> str:
    """Run a podman command; its output, or a failure that shows podman's own words."""
    done = subprocess.run(
        ["podman", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"podman {' '.join(args[:3])}: {done.stderr[-2000:]}"
    return done.stdout.strip()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment podman runs in: runc and no default ulimits."""
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]
    assert not missing, f"missing {missing}: apt-get install -y podman runc mmdebstrap"
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(ENGINE)
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()), "CONTAINERS_CONF": str(conf)}  # fmt: skip


@pytest.fixture(scope="session")
def image(engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Dockerfile built on a Debian 12 base made with mmdebstrap."""
    work = tmp_path_factory.mktemp("image")
    run = uuid.uuid4().hex[:8]
    base, tag = f"localhost/digit-lab-base:{run}", f"localhost/digit-lab:{run}"
    subprocess.run(
        ["mmdebstrap", "--variant=minbase", f"--include={PYTHON_BASE}",
         f"--customize-hook={VENV_HOOK}", "bookworm", str(work / "base.tar")],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    podman(engine, "import", str(work / "base.tar"), base)
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-r", str(ROOT / "requirements.txt"),
         "-d", str(wheels)],
        check=True, timeout=900,
    )  # fmt: skip
    try:
        podman(engine, "build", "--format", "docker", "--volume", f"{wheels}:/wheels:ro",
               "--build-arg", f"BASE={base}",
               "--build-arg", "PIP_OPTIONS=--no-index --find-links /wheels",
               "-t", tag, str(ROOT), timeout=1800)  # fmt: skip
        yield tag
    finally:
        subprocess.run(["podman", "rmi", "-f", tag, base], env=engine, capture_output=True)


def start(engine: dict[str, str], image: str, volume: str) -> tuple[str, str]:
    """A container of the image with `volume` at /data; (name, URL) once it is healthy."""
    name = f"digit-lab-{uuid.uuid4().hex[:8]}"
    podman(engine, "run", "-d", "--name", name, "-p", "127.0.0.1::8501",
           "-v", f"{volume}:/data", image)  # fmt: skip
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    while subprocess.run(
        ["podman", "healthcheck", "run", name], env=engine, capture_output=True
    ).returncode:  # the image's own HEALTHCHECK, run by hand: no systemd timers here
        assert time.monotonic() < deadline, podman(engine, "logs", name)[-2000:]
        time.sleep(3)
    port = podman(engine, "port", name, "8501").rsplit(":", 1)[1]
    return name, f"http://127.0.0.1:{port}"


async def draw_and_say_right(url: str) -> int:
    """A student on Draw: a 7, its guess, then "Right" (saved to the class set)."""
    student = await Session.open(url, "draw")
    await student.draw(drawing_of_a_seven(0, 0))
    right = next(name for name in student.elements if name.startswith("Right, it is a "))
    button = student.elements[right]
    await student.run([WidgetState(id=button.id, trigger_value=True)], button.fragment_id)
    await student.close()
    return int(right.rsplit(" ", 1)[1])


async def draw(url: str) -> float:
    student = await Session.open(url, "draw")
    seconds = await student.draw(drawing_of_a_seven(1, 0))
    await student.close()
    return seconds
