"""Every answer the read path keeps in this process, behind one registry with one reset.

The in-process read engine keeps snapshots of the events, answers per snapshot block, site
answers and place texts, each keyed by its database and data-version token so that a change is
seen at once (docs/read-engine.md). Each of those modules registers how to forget what it keeps
with :func:`keeps`; :func:`forget_all` forgets everything: after restoring a database from a
backup (when tokens may repeat), and in tests and benchmarks that need a cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Lock
from typing import TypeVar

Forget = TypeVar("Forget", bound=Callable[[], None])
_FORGET: dict[str, Callable[[], None]] = {}
_LOCK = Lock()


def keeps(name: str) -> Callable[[Forget], Forget]:
    """Register the decorated function as the way to forget the kept answers called ``name``."""

    def register(forget: Forget) -> Forget:
        with _LOCK:
            _FORGET[name] = forget
        return forget

    return register


def registered() -> tuple[str, ...]:
    """The names of the kept answers registered so far (those of the modules imported)."""
    with _LOCK:
        return tuple(_FORGET)


def forget_all() -> tuple[str, ...]:
    """Forget every kept answer of this process; return the names forgotten."""
    with _LOCK:
        forgetters = dict(_FORGET)
    for forget in forgetters.values():
        forget()
    return tuple(forgetters)
