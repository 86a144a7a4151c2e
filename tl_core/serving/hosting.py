"""Where the app is served: a laptop in the room, or a small host ("cloud mode").

Hosted classrooms (Streamlit Community Cloud, a Hugging Face Docker Space, a small school
server) give an app about 1 to 2.7 GB of memory and 2 cores. Cloud mode keeps the heavy
jobs inside that: the server job refuses a training on all of MNIST or with a larger
augmentation bank (`check_limits`), and the Compare page offers only its smaller budgets.
"Teach it our handwriting" needs no limit: at most 2,000 drawings and 1,000 MNIST digits.
It is on when `DIGITLAB_CLOUD=1` (an environment variable, or a
root-level Streamlit secret, which Streamlit also exposes as one), or when the app runs
where a host puts it: a Hugging Face Space sets `SPACE_ID`, Community Cloud checks a
repository out under `/mount/src`, and a container's memory limit (its cgroup's) of at most
SMALL_SERVER_BYTES says so without any flag to forget. `DIGITLAB_CLOUD=0` turns it off.

It also works out the address students should open (`join_address`): the one the server
really listens on, as Streamlit was told, or `DIGITLAB_JOIN_URL` where only the teacher
knows it (a container).
"""

import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import segno

from tl_core.config import TrainConfig
from tl_core.errors import ConfigError
from tl_core.i18n import N_, Text, _, number
from tl_core.pipeline.people import TRAIN_WRITERS, people_digits

