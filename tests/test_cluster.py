"""A class per container: `deploy/kubernetes/class.yaml`, rendered for two classes and played
with `podman kube play` (the volume claim and the Deployment: podman has no Service, Ingress
or NetworkPolicy, so each pod's port is published on 127.0.0.1 for the test, and the Service
and Ingress are checked as text; tests/test_manifests.py checks all of them as a cluster and
a scanner would). Each class's passcode is a Secret made apart, as docs/deploy.md's `kubectl
create secret` makes it: without it the class does not start; with it, both classes answer a
drawing, a drawing saved in one never appears in the other, and each gets its own passcode.
The pod runs as the manifest says: uid 1000, a read-only root file system, /data and /tmp
writable.
"""

import asyncio
import base64
import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from string import Template

import pytest
from containers import draw, draw_and_say_right, podman

from tl_core.tools.classload import free_port

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "deploy" / "kubernetes" / "class.yaml"
PLAYED = ("PersistentVolumeClaim", "Deployment")  # what podman kube play runs
READY_WITHIN_S = 180
PASSCODE_ENV = "DIGITLAB_TEACHER_PASSCODE"

pytestmark = pytest.mark.slow


def render(school: str, image: str) -> str:
    """The manifest for one class, as `envsubst` renders it (docs/deploy.md's command)."""
    return Template(MANIFEST.read_text()).substitute(
        CLASS=school, DOMAIN="digitlab.test", IMAGE=image
    )


def documents(manifest: str) -> dict[str, str]:
    """The manifest's documents by kind."""
    parts = [part for part in manifest.split("\n---\n") if "kind:" in part]
    return {re.search(r"^kind: (\w+)", part, re.M).group(1): part for part in parts}


def test_the_manifest_routes_a_student_to_one_pod_and_probes_the_health_endpoint() -> None:
    kinds = documents(render("7a", "digit-lab:1"))
    assert set(kinds) == {*PLAYED, "Service", "Ingress", "NetworkPolicy"}
    ingress, service, deployment = kinds["Ingress"], kinds["Service"], kinds["Deployment"]
    assert "nginx.ingress.kubernetes.io/affinity: cookie" in ingress
    assert "host: 7a.digitlab.test" in ingress and "name: digit-lab-7a" in ingress
    assert "sessionAffinity: ClientIP" in service
    assert 'selector: {app: digit-lab, class: "7a"}' in service
    assert "replicas: 1" in deployment and "claimName: digit-lab-7a-data" in deployment
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert re.search(rf"{probe}:.*?\n\s+httpGet: {{path: /_stcore/health", deployment, re.S)
    assert "secretKeyRef: {name: digit-lab-7a-passcode, key: passcode, optional: false}" in (
        deployment
    )


def make_secret(engine: dict[str, str], school: str, passcode: str) -> None:
    """The class's passcode Secret, made apart from the manifest as `kubectl create secret
    generic digit-lab-<class>-passcode --from-literal=passcode=...` makes it on a cluster.

    Podman 4.3 (Debian 12) reads a secretKeyRef as a JSON map of base64 values (a Secret's
    `data`), so the test makes the Secret that way.
    """
    name = f"digit-lab-{school}-passcode"
    secret = {"passcode": base64.b64encode(passcode.encode()).decode()}
    subprocess.run(["podman", "secret", "rm", name], env=engine, capture_output=True)
    podman(engine, "secret", "create", name, "-", stdin=json.dumps(secret))


def played_documents(manifest: str, folder: Path, name: str, port: int) -> Path:
    """The documents podman runs, the pod's port on 127.0.0.1:port, in a file to play."""
    kinds = documents(manifest)
    played = "\n---\n".join(kinds[kind] for kind in PLAYED).replace(
        "{name: http, containerPort: 8501}",
        f"{{name: http, containerPort: 8501, hostIP: 127.0.0.1, hostPort: {port}}}",
    )
    path = folder / f"{name}.yaml"
    path.write_text(played)
    return path


