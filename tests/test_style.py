"""The code base stays ruff clean (STYLE.md): a lint error fails the test run."""

import subprocess
import sys
from pathlib import Path


def test_ruff_finds_nothing() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(root)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
