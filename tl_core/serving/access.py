"""Who may start and stop heavy work, adopt a model and change the class set: the teacher.

In a classroom thirty students open the teacher's app; any of them could otherwise stop the
run everyone is watching or clear the class's drawings. With a passcode (the environment
variable DIGITLAB_TEACHER_PASSCODE or, in the app, `teacher_passcode` in
`.streamlit/secrets.toml`), the teacher is whoever enters it, on any device. Without one,
the teacher is the computer the server runs on (a connection from a loopback address): a
laptop's own browser may, every student's device may not. A class that never set a
passcode is not open to its most curious student.

Behind a reverse proxy on the same computer every connection comes from loopback: set a
passcode there.
"""

import hmac
import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from tl_core.i18n import N_

PASSCODE_ENV = "DIGITLAB_TEACHER_PASSCODE"
SECRETS_KEY = "teacher_passcode"
NEEDS_PASSCODE = N_("Only the teacher can do this: enter the teacher passcode.")
NEEDS_THIS_COMPUTER = N_(
    "Only the computer running the app can do this, since no teacher passcode is set: set "
    "DIGITLAB_TEACHER_PASSCODE when starting the app to do it from any device."
)


def teacher_passcode(secrets: Mapping[str, Any] | None = None) -> str | None:
    """The passcode from the environment, else from the app's secrets; None if unset."""
    passcode = os.environ.get(PASSCODE_ENV) or (secrets or {}).get(SECRETS_KEY)
    return str(passcode) if passcode else None


def is_this_computer(ip_address: object) -> bool:
    """Whether a session's connection comes from the computer the server runs on.

    `ip_address` is Streamlit's `st.context.ip_address`, the TCP peer of the session's
    websocket as a string, or None for a loopback connection. A session with no connection
    at all (a script; Streamlit's AppTest, which gives a stand-in object) runs here too.
    """
    if not isinstance(ip_address, str):
        return True
    try:
        return ipaddress.ip_address(ip_address.split("%")[0]).is_loopback
    except ValueError:
        return False


def may_control_training(
    entered: str | None, passcode: str | None, on_this_computer: bool = True
) -> bool:
    """With a passcode, only for the right one (compared in constant time); without one,
    only on the computer the server runs on."""
    if not passcode:
        return on_this_computer
    return entered is not None and hmac.compare_digest(entered.encode(), passcode.encode())


TEACHER_HERE = N_(
    "No teacher passcode is set, so Start, Stop and the class set's controls work only in "
    "this computer's own browser, at localhost (not at the address students open). To teach "
    "from any device, start the app with DIGITLAB_TEACHER_PASSCODE set."
)


def not_allowed(passcode: str | None) -> str:
    """The one sentence for a session that may not: what would let it (the English message
    id: show it with `_(...)`, raise it as `Text(...)`)."""
    return NEEDS_PASSCODE if passcode else NEEDS_THIS_COMPUTER
