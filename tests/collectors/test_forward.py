"""Forwarding accepted samples by remote_write (REMOTE_WRITE_FORWARD_URL) to a real Prometheus
started with its remote-write receiver, through a queue that keeps batches while the receiver
is away."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from collectors.store import forward, write_samples
from tests.support.net import free_port
from tests.support.prometheus import prometheus as start_prometheus


@pytest.fixture
def prometheus():
    with start_prometheus() as base:
        yield base


def queue_rows() -> list[tuple[int, int, str]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT samples, attempts, last_error FROM collectors_forward_queue ORDER BY id"
        )
        return cur.fetchall()


def test_nothing_is_queued_when_forwarding_is_off(db, settings):
    settings.REMOTE_WRITE_FORWARD_URL = ""
    write_samples([{"metric": "queue_depth", "labels": {"queue": "send"}, "value": 1.0}])
    assert queue_rows() == []


def test_samples_wait_while_the_receiver_is_down_then_arrive_in_prometheus(
    api, settings, prometheus
):
    settings.REMOTE_WRITE_FORWARD_URL = f"http://127.0.0.1:{free_port()}/api/v1/write"
    now = int(time.time()) - 60
    resp = api.post(
        "/api/v1/samples",
        {
            "samples": [
                {"metric": "queue_depth", "labels": {"queue": "send"}, "value": 12, "ts": now},
                {"metric": "queue_depth", "labels": {"queue": "send"}, "value": 14, "ts": now + 15},
                {"metric": "queue_depth", "labels": {"queue": "bounce"}, "value": 3, "ts": now},
            ]
        },
    )
    assert resp.status_code == 200
    assert queue_rows() == [(3, 0, "")]

    down = forward.drain()
    assert down["retrying"] == 1 and down["sent"] == 0
    [(samples, attempts, error)] = queue_rows()
    assert (samples, attempts) == (3, 1) and "ConnectionError" in error

    settings.REMOTE_WRITE_FORWARD_URL = f"{prometheus}/api/v1/write"
    assert forward.drain()["sent"] == 0  # backing off: not due yet
    up = forward.drain(now=timezone.now() + timedelta(minutes=10))
    assert up == {"sent": 1, "samples": 3, "dropped": 0, "retrying": 0, "queued": 0}

    answer = requests.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": "queue_depth", "start": now, "end": now + 15, "step": 15},
        timeout=5,
    ).json()
    got = {
        r["metric"]["queue"]: [(int(t), float(v)) for t, v in r["values"]]
        for r in answer["data"]["result"]
    }
    assert got["send"] == [(now, 12.0), (now + 15, 14.0)]
    assert got["bounce"][0] == (now, 3.0)


def test_a_batch_the_receiver_refuses_for_good_is_dropped(db, settings, httpserver):
    httpserver.expect_request("/write").respond_with_response(Response("out of bounds", status=400))
    settings.REMOTE_WRITE_FORWARD_URL = httpserver.url_for("/write")
    write_samples([{"metric": "queue_depth", "labels": {"queue": "send"}, "value": 1.0}])
    result = forward.drain()
    assert result["dropped"] == 1
    assert queue_rows() == []
    request = httpserver.log[0][0]
    assert request.headers["Content-Encoding"] == "snappy"
    assert request.headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"


def test_a_receiver_asking_to_slow_down_keeps_the_batch(db, settings, httpserver):
    httpserver.expect_request("/write").respond_with_response(Response("slow down", status=429))
    settings.REMOTE_WRITE_FORWARD_URL = httpserver.url_for("/write")
    settings.REMOTE_WRITE_FORWARD_BEARER_TOKEN = "fwd-token"
    settings.REMOTE_WRITE_FORWARD_HEADERS = {"X-Scope-OrgID": "tenant-1"}
    write_samples([{"metric": "queue_depth", "labels": {"queue": "send"}, "value": 1.0}])
    write_samples([{"metric": "queue_depth", "labels": {"queue": "send"}, "value": 2.0}])
    result = forward.drain()
    # The first batch failed and is retried later; the second waits behind it (order kept).
    assert (result["retrying"], result["sent"], result["queued"]) == (1, 0, 2)
    assert len(httpserver.log) == 1
    headers = httpserver.log[0][0].headers
    assert headers["Authorization"] == "Bearer fwd-token"
    assert headers["X-Scope-OrgID"] == "tenant-1"
