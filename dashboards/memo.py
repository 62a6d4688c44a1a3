"""Reads shared by the panels of one page render.

Several panels of a page need the same numbers (the KPI tiles, the risk list and the
month-over-month chart read the same KPIs; the health grid and the route table read the same
request histograms). ``scope()`` opens a per-render memo, so each distinct read runs once per
render; outside a scope (a panel rendered on its own, in tests) nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
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


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def lookup(key: Hashable) -> Any:
    memo = _memo.get()
    return None if memo is None else memo.get(key)


def store(key: Hashable, value: Any) -> None:
    memo = _memo.get()
    if memo is not None:
        memo[key] = value
