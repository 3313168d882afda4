"""Map the next chunk of a file in a helper thread while the current one is being written.

Parsing and validation (pandas, numpy) overlap with the database's own work on the previous
chunk (PostgreSQL's COPY, SQLite's inserts release the GIL), with at most one chunk waiting.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_POLL_S = 0.1


def mapped_ahead(items: Iterable[T], fn: Callable[[T], R]) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` in order, computing the next one in a background thread.

    An exception in ``fn`` or in ``items`` is raised in the consumer; when the consumer stops
    early (or fails), the helper thread stops too.
    """
    results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                results.put(message, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(("item", (item, fn(item)))):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(("error", exc))

    thread = threading.Thread(target=work, name="ingest-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = results.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=30)
