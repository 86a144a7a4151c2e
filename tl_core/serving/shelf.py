"""What a server builds once and shares for its whole life: loaded models and their scores.

Streamlit's `st.cache_resource` is emptied for the whole server by one `clear_cache`
message, which any browser may send: thirty students would then wait while the model loads
again, and a student could make the server do so on every stroke. A `Shelf` is a plain
object of the process that no message reaches. It builds each item once, even when thirty
sessions ask for it at the same moment (the others wait for the first), one item at a time
(a student picking run after run on Results loads one model at a time, never four at
once), and keeps the newest few.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Shelf:
    """At most `size` items by key, the least recently used going first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()  # guards _items
        self._building = threading.Lock()  # one build at a time

    def has(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The item for `key`, built by `build()` if it is not on the shelf. A failed build
        raises to its caller; a caller that waited for it then builds it itself."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        with self._building:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            item = build()
            with self._lock:
                self._items[key] = item
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return item


MODELS = Shelf(4)  # loaded Predictors, by (run folder, model checksum)
EVALUATIONS = Shelf(4)  # a run's scores on the test sets, by the same key
VIEWING_BASES = Shelf(2)  # Inside's base with an output per block, by the same key
SPEEDS = Shelf(8)  # the Train page's measured pace, by setting
