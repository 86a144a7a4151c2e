"""Files fetched once into the Keras cache: the ImageNet weights and the full MNIST.

Keras's own `get_file` does the download and hash check; this module adds a quick test for
"is the network there at all" and turns failures into a sentence with what to do.
"""

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from tl_core.files import file_digest
from tl_core.i18n import Text
from tl_core.paths import keras_cache_dir

CONNECT_TIMEOUT_S = 3.0
OFFLINE_ENV = "DIGITLAB_OFFLINE"  # "1": never leave this machine (classroom, tests)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Download:
    """A file Keras can download: where from, what to call it in the cache, its hash."""

    url: str
    fname: str
    file_hash: str
    cache_subdir: str

    def cache_path(self) -> Path:
        """Where the file lies once fetched."""
        return keras_cache_dir() / self.cache_subdir / self.fname


class DownloadFailed(Exception):
    """The download could not be done; the message says why in a few words."""


def cached_file(download: Download) -> Path | None:
    """The cached file if it exists and its hash is right, else None (a bad file is removed)."""
    path = download.cache_path()
    if not path.is_file():
        return None
    algorithm = "sha256" if len(download.file_hash) == 64 else "md5"  # as Keras decides
    if file_digest(path, algorithm) == download.file_hash:
        return path
    path.unlink(missing_ok=True)
    return None


def fetch(download: Download) -> Path:
    """Return the cached file, downloading it first if needed; raise DownloadFailed.

    A machine without internet fails within CONNECT_TIMEOUT_S instead of hanging.
    """
    path = cached_file(download)
    if path is not None:
        return path
    _check_reachable(download.url)
    keras_cache_dir().mkdir(parents=True, exist_ok=True)  # else Keras falls back to /tmp
    import keras  # here, not above: what only looks for files loads without TensorFlow

    try:
        fetched = keras.utils.get_file(
            fname=download.fname,
            origin=download.url,
            file_hash=download.file_hash,
            cache_subdir=download.cache_subdir,
            cache_dir=str(keras_cache_dir()),
        )
    except ValueError as error:  # Keras's hash check
        download.cache_path().unlink(missing_ok=True)
        raise DownloadFailed(
            Text("the file from {url} is corrupt or incomplete", url=download.url)
        ) from error
    except Exception as error:
        raise DownloadFailed(
            Text("downloading {url} failed ({error})", url=download.url, error=str(error))
        ) from error
    return Path(fetched)


def _check_reachable(url: str) -> None:
    """Raise DownloadFailed at once when the server can't be reached (offline machine)."""
    parts = urlparse(url)
    if os.environ.get(OFFLINE_ENV) == "1" and parts.hostname not in LOOPBACK:
        raise DownloadFailed(
            Text(
                "{host} cannot be reached ({setting} is set)",
                host=parts.hostname,
                setting=OFFLINE_ENV + "=1",
            )
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise DownloadFailed(
            Text("{host} cannot be reached (offline?)", host=parts.hostname)
        ) from error
