"""Odd but well-formed requests to /api/prom/: far times and offsets, huge ranges, deep
nesting, invalid label names, bad regexes. Each is answered (200, or a 4xx in Prometheus'
shape), never a 5xx."""

from __future__ import annotations

import time

import pytest

from collectors.store import write_samples

ODD = [
    ("query", {"query": "x offset 1000y"}),
    ("query", {"query": "x offset -1000y"}),
    ("query", {"query": "rate(x[1000y])"}),
    ("query", {"query": "x", "time": "-62135596800"}),
    ("query", {"query": "x", "time": "253402300799"}),
    ("query", {"query": "x[5m]", "time": "-62135596800"}),
    ("query", {"query": "rate(x[5m] offset -500y)", "time": "253402300799"}),
    ("query_range", {"query": "x", "start": "-62135596800", "end": "-62135590000", "step": "1000"}),
    ("query_range", {"query": "x", "start": "253402200000", "end": "253402300799", "step": "1000"}),
    ("query", {"query": "histogram_quantile(x, y)"}),
    ("query", {"query": "histogram_quantile(0.5, 3)"}),
    ("query", {"query": "sum(1)"}),
    ("query", {"query": '{__name__=~"(a+)+"}'}),
    ("query", {"query": '{a=~"["}'}),
    ("query", {"query": '{a=~"(?i)X"}'}),
    ("query", {"query": 'x{le="abc"}'}),
    ("query", {"query": "1e400 * x"}),
    ("query", {"query": "x ^ 1e400"}),
    ("query", {"query": "-(1)"}),
    ("query", {"query": "x - - x"}),
    ("query", {"query": "rate(x[1ms])"}),
    ("query_range", {"query": "x", "start": "0", "end": "0", "step": "0.0001"}),
    ("query_range", {"query": "x", "start": "0", "end": "1", "step": "1e-9"}),
    ("query_range", {"query": "x", "start": "0", "end": "1", "step": "1e30"}),
    ("query_range", {"query": "x", "start": "nan", "end": "1", "step": "1"}),
    (
        "query_range",
        {
            "query": "x",
            "start": "2026-11-29T10:00:00Z",
            "end": "2026-11-29T11:00:00+01:00",
            "step": "1m",
        },
    ),
    ("label/%00/values", {}),
    ("label/a-b/values", {}),
    ("label/le/values", {"match[]": "x"}),
    ("series", {"match[]": '{a=""}'}),
    ("series", {"match[]": "x", "start": "abc"}),
    ("metadata", {"limit": "-1"}),
    ("query", {"query": "x", "time": "2026-13-45T00:00:00Z"}),
    ("query", {"query": "x" * 100000}),
    ("query", {"query": "(" * 5000 + "1" + ")" * 5000}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "params"), ODD)
def test_odd_requests_are_never_a_5xx(client, make_token, path, params):
    now = time.time()
    write_samples(
        [{"metric": "x", "labels": {"le": "0.1"}, "points": [[now - 30, 1.0]]}], source="api"
    )
    headers = {"Authorization": f"Bearer {make_token('read')}"}
    for send in (client.get, client.post):
        response = send(f"/api/prom/api/v1/{path}", params, headers=headers)
        assert response.status_code < 500, response.content[:300]
        body = response.json()
        assert body["status"] == ("success" if response.status_code == 200 else "error"), body
