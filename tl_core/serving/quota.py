"""How fast drawings may be added to the class set: per session, and for the whole server.

A student taps "Right" or "I meant…" once per drawing, a few times a minute. A script
speaking Streamlit's protocol can tap thousands of times a second, from as many sessions as
it opens, and fill the class set with one digit (and "Teach it our handwriting" with it).
So a session waits SESSION_GAP_S between saves and saves at most SESSION_MOST in all, and
the server takes at most SERVER_RATE saves a second (bursts of SERVER_BURST: thirty
students tapping at the same moment all get through).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tl_core.i18n import Text

SESSION_GAP_S = 1.0
SESSION_MOST = 200
SERVER_RATE = 10.0
SERVER_BURST = 40.0


@dataclass
class SaveQuota:
    """The server's one account of saves; `take` asks for one."""

    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, tuple[int, float]] = field(default_factory=dict)  # saves, last
    _tokens: float = SERVER_BURST
    _filled: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, session: str) -> str | None:
        """None if this session may save now (and it is counted), else the sentence why not."""
        with self._lock:
            now = self.clock()
            saves, last = self._sessions.get(session, (0, -SESSION_GAP_S))
            if saves >= SESSION_MOST:
                return Text(
                    "You have added {most} drawings to the class wall: that is the most one "
                    "student may.",
                    most=SESSION_MOST,
                )
            if now - last < SESSION_GAP_S:
                return Text("One drawing at a time: wait a second, then tap again.")
            if self._filled is not None:
                self._tokens = min(SERVER_BURST, self._tokens + (now - self._filled) * SERVER_RATE)
            self._filled = now
            if self._tokens < 1:
                return Text("Many drawings are arriving at once: tap again in a moment.")
            self._tokens -= 1
            self._sessions[session] = (saves + 1, now)
            return None


SAVES = SaveQuota()  # the server's
