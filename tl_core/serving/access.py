"""Who may start and stop training: anyone, or only the teacher when a passcode is set.

In a classroom thirty students open the teacher's app; without a passcode any of them could
stop the run everyone is watching. The passcode comes from the environment variable
DIGITLAB_TEACHER_PASSCODE or, in the app, from `teacher_passcode` in
`.streamlit/secrets.toml`. Without one, anyone may, as on a laptop used by one person.
"""

import hmac
import os
from collections.abc import Mapping
from typing import Any

PASSCODE_ENV = "DIGITLAB_TEACHER_PASSCODE"
SECRETS_KEY = "teacher_passcode"


def teacher_passcode(secrets: Mapping[str, Any] | None = None) -> str | None:
    """The passcode from the environment, else from the app's secrets; None if unset."""
    passcode = os.environ.get(PASSCODE_ENV) or (secrets or {}).get(SECRETS_KEY)
    return str(passcode) if passcode else None


def may_control_training(entered: str | None, passcode: str | None) -> bool:
    """True without a passcode; else only for the right one (compared in constant time)."""
    if not passcode:
        return True
    return entered is not None and hmac.compare_digest(entered.encode(), passcode.encode())
