"""Reads shared by the panels of one page render.

Several panels of a page need the same numbers (the KPI tiles, the risk list and the
month-over-month chart read the same KPIs; the health grid and the route table read the same
request histograms). ``scope()`` opens a per-render memo, so each distinct read runs once per
render; outside a scope (a panel rendered on its own, in tests) nothing is cached. Whole
figures computed by several panels (the KPI list) go through ``cached``, which also makes a
panel on another thread wait for a value being computed instead of computing it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_memo: ContextVar[dict | None] = ContextVar("dashboard_render_memo", default=None)


@contextmanager
def scope() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def current() -> dict | None:
    return _memo.get()


# Panels of a page render on several threads (dashboards.panels.base.start_rendering) and
# share one memo: a value another thread is computing is waited for, not computed again.
_guard = threading.Lock()
_IN_FLIGHT = object()  # the memo's entry of values being computed: {key: Future}


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return compute()
    with _guard:
        if key in memo:
            return memo[key]
        flights = memo.setdefault(_IN_FLIGHT, {})
        flight = flights.get(key)
        mine = flight is None
        if mine:
            flight = flights[key] = Future()
    if not mine:
        return flight.result()
    try:
        value = compute()
    except BaseException as exc:
        with _guard:
            del flights[key]
        flight.set_exception(exc)
        raise
    with _guard:
        memo[key] = value
        del flights[key]
    flight.set_result(value)
    return value


def lookup(key: Hashable) -> Any:
    memo = _memo.get()
    return None if memo is None else memo.get(key)


def store(key: Hashable, value: Any) -> None:
    memo = _memo.get()
    if memo is not None:
        memo[key] = value
