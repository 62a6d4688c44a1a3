"""POST /api/v1/write: Prometheus remote_write 1.0 into the store."""

from __future__ import annotations

import math
import struct
import time

import cramjam
import pytest

from collectors.models import Series
from collectors.receivers.remote_write_pb import WriteRequest

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def write_request(*series) -> WriteRequest:
    """``series``: (labels including __name__, [(ts_seconds, value), ...])."""
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in labels.items():
            ts.labels.add(name=name, value=value)
        for when, value in samples:
            ts.samples.add(value=value, timestamp=int(when * 1000))
    return request


@pytest.fixture
def send(client, make_token):
    token = make_token("ingest")

    def post(request: WriteRequest | None = None, *, raw: bytes | None = None, **headers):
        body = (
            raw
            if raw is not None
            else bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
        )
        return client.post(
            "/api/v1/write",
            body,
            content_type="application/x-protobuf",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Encoding": "snappy",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
                **headers,
            },
        )

    return post


def points(api, metric: str, start: float, end: float, **labels) -> list[tuple[float, float]]:
    params = {
        "metric": metric,
        "agg": "last",
        "step": "1s",
        "start": int(start),
        "end": int(end) + 1,
    }
    if labels:
        params["label"] = [f"{k}={v}" for k, v in labels.items()]
    body = api.get("/api/v1/query", **params).json()
    return [(p[0], p[1]) for s in body["series"] for p in s["points"] if p[1] is not None]


def test_samples_are_stored_under_their_name_and_labels(send, api):
    now = time.time() // 1 - 30
    resp = send(
        write_request(
            (
                {"__name__": "node_load1", "job": "node", "instance": "db1:9100"},
                [(now, 0.5), (now + 15, 0.75)],
            ),
            ({"__name__": "up", "job": "node", "instance": "db1:9100"}, [(now, 1.0)]),
        )
    )
    assert resp.status_code == 204, resp.content
    series = Series.objects.get(name="node_load1")
    assert series.labels == {"job": "node", "instance": "db1:9100"}
    got = points(api, "node_load1", now - 1, now + 16, instance="db1:9100")
    assert [v for _, v in got] == [0.5, 0.75]
    assert [v for _, v in points(api, "up", now - 1, now + 1)] == [1.0]


def test_staleness_markers_and_nan_are_skipped_not_refused(send, api):
    now = time.time() // 1 - 30
    resp = send(
        write_request(
            ({"__name__": "queue_depth", "queue": "send"}, [(now, 3.0), (now + 15, STALE_NAN)]),
            ({"__name__": "rpc_p99", "job": "x"}, [(now, math.nan)]),
        )
    )
    assert resp.status_code == 204
    assert [v for _, v in points(api, "queue_depth", now - 1, now + 16)] == [3.0]


def test_native_histograms_keep_count_and_sum(send, api):
    now = time.time() // 1 - 30
    request = WriteRequest()
    ts = request.timeseries.add()
    ts.labels.add(name="__name__", value="rpc_duration_seconds")
    ts.labels.add(name="job", value="api")
    ts.histograms.add(count_int=12, sum=3.5, schema=3, timestamp=int(now * 1000))
    assert send(request).status_code == 204
    assert [v for _, v in points(api, "rpc_duration_seconds_count", now - 1, now + 1)] == [12.0]
    assert [v for _, v in points(api, "rpc_duration_seconds_sum", now - 1, now + 1)] == [3.5]


def test_one_refused_series_refuses_the_request_naming_it(send):
    now = time.time() // 1 - 30
    resp = send(
        write_request(
            ({"__name__": "fine_metric", "job": "a"}, [(now, 1.0)]),
            ({"__name__": "bad_labels", "bad-name": "x"}, [(now, 1.0)]),
        )
    )
    assert resp.status_code == 400
    assert resp["Content-Type"].startswith("text/plain")
    assert resp.content.decode().startswith("timeseries[1] (bad_labels): labels:")
    assert not Series.objects.filter(name="fine_metric").exists()


def test_a_series_without_a_name_is_refused(send):
    resp = send(write_request(({"job": "a"}, [(time.time(), 1.0)])))
    assert resp.status_code == 400
    assert "no __name__" in resp.content.decode()


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"\xff\xff\xff\xff\xff\xff\xff", 400, "not a snappy block"),
        (bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff garbage")), 400, "not a protobuf"),
        # A snappy header claiming 1 GB uncompressed.
        (b"\x80\x80\x80\x80\x04" + b"\x00" * 10, 413, "exceeds the limit"),
    ],
)
def test_corrupt_and_oversize_bodies_are_4xx_and_write_nothing(send, raw, status, message):
    before = Series.objects.count()
    resp = send(raw=raw)
    assert resp.status_code == status
    assert message in resp.content.decode()
    assert Series.objects.count() == before


def test_other_encodings_are_refused(send):
    resp = send(
        write_request(({"__name__": "x"}, [(time.time(), 1)])), **{"Content-Encoding": "gzip"}
    )
    assert resp.status_code == 415


def test_it_needs_an_ingest_token(client, make_token):
    body = bytes(
        cramjam.snappy.compress_raw(
            write_request(({"__name__": "x"}, [(time.time(), 1)])).SerializeToString()
        )
    )
    resp = client.post(
        "/api/v1/write",
        body,
        content_type="application/x-protobuf",
        headers={"Authorization": f"Bearer {make_token('read')}"},
    )
    assert resp.status_code == 403
