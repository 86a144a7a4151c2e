"""Who may start and stop heavy work, adopt a model and change the class set: the teacher.

In a classroom thirty students open the teacher's app; any of them could otherwise stop the
run everyone is watching or clear the class's drawings. The teacher is:

- whoever entered the passcode, on any device. The passcode is the environment variable
  DIGITLAB_TEACHER_PASSCODE or, in the app, `teacher_passcode` in `.streamlit/secrets.toml`
  (at least MIN_PASSCODE_LENGTH characters). Without one, a server that students can reach
  makes one up at start (`made_up_passcode`) and prints it on the server's own screen, the
  way quiz apps show a game PIN: "forgot to set a passcode" never means "everyone is the
  teacher".
- the browser of the computer the server runs on: a direct connection from exactly
  127.0.0.1, ::1 or 127.0.0.1 mapped into IPv6, carrying no proxy's forwarding header
  (`is_this_computer`). Another 127.x address (a sidecar proxy connects from 127.0.0.6), a
  forwarded request, or a connection with no address is a student.

Wrong passcodes are counted per session and per server; after a few, attempts wait
(`PasscodeGate`), and each failure is logged without the value typed.
"""

import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tl_core.i18n import N_, Text

log = logging.getLogger(__name__)
PASSCODE_ENV = "DIGITLAB_TEACHER_PASSCODE"
SECRETS_KEY = "teacher_passcode"
MIN_PASSCODE_LENGTH = 8
MADE_UP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread on a screen
MADE_UP_LENGTH = 10
# A proxy names the browser it forwards in one of these: such a request is never "this
# computer", whichever address the proxy connects from.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
NEEDS_PASSCODE = N_("Only the teacher can do this: enter the teacher passcode.")
NEEDS_THIS_COMPUTER = N_(
    "Only the computer running the app can do this, since no teacher passcode is set: set "
    "DIGITLAB_TEACHER_PASSCODE when starting the app to do it from any device."
)
PASSCODE_TOO_SHORT = N_(
    "The teacher passcode that was set is too short ({length} characters): nobody can use "
    "the teacher's controls until the app is restarted with one of at least {least}."
)
TEACHER_HERE = N_(
    "No teacher passcode is set, so Start, Stop and the class set's controls work only in "
    "this computer's own browser, at localhost (not at the address students open). To teach "
    "from any device, start the app with DIGITLAB_TEACHER_PASSCODE set."
)


@dataclass(frozen=True)
class TeacherKey:
    """The server's passcode and where it came from: "set" (environment or secrets),
    "made up" (at start, for a server students can reach), or None (no passcode: only this
    computer). `too_short` is the length of a passcode set by hand below the minimum: then
    nobody may, until it is fixed."""

    passcode: str | None
    source: str | None
    too_short: int | None = None


NO_PASSCODE = TeacherKey(None, None)


def teacher_key(secrets_: Mapping[str, Any] | None = None, reachable: bool = False) -> TeacherKey:
    """The passcode set by hand (environment, else the app's secrets), else one made up when
    students can reach the server (`reachable`), else none."""
    passcode = os.environ.get(PASSCODE_ENV) or (secrets_ or {}).get(SECRETS_KEY)
    if passcode:
        passcode = str(passcode)
        short = len(passcode) if len(passcode) < MIN_PASSCODE_LENGTH else None
        if short:
            log.error(
                "The teacher passcode is too short (%d characters, at least %d): the teacher's "
                "controls are off until the app is restarted with a longer one.",
                short,
                MIN_PASSCODE_LENGTH,
            )
        return TeacherKey(passcode, "set", short)
    if reachable:
        return TeacherKey(made_up_passcode(), "made up")
    return NO_PASSCODE


_SERVER_KEY: TeacherKey | None = None
_SERVER_KEY_LOCK = threading.Lock()


def server_key(secrets_: Mapping[str, Any] | None = None, reachable: bool = False) -> TeacherKey:
    """`teacher_key`, decided once per server process: a made-up passcode must stay the
    same for the whole lesson, and is printed once, on the server's own screen."""
    global _SERVER_KEY
    with _SERVER_KEY_LOCK:
        if _SERVER_KEY is None:
            _SERVER_KEY = teacher_key(secrets_, reachable)
            if _SERVER_KEY.source == "made up":
                print(
                    "\n  Digit Lab: no teacher passcode was set and students can reach this "
                    f"server.\n  Teacher passcode for this lesson: {_SERVER_KEY.passcode}\n",
                    flush=True,
                )
        return _SERVER_KEY


