"""Where the app is served: a laptop in the room, or a small host ("cloud mode").

Hosted classrooms (Streamlit Community Cloud, a Hugging Face Docker Space, a small school
server) give an app about 1 to 2.7 GB of memory and 2 cores. Cloud mode keeps every heavy
job inside that: no training on all of MNIST, a capped augmentation bank, and the Compare
page's smaller budgets. It is on when `DIGITLAB_CLOUD=1` (an environment variable, or a
root-level Streamlit secret, which Streamlit also exposes as one), or when the app runs
where a host puts it: a Hugging Face Space sets `SPACE_ID`, and Community Cloud checks a
repository out under `/mount/src`. `DIGITLAB_CLOUD=0` turns it off.

It also works out the address students should open (`join_address`): the one the server
really listens on, as Streamlit was told.
"""

import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import segno

from tl_core.config import TrainConfig
from tl_core.errors import ConfigError

CLOUD_ENV = "DIGITLAB_CLOUD"
COMMUNITY_CLOUD_ROOT = Path("/mount/src")
LOCAL_ONLY = ("127.0.0.1", "localhost", "::1")


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
            f"training: at most {self.max_per_class:,} digits per class (not all of MNIST)",
            f"augmentation bank: at most {self.max_bank_images:,} images (digits x views)",
            f"Compare: at most {self.max_compare_per_class} digits per class",
        ]


CLOUD_LIMITS = dict(max_per_class=500, max_bank_images=10_000, max_compare_per_class=100)


def hosting_limits(environ: dict[str, str] | None = None, app_root: Path | None = None) -> Limits:
    """The limits for this server (see the module docstring for when cloud mode is on)."""
    environ = dict(os.environ) if environ is None else environ
    app_root = app_root or Path(__file__).resolve().parents[2]
    setting = environ.get(CLOUD_ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return Limits()
    if setting in ("1", "true", "yes", "on"):
        reason = f"{CLOUD_ENV}={environ[CLOUD_ENV]}"
    elif environ.get("SPACE_ID"):
        reason = f"a Hugging Face Space ({environ['SPACE_ID']})"
    elif app_root.is_relative_to(COMMUNITY_CLOUD_ROOT):
        reason = "Streamlit Community Cloud (the app is under /mount/src)"
    else:
        return Limits()
    return Limits(reason, **CLOUD_LIMITS)


def check_limits(config: TrainConfig, limits: Limits) -> None:
    """Raise ConfigError, in one sentence, when a training asks for more than the host has."""
    if not limits.cloud:
        return
    if config.per_class is None or config.per_class > limits.max_per_class:
        asked = "all the digits" if config.per_class is None else f"{config.per_class:,}"
        raise ConfigError(
            f"This hosted classroom trains on at most {limits.max_per_class:,} digits per "
            f"class (you asked for {asked}): its small server has about 2 GB of memory."
        )
    if config.per_class * 10 * config.views > limits.max_bank_images:
        raise ConfigError(
            f"{config.per_class:,} digits per class with {config.views} views is "
            f"{config.per_class * 10 * config.views:,} images: this hosted classroom takes at "
            f"most {limits.max_bank_images:,}. Use fewer digits or views."
        )


def join_address(address: str | None, port: int, browser_url: str | None = None) -> str | None:
    """The address students should open, or None when they can't reach this server.

    `address` and `port` are Streamlit's `server.address` and `server.port`. A server bound to
    this computer only (127.0.0.1) can't be joined; one bound to every interface (empty or
    0.0.0.0) is reached at this computer's network address. When the teacher's own browser
    already uses an address other than this computer's (a hosted app), that one is it.
    """
    if browser_url and not any(f"//{host}" in browser_url for host in ("localhost", "127.")):
        return browser_url.rstrip("/")
    if address in LOCAL_ONLY:
        return None
    host = address if address and address not in ("0.0.0.0", "::") else _network_address()
    return f"http://{host}:{port}" if host else None


def qr_png(url: str, scale: int = 8) -> bytes:
    """A QR code of `url` as PNG bytes, large enough to scan from the back of a room."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def _network_address() -> str | None:
    """This computer's address on the local network: the source address it would use to
    reach another network (a UDP "connect" sends nothing), or None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            host = probe.getsockname()[0]
        except OSError:
            return None
    return None if host.startswith("127.") else host
