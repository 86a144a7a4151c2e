"""Where Digit Lab and Keras keep files, read from the environment at call time.

Tests point `DIGITLAB_HOME` and `KERAS_HOME` at temporary folders, so nothing here may be
read once at import.
"""

import os
from pathlib import Path

HOME_ENV = "DIGITLAB_HOME"


def digitlab_home() -> Path:
    """The folder for runs and caches: `$DIGITLAB_HOME`, else `~/.digitlab`."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".digitlab").expanduser()


def default_runs_dir(home: Path | None = None) -> Path:
    """The runs folder shared by the CLI and the app: in `home`, else in `digitlab_home()`
    (a load test serves a home of its own)."""
    return (home or digitlab_home()) / "runs"


def feature_cache_dir() -> Path:
    """The folder where bottleneck features are cached."""
    return digitlab_home() / "cache" / "features"


def keras_cache_dir() -> Path:
    """The Keras cache (`$KERAS_HOME`, else `~/.keras`), where downloads are kept."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
