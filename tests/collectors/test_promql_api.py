"""The Prometheus query API under /api/prom/: authentication, GET and form POST, error shapes,
the metadata endpoints, and how PenguinMon's own counters and latency histograms read as
Prometheus counters and classic histograms."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from collectors.store import histogram, write_request_timings, write_samples
from collectors.store.backfill import backfill_series

PROM = "/api/prom/api/v1"


@pytest.fixture
def prom(client, make_token):
    token = make_token("read")

    class Prom:
        headers = {"Authorization": f"Bearer {token}"}

        def get(self, path: str, **params):
            return client.get(f"{PROM}/{path}", params, headers=self.headers)

        def post(self, path: str, **params):
            return client.post(f"{PROM}/{path}", params, headers=self.headers)

    return Prom()


def _error(response, status: int = 400, kind: str = "bad_data") -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == kind, body
    return body["error"]


def _gauge(metric: str, labels: dict, points: list[tuple[float, float]]) -> None:
    write_samples(
        [{"metric": metric, "labels": labels, "points": [list(p) for p in points]}], source="api"
    )


@pytest.mark.django_db
def test_it_answers_an_instant_query_in_prometheus_shape(prom):
    now = time.time()
    _gauge("queue_depth", {"queue": "smtp"}, [(now - 60, 3.0), (now - 30, 4.5)])
    body = prom.get("query", query='queue_depth{queue="smtp"} * 2', time=now).json()
    assert body == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"queue": "smtp"}, "value": [round(now, 3), "9"]}],
        },
    }


@pytest.mark.django_db
def test_a_form_encoded_post_is_answered_like_a_get(prom):
    now = time.time()
    _gauge("queue_depth", {"queue": "smtp"}, [(now - 90, 1.0), (now - 30, 2.0)])
    params = {"query": "queue_depth", "start": now - 120, "end": now, "step": "30s"}
    got, posted = (
        prom.get("query_range", **params).json(),
        prom.post("query_range", **params).json(),
    )
    assert got == posted
    (series,) = got["data"]["result"]
    assert series["metric"] == {"__name__": "queue_depth", "queue": "smtp"}
    assert [v for _, v in series["values"]] == ["1", "1", "2", "2"]


@pytest.mark.django_db
def test_scalars_and_range_selectors_keep_their_result_types(prom):
    now = time.time()
    _gauge("queue_depth", {"queue": "smtp"}, [(now - 90, 1.0), (now - 30, 2.0)])
    scalar = prom.get("query", query="1 + 2 * 3", time=100).json()["data"]
    assert scalar == {"resultType": "scalar", "result": [100, "7"]}
    matrix = prom.get("query", query="queue_depth[2m]", time=now).json()["data"]
    assert matrix["resultType"] == "matrix"
    assert [v for _, v in matrix["result"][0]["values"]] == ["1", "2"]


@pytest.mark.django_db
def test_a_token_is_accepted_as_bearer_or_basic_auth_password(client, make_token):
    token = make_token("read")
    basic = base64.b64encode(f"grafana:{token}".encode()).decode()
    for header in (f"Bearer {token}", f"Basic {basic}"):
        response = client.get(f"{PROM}/query", {"query": "1"}, headers={"Authorization": header})
        assert response.status_code == 200, response.content
    assert _error(client.get(f"{PROM}/query", {"query": "1"}), 401, "unauthorized")
    wrong = base64.b64encode(b"grafana:pm_not_a_token").decode()
    assert _error(
        client.get(f"{PROM}/query", {"query": "1"}, headers={"Authorization": f"Basic {wrong}"}),
        401,
        "unauthorized",
    )
    ingest_only = make_token("ingest")
    message = _error(
        client.get(
            f"{PROM}/query", {"query": "1"}, headers={"Authorization": f"Bearer {ingest_only}"}
        ),
        403,
        "forbidden",
    )
    assert "read" in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("topk(3, queue_depth)", "aggregation topk"),
        ("abs(queue_depth)", "function abs()"),
        ("rate(queue_depth[5m:1m])", "subqueries"),
        ("queue_depth @ 100", "@ modifier"),
        ("a * on(x) group_left b", "group_left"),
        ("a and b", "operator and"),
        ('queue_depth{a="1" or b="2"}', "'or'"),
    ],
)
def test_unsupported_syntax_is_a_400_naming_it(prom, query, named):
    message = _error(prom.get("query", query=query))
    assert "unsupported" in message and named in message, message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("query", {"query": "sum(rate(x[5m])"}, "parse error"),
        ("query", {"query": ""}, "no expression"),
        ("query", {"query": "x\x00"}, "NUL"),
        ("query", {"query": "x", "time": "tomorrow"}, '"time"'),
        ("query", {"query": "x", "time": "1e300"}, '"time"'),
        ("query_range", {"query": "x", "start": "1", "end": "2", "step": "fast"}, '"step"'),
        ("query_range", {"query": "x", "start": "1", "end": "2", "step": "-5"}, "positive"),
        ("query_range", {"query": "x", "end": "2", "step": "1"}, '"start"'),
        ("query_range", {"query": "x", "start": "9", "end": "2", "step": "1"}, "before start"),
        ("query_range", {"query": "x", "start": "0", "end": "11001", "step": "1"}, "11,000"),
        ("query_range", {"query": "x[5m]", "start": "0", "end": "10", "step": "1"}, "range"),
        ("series", {}, "match[]"),
        ("series", {"match[]": "rate(x[5m])"}, "match[]"),
        ("metadata", {"limit": "many"}, '"limit"'),
    ],
)
def test_bad_input_is_a_400_in_prometheus_shape(prom, path, params, words):
    assert words in _error(prom.get(path, **params))


@pytest.mark.django_db
def test_the_points_limit_is_prometheus_one(prom):
    ok = prom.get("query_range", query="1", start="0", end="11000", step="1")
    assert ok.status_code == 200
    assert len(ok.json()["data"]["result"][0]["values"]) == 11_001


@pytest.mark.django_db
def test_metadata_endpoints_list_what_the_store_holds(prom):
    now = time.time()
    _gauge("queue_depth", {"queue": "smtp"}, [(now - 30, 2.0)])
    _gauge("queue_depth", {"queue": "bounce"}, [(now - 30, 1.0)])
    write_request_timings(
        [{"service": "api", "route": "/v1/x", "method": "GET", "status": 200, "duration_ms": 5}]
    )
    series = prom.get("series", **{"match[]": 'queue_depth{queue=~"s.*"}'}).json()["data"]
    assert series == [{"__name__": "queue_depth", "queue": "smtp"}]
    names = prom.get("label/__name__/values").json()["data"]
    assert {"queue_depth", "http_requests", "http_request_duration_ms_bucket"} <= set(names)
    assert "http_request_duration_ms" not in names
    assert prom.get("label/queue/values").json()["data"] == ["bounce", "smtp"]
    labels = prom.get("labels").json()["data"]
    assert {"__name__", "queue", "service", "route", "le"} <= set(labels)
    only = prom.get("labels", **{"match[]": "queue_depth"}).json()["data"]
    assert only == ["__name__", "queue"]
    meta = prom.get("metadata", metric="http_requests").json()["data"]
    assert meta["http_requests"][0]["type"] == "counter"
    build = prom.get("status/buildinfo").json()
    assert build["status"] == "success" and build["data"]["version"].startswith("2.")


def _steady_requests(minutes: int, per_minute: int, duration_ms: float) -> float:
    """``per_minute`` requests in each of the last ``minutes`` whole minutes; returns a query
    time half a minute into the current minute's predecessor's end, where every 10-minute
    window lies inside the data."""
    this_minute = int(time.time()) // 60 * 60
    items = [
        {
            "service": "api",
            "route": "/v1/campaigns",
            "method": "GET",
            "status": 500 if i % 10 == 0 else 200,
            "duration_ms": duration_ms,
            "ts": minute + (i % 60),
        }
        for minute in range(this_minute - minutes * 60, this_minute, 60)
        for i in range(per_minute)
    ]
    write_request_timings(items)
    return this_minute - 30


@pytest.mark.django_db
def test_request_counters_read_as_prometheus_counters(prom):
    at = _steady_requests(20, 60, 80)
    body = prom.get(
        "query", query="sum by (status_class) (rate(http_requests[10m]))", time=at
    ).json()
    rates = {r["metric"]["status_class"]: float(r["value"][1]) for r in body["data"]["result"]}
    assert rates == pytest.approx({"2xx": 0.9, "5xx": 0.1}, rel=1e-9)
    total = prom.get("query", query="sum(increase(http_request_duration_ms_count[10m]))", time=at)
    assert float(total.json()["data"]["result"][0]["value"][1]) == pytest.approx(600, rel=1e-9)


@pytest.mark.django_db
def test_histogram_quantile_reads_the_latency_histograms(prom):
    at = _steady_requests(20, 30, 100.0)
    body = prom.get(
        "query",
        query="histogram_quantile(0.5, sum by (le) (rate(http_request_duration_ms_bucket[5m])))",
        time=at,
    ).json()
    (result,) = body["data"]["result"]
    assert result["metric"] == {}
    i = histogram.bucket_index(100.0)
    # Every request is in one bucket: Prometheus' interpolation puts the median at its middle
    # (the le labels carry 6 significant digits).
    middle = (histogram.lower_bound(i) + histogram.upper_bound(i)) / 2
    assert float(result["value"][1]) == pytest.approx(middle, rel=1e-5)
    buckets = prom.get("series", **{"match[]": "http_request_duration_ms_bucket"}).json()["data"]
    assert len(buckets) == histogram.N_BUCKETS
    assert {b["le"] for b in buckets} >= {"0.05", "+Inf"}


@pytest.mark.django_db
def test_metric_reads_follow_the_role_table(client, make_user, make_token):
    now = time.time()
    _gauge("mrr_usd", {}, [(now - 30, 125_000.0)])
    _gauge("host_cpu_percent", {"host": "web-1"}, [(now - 30, 40.0)])
    token = make_token("read", user=make_user("executive"))
    headers = {"Authorization": f"Bearer {token}"}

    def get(path, **params):
        return client.get(f"{PROM}/{path}", params, headers=headers)

    revenue = get("query", query="mrr_usd * 2", time=now).json()["data"]["result"]
    assert revenue[0]["value"][1] == "250000"
    message = _error(get("query", query="host_cpu_percent", time=now), 403, "forbidden")
    assert message == (
        "your role may not read host_cpu_percent: it needs view infrastructure or view "
        "services or view operations or view development"
    )
    assert get("query", query='{__name__=~".+"}', time=now).json()["data"]["result"] == [
        {"metric": {"__name__": "mrr_usd"}, "value": [round(now, 3), "125000"]}
    ]
    assert get("label/__name__/values").json()["data"] == ["mrr_usd"]
    assert get("series", **{"match[]": '{__name__=~".+"}'}).json()["data"] == [
        {"__name__": "mrr_usd"}
    ]
    assert list(get("metadata").json()["data"]) == ["mrr_usd"]


@pytest.mark.django_db
def test_the_stores_counters_count_from_the_oldest_data_kept(prom):
    at = _steady_requests(20, 60, 80)
    # Minutes before the 5-minute lookback come from the rollups: every request so far counts.
    expected = 19 * 60  # minutes M-20 … M-2: those whose end is at or before `at`
    for query in ("sum(http_requests)", "sum(http_request_duration_ms_count)"):
        body = prom.get("query", query=query, time=at).json()
        assert float(body["data"]["result"][0]["value"][1]) == expected, query
    slow = prom.get("query", query='sum(http_request_duration_ms_bucket{le="+Inf"})', time=at)
    assert float(slow.json()["data"]["result"][0]["value"][1]) == expected


def _history(days: int) -> tuple[int, list[float]]:
    """``cpu_history{host="old"}``: one point a minute (value = the minute's index) for the
    last ``days`` days, raw kept only for raw retention, as on a running system. Returns the
    first minute (unix s) and the values."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=days)
    values = [float(i) for i in range(days * 1440)]
    points = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    raw_since = now - timedelta(days=settings.RETENTION_RAW_DAYS)
    backfill_series({("cpu_history", (("host", "old"),)): points}, raw_since=raw_since)
    return int(start.timestamp()), values


@pytest.mark.django_db
def test_ranges_older_than_raw_retention_read_the_rollups(prom, settings):
    settings.RETENTION_1M_DAYS = 21  # hours before that: minute rollups "expired"
    first, values = _history(30)
    # 17 days ago: raw samples are gone, the minute rollups answer; a minute's last sample
    # is stamped at its end.
    minute = (int(time.time()) - 17 * 86400) // 60 * 60
    body = prom.get("query", query="cpu_history", time=minute + 60).json()
    assert float(body["data"]["result"][0]["value"][1]) == values[(minute - first) // 60]
    # 25 days ago: only the hour rollups are kept; the hour's last sample, at its end.
    hour = (int(time.time()) - 25 * 86400) // 3600 * 3600
    body = prom.get("query", query="cpu_history", time=hour + 3600).json()
    assert float(body["data"]["result"][0]["value"][1]) == values[(hour - first) // 60 + 59]
    # A Grafana-style 30-day panel has a point every hour, with no gap where raw begins.
    end = int(time.time()) // 3600 * 3600
    body = prom.get(
        "query_range",
        query="avg_over_time(cpu_history[1h])",
        start=first + 3600 * 2,
        end=end,
        step=3600,
    ).json()
    stamps = [int(t) for t, _ in body["data"]["result"][0]["values"]]
    assert stamps == list(range(first + 7200, end + 1, 3600))
    # Where minute rollups answer (20 days ago), an hour's window holds its 60 minutes.
    at = first + 10 * 86400  # a step of the panel, 20 days ago
    answer = {int(t): v for t, v in body["data"]["result"][0]["values"]}
    i = (at - 3600 - first) // 60
    assert float(answer[at]) == pytest.approx(sum(values[i : i + 60]) / 60, rel=1e-12)
    # The values climb by one a minute, like a counter: its rate reads right over the rollups.
    body = prom.get("query", query="rate(cpu_history[10m])", time=at).json()
    assert float(body["data"]["result"][0]["value"][1]) == pytest.approx(1 / 60, rel=1e-9)


@pytest.mark.django_db
def test_the_stores_counters_read_their_rollups_before_raw_retention(prom):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=20)
    counts = [float(i % 7) for i in range(20 * 1440)]
    labels = (("method", "GET"), ("route", "/v1/x"), ("service", "api"), ("status_class", "2xx"))
    backfill_series(
        {
            ("http_requests", labels): [
                (start + timedelta(minutes=i), c) for i, c in enumerate(counts)
            ]
        },
        raw_since=now - timedelta(days=settings.RETENTION_RAW_DAYS),
    )
    # The running total at a minute's end, 17 days ago: every minute up to it counted once.
    minute_end = int((now - timedelta(days=17)).timestamp())
    body = prom.get("query", query="sum(http_requests)", time=minute_end).json()
    done = (minute_end - int(start.timestamp())) // 60
    assert float(body["data"]["result"][0]["value"][1]) == sum(counts[:done])