def play(engine: dict[str, str], manifest: str, folder: Path, name: str, port: int) -> Path:
    """`podman kube play` of the documents podman runs, the pod's port on 127.0.0.1:port."""
    path = played_documents(manifest, folder, name, port)
    podman(engine, "kube", "play", "--replace", str(path), timeout=300)
    return path


def ready(url: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=5).read() == b"ok":
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never became healthy"
            time.sleep(3)


def container(engine: dict[str, str], school: str) -> str:
    names = podman(engine, "ps", "--format", "{{.Names}}").split()
    return next(name for name in names if name.startswith(f"digit-lab-{school}-pod"))


def test_two_classes_side_by_side_each_answer_and_never_see_the_others_drawings(
    engine: dict[str, str], image: str, tmp_path: Path
) -> None:
    # 8 characters or more, as the app asks of a passcode.
    schools = {"7a": ("owl-7a-passcode", free_port()), "7b": ("fox-7b-passcode", free_port())}
    played = []
    try:
        for school, (passcode, port) in schools.items():
            make_secret(engine, school, passcode)
            played.append(play(engine, render(school, image), tmp_path, school, port))
        for school, (passcode, port) in schools.items():
            ready(f"http://127.0.0.1:{port}")
            name = container(engine, school)
            assert podman(engine, "exec", name, "printenv", PASSCODE_ENV) == passcode
            assert podman(engine, "exec", name, "id", "-u") == "1000"
            writable = "for d in / /app /data /tmp; do touch $d/.w 2>/dev/null && echo $d; done"
            assert podman(engine, "exec", name, "sh", "-c", writable).split() == ["/data", "/tmp"]
            tiny = ["--source", "embedded", "--per-class", "10", "--test-per-class", "5"]
            podman(engine, "exec", name, "python", "-m", "tl_core", "train", *tiny, "--epochs", "1")
        asyncio.run(draw_and_say_right(f"http://127.0.0.1:{schools['7a'][1]}"))

        def saved(school: str) -> list[str]:
            listing = ["sh", "-c", "ls /data/handwriting 2>/dev/null || true"]
            return podman(engine, "exec", container(engine, school), *listing).split()

        assert len(saved("7a")) == 1 and saved("7b") == []
        assert 0 < asyncio.run(draw(f"http://127.0.0.1:{schools['7b'][1]}")) < 60
        assert saved("7b") == []  # 7b answered a drawing of its own, nothing crossed
    finally:
        for path in played:
            subprocess.run(["podman", "kube", "down", str(path)], env=engine, capture_output=True)
        for school in schools:
            subprocess.run(["podman", "volume", "rm", "-f", f"digit-lab-{school}-data"],
                           env=engine, capture_output=True)  # fmt: skip
            subprocess.run(["podman", "secret", "rm", f"digit-lab-{school}-passcode"],
                           env=engine, capture_output=True)  # fmt: skip


def test_a_class_whose_passcode_secret_was_never_made_does_not_start(
    engine: dict[str, str], image: str, tmp_path: Path
) -> None:
    subprocess.run(["podman", "secret", "rm", "digit-lab-7c-passcode"], env=engine,
                   capture_output=True)  # fmt: skip
    path = played_documents(render("7c", image), tmp_path, "7c", free_port())
    try:
        done = subprocess.run(["podman", "kube", "play", "--replace", str(path)], env=engine,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode != 0
        assert "digit-lab-7c-passcode" in done.stderr  # the error names the missing Secret
        assert not [name for name in podman(engine, "ps", "--format", "{{.Names}}").split()
                    if name.startswith("digit-lab-7c-pod")]  # fmt: skip
    finally:
        subprocess.run(["podman", "kube", "down", str(path)], env=engine, capture_output=True)
        subprocess.run(["podman", "volume", "rm", "-f", "digit-lab-7c-data"], env=engine,
                       capture_output=True)  # fmt: skip
