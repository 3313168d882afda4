"""The callback edge: every value a browser sends must have the type its callback declares.

Dash hands a callback whatever JSON the request carries; a crafted request can put a number
where a store's dict is expected or a dict where a list of names is. :func:`guard_callbacks`
wraps every registered callback so its arguments are checked against the callback's type hints
before it runs; a value of the wrong shape is answered with 400, never a 500 from deep inside.

The check is structural (``int``, ``float``, ``str``, ``bool``, ``None``, ``list[...]``,
``dict[str, ...]``, unions, ``Literal``, ``Any``). Integers must fit 64 bits and floats must be
finite (a database column cannot hold more); text must not hold NUL bytes (PostgreSQL refuses
them). What a value *means* (a known layer, a valid date) is still each parser's business.
"""

from __future__ import annotations

import inspect
import logging
import math
import types
import typing
from collections.abc import Callable
from functools import wraps
from typing import Any

from werkzeug.exceptions import BadRequest

logger = logging.getLogger(__name__)
_INT_BOUND = 2**63
# A dcc.Store's content (or a figure's event data): a JSON object, or nothing yet.
Store = dict[str, Any] | None


def conforms(value: Any, hint: Any) -> bool:
    """Return whether ``value`` (decoded JSON) has the shape the type ``hint`` describes.

    Examples
    --------
    >>> conforms([1, 2], list[int]), conforms({"a": "x"}, dict[str, int] | None)
    (True, False)
    >>> conforms(float("nan"), float), conforms("a\\x00", str)
    (False, False)
    """
    if hint is Any or hint is object:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_BOUND
    if hint is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and (isinstance(value, int) or math.isfinite(value))
    if hint is str:
        return isinstance(value, str) and "\x00" not in value
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(conforms, value, args))
        item = args[0] if args else Any
        return all(conforms(v, item) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return False
        item = args[1] if len(args) == 2 else Any
        return all(conforms(v, item) for v in value.values())
    return isinstance(value, hint) if isinstance(hint, type) else True


def checked(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``callback`` (Dash's registered wrapper) with its arguments checked first.

    Raises
    ------
    werkzeug.exceptions.BadRequest
        When an argument does not conform to the wrapped function's annotation.
    """
    func = inspect.unwrap(callback)
    hints = typing.get_type_hints(func)
    names = [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]

    @wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        for name, value in zip(names, args, strict=False):
            if not conforms(value, hints.get(name, Any)):
                # Logged: a browser sending a shape the hints do not allow is a bug to fix here.
                logger.warning("refused %s: %s is not %s", func.__name__, name, hints.get(name))
                raise BadRequest(f"{func.__name__}: {name} has the wrong shape")
        return callback(*args, **kwargs)

    return run


def guard_callbacks(callback_map: dict[str, dict[str, Any]]) -> None:
    """Wrap every server-side callback of ``callback_map`` (Dash's) with :func:`checked`."""
    for entry in callback_map.values():
        if "callback" in entry and not getattr(entry["callback"], "_wf_checked", False):
            entry["callback"] = checked(entry["callback"])
            entry["callback"]._wf_checked = True  # marker
