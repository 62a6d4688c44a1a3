"""The per-render memo shared by a page's panels, which render on several threads."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboards import memo


def test_a_value_being_computed_on_another_thread_is_waited_for_not_computed_again():
    calls = []
    started = threading.Event()
    release = threading.Event()

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return {"uptime": 99.95}

    with memo.scope(), ThreadPoolExecutor(2) as pool:
        first = pool.submit(contextvars.copy_context().run, memo.cached, "k", slow)
        assert started.wait(5)
        second = pool.submit(contextvars.copy_context().run, memo.cached, "k", slow)
        release.set()
        assert first.result(5) is second.result(5)
        assert memo.cached("k", slow) is first.result()
    assert len(calls) == 1


def test_a_failed_computation_is_not_kept():
    def broken():
        raise RuntimeError("store unavailable")

    with memo.scope():
        with pytest.raises(RuntimeError):
            memo.cached("k", broken)
        assert memo.cached("k", lambda: 3) == 3


def test_outside_a_render_nothing_is_kept():
    calls = []
    for _ in range(2):
        memo.cached("k", lambda: calls.append(1))
    assert len(calls) == 2