def made_up_passcode() -> str:
    """A passcode easy to read off a screen and type: about 49 bits of chance."""
    return "".join(secrets.choice(MADE_UP_ALPHABET) for _ in range(MADE_UP_LENGTH))


def is_this_computer(peer: object, headers: Mapping[str, str] | None = None) -> bool:
    """Whether a connection comes straight from the computer the server runs on.

    `peer` is the TCP peer's address as a string (None when there is none); `headers` the
    request's. Exactly 127.0.0.1, ::1 and ::ffff:127.0.0.1 are this computer; other
    loopback addresses, a forwarded request and no address are not.
    """
    if not isinstance(peer, str):
        return False
    if any(name.lower() in FORWARDING_HEADERS for name in (headers or {})):
        return False
    try:
        address = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def may_control_training(
    entered: str | None, key: TeacherKey, on_this_computer: bool = True
) -> bool:
    """The right passcode may, on any device. This computer may too, unless the passcode was
    set by hand (then a proxy on this computer that forwards no header cannot make every
    student the teacher). A passcode set too short lets nobody."""
    if key.too_short:
        return False
    if on_this_computer and key.source != "set":
        return True
    return passcode_matches(entered, key.passcode)


def passcode_matches(entered: str | None, passcode: str | None) -> bool:
    """Whether `entered` is the passcode (never when there is none)."""
    if not passcode or entered is None:
        return False
    return hmac.compare_digest(entered.encode(), passcode.encode())


def not_allowed(key: TeacherKey) -> Text:
    """The one sentence for a session that may not: what would let it."""
    if key.too_short:
        return Text(PASSCODE_TOO_SHORT, length=key.too_short, least=MIN_PASSCODE_LENGTH)
    return Text(NEEDS_PASSCODE if key.passcode else NEEDS_THIS_COMPUTER)


FREE_TRIES = 3  # wrong passcodes a session (or, times SERVER_FACTOR, the server) may make
SERVER_FACTOR = 10
SERVER_WINDOW_S = 600.0  # the server counts the wrong passcodes of the last ten minutes
MAX_WAIT_S = 60.0


@dataclass
class PasscodeGate:
    """Slows passcode guessing: after FREE_TRIES wrong ones in a session (30 across the
    server in SERVER_WINDOW_S, which counts every session, new tabs included), each further
    attempt must wait, doubling from 2 s up to MAX_WAIT_S. A right passcode clears its
    session's count; the server's forgets a failure after SERVER_WINDOW_S, so a term of
    occasional typos never adds up."""

    clock: Any = time.monotonic
    _failures: dict[str, int] = field(default_factory=dict)
    _server_failures: list[float] = field(default_factory=list)
    _next_try: dict[str, float] = field(default_factory=dict)
    _server_next_try: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, session: str) -> float:
        """Seconds before this session may try again (0: now)."""
        with self._lock:
            until = max(self._next_try.get(session, 0.0), self._server_next_try)
        return max(0.0, until - self.clock())

    def attempt(self, session: str, entered: str, passcode: str | None) -> bool | float:
        """True for the right passcode, False for a wrong one, or the seconds to wait first
        (the attempt is then not checked at all)."""
        wait = self.wait_s(session)
        if wait > 0:
            return wait
        if passcode_matches(entered, passcode):
            with self._lock:
                self._failures.pop(session, None)
            return True
        with self._lock:
            now = self.clock()
            count = self._failures[session] = self._failures.get(session, 0) + 1
            recent = [t for t in self._server_failures if now - t < SERVER_WINDOW_S]
            self._server_failures = [*recent, now]
            self._next_try[session] = now + _backoff(count, FREE_TRIES)
            self._server_next_try = now + _backoff(
                len(self._server_failures), FREE_TRIES * SERVER_FACTOR
            )
            server_count = len(self._server_failures)
        log.warning(
            "A wrong teacher passcode was entered (%d in this session, %d on this server in "
            "ten minutes).",
            count,
            server_count,
        )
        return False


PASSCODE_GATE = PasscodeGate()  # the server's one gate: every session's tries count


def _backoff(failures: int, free: int) -> float:
    """No wait for the first `free` failures, then 2, 4, 8... seconds, at most MAX_WAIT_S."""
    if failures <= free:
        return 0.0
    return min(MAX_WAIT_S, 2.0 ** (failures - free))


def wait_sentence(seconds: float) -> str:
    """The sentence for a passcode attempt that must wait."""
    return Text(
        "Too many wrong passcodes: try again in {seconds} s.", seconds=max(1, round(seconds))
    )