CLOUD_ENV = "DIGITLAB_CLOUD"
COMMUNITY_CLOUD_ROOT = Path("/mount/src")
LOCAL_ONLY = ("127.0.0.1", "localhost", "::1")
ANY_ADDRESS = ("", "0.0.0.0", "::")  # bound to every interface
JOIN_URL_ENV = "DIGITLAB_JOIN_URL"  # the address students open, when only the teacher knows it
CONTAINER_MARK = Path("/.dockerenv")  # Docker puts it in every container
SMALL_SERVER_BYTES = 4 * 2**30  # a memory limit this small holds no training on all of MNIST
CGROUP_LIMITS = (  # where a process reads its memory limit: cgroup v2, then v1
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


@dataclass(frozen=True)
class Limits:
    """What one heavy job may ask for on this server; None where there is no limit."""

    cloud_reason: str | None = None  # why cloud mode is on; None: a laptop, no limits
    max_per_class: int | None = None  # training digits per class (None: all of MNIST allowed)
    max_bank_images: int | None = None  # training digits x augmented views
    max_compare_per_class: int | None = None  # the Compare page's budgets

    @property
    def cloud(self) -> bool:
        return self.cloud_reason is not None

    def lines(self) -> list[str]:
        """The limits in words, for the Home page."""
        return [
            _(
                "training: at most {count} digits per class (not all of MNIST)",
                count=number(self.max_per_class),
            ),
            _(
                "augmentation bank: at most {count} images (digits x views)",
                count=number(self.max_bank_images),
            ),
            _(
                "Compare: at most {count} digits per class",
                count=number(self.max_compare_per_class),
            ),
        ]


# A training bank over the limit, by whether it adds class drawings and people's digits.
TOO_MANY_IMAGES = {
    (False, False): N_(
        "{digits} digits per class with {views} views is {images} images: this hosted "
        "classroom takes at most {most}. Use fewer digits or views."
    ),
    (True, False): N_(
        "{digits} digits per class and {drawings} class drawings with {views} views is "
        "{images} images: this hosted classroom takes at most {most}. Use fewer digits or views."
    ),
    (False, True): N_(
        "{digits} digits per class and {people} people's digits with {views} views is {images} "
        "images: this hosted classroom takes at most {most}. Use fewer digits or views, or "
        "leave out the people's digits."
    ),
    (True, True): N_(
        "{digits} digits per class and {drawings} class drawings and {people} people's digits "
        "with {views} views is {images} images: this hosted classroom takes at most {most}. "
        "Use fewer digits or views, or leave out the people's digits."
    ),
}
CLOUD_LIMITS = dict(max_per_class=500, max_bank_images=10_000, max_compare_per_class=100)


def hosting_limits(
    environ: dict[str, str] | None = None,
    app_root: Path | None = None,
    cgroup_limits: tuple[Path, ...] = CGROUP_LIMITS,
) -> Limits:
    """The limits for this server (see the module docstring for when cloud mode is on)."""
    environ = dict(os.environ) if environ is None else environ
    app_root = app_root or Path(__file__).resolve().parents[2]
    memory = memory_limit(cgroup_limits)
    setting = environ.get(CLOUD_ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return Limits()
    if setting in ("1", "true", "yes", "on"):
        reason = f"{CLOUD_ENV}={environ[CLOUD_ENV]}"
    elif environ.get("SPACE_ID"):
        reason = Text("a Hugging Face Space ({space})", space=environ["SPACE_ID"])
    elif app_root.is_relative_to(COMMUNITY_CLOUD_ROOT):
        reason = Text("Streamlit Community Cloud (the app is under /mount/src)")
    elif memory is not None and memory <= SMALL_SERVER_BYTES:
        reason = Text(
            "a container limited to {gigabytes} GB of memory",
            gigabytes=number(memory / 2**30, 1),
        )
    else:
        return Limits()
    return Limits(reason, **CLOUD_LIMITS)


def memory_limit(places: tuple[Path, ...] = CGROUP_LIMITS) -> int | None:
    """This process's memory limit in bytes from its cgroup, or None where there is none
    ("max", a number beyond any machine's memory, or no cgroup file to read)."""
    for place in places:
        try:
            value = place.read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:
            return int(value)
        return None
    return None


def check_limits(config: TrainConfig, limits: Limits, class_drawings: int = 0) -> None:
    """Raise ConfigError, in one sentence, when a training asks for more than the host has
    (`class_drawings`: the class set's drawings it adds, when it adds them; the people's
    training writers count too, when the run adds them)."""
    if not limits.cloud:
        return
    if config.per_class is None or config.per_class > limits.max_per_class:
        if config.per_class is None:
            raise ConfigError(
                Text(
                    "This hosted classroom trains on at most {count} digits per class (you asked "
                    "for all the digits): its small server has about 2 GB of memory.",
                    count=number(limits.max_per_class),
                )
            )
        raise ConfigError(
            Text(
                "This hosted classroom trains on at most {count} digits per class (you asked "
                "for {asked}): its small server has about 2 GB of memory.",
                count=number(limits.max_per_class),
                asked=number(config.per_class),
            )
        )
    people = len(people_digits().of_writers(TRAIN_WRITERS)) if config.include_people else 0
    images = (config.per_class * 10 + class_drawings + people) * config.views
    if images > limits.max_bank_images:
        shown = {
            "digits": number(config.per_class),
            "drawings": number(class_drawings),
            "people": number(people),
            "views": number(config.views),
            "images": number(images),
            "most": number(limits.max_bank_images),
        }
        raise ConfigError(Text(TOO_MANY_IMAGES[bool(class_drawings), bool(people)], **shown))


def join_address(
    address: str | None,
    port: int,
    browser_url: str | None = None,
    environ: dict[str, str] | None = None,
) -> str | None:
    """The address students should open, or None when it can't be known from here.

    `address` and `port` are Streamlit's `server.address` and `server.port`. The order:
    `DIGITLAB_JOIN_URL` when set (a container, or a server behind another name); the
    teacher's own browser address when it is not this computer's (a hosted app); none for a
    server bound to this computer only (127.0.0.1), or bound to every interface inside a
    container, whose own network address students can't reach; else the address it is
    bound to, or for every interface this computer's network address.
    """
    environ = dict(os.environ) if environ is None else environ
    if environ.get(JOIN_URL_ENV):
        return environ[JOIN_URL_ENV].rstrip("/")
    if browser_url and not _is_local(urlsplit(browser_url).hostname):
        return browser_url.rstrip("/")
    if not students_can_reach(address):
        return None
    if address and address not in ANY_ADDRESS:
        return f"http://{address}:{port}"
    if CONTAINER_MARK.exists():
        return None
    host = network_address()
    return f"http://{host}:{port}" if host else None


def students_can_reach(address: str | None) -> bool:
    """Whether a server bound to `address` (Streamlit's `server.address`; unset: every
    interface) answers other computers."""
    return (address or "") not in LOCAL_ONLY


def _is_local(host: str | None) -> bool:
    """Whether a browser's host name means "this computer" (so students can't use it)."""
    return host is None or host in (*LOCAL_ONLY, *ANY_ADDRESS) or host.startswith("127.")


def qr_png(url: str, scale: int = 8) -> bytes:
    """A QR code of `url` as PNG bytes, large enough to scan from the back of a room."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def network_address() -> str | None:
    """This computer's address on the local network: the source address it would use to
    reach another network (a UDP "connect" sends nothing), or None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            host = probe.getsockname()[0]
        except OSError:
            return None
    return None if host.startswith("127.") else host
