import json
from datetime import UTC, datetime, timedelta

import pytest

from collectors.store.query import latest_values
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db(transaction=True)


def test_post_samples_then_query_them_back(api):
    now = int(datetime.now(UTC).timestamp())
    batch = [
        {"metric": "api_gauge", "labels": {"host": "h1"}, "value": i, "ts": now - 300 + 15 * i}
        for i in range(20)
    ]
    resp = api.post("/api/v1/samples", {"samples": batch})
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"written": 20}
    query = {
        "metric": "api_gauge",
        "label": "host=h1",
        "start": now - 300,
        "end": now + 1,
        "step": "1m",
        "agg": "max",
    }
    api.get("/api/v1/query", **query)
    run_rollups()
    body = api.get("/api/v1/query", **query).json()
    assert body["resolution"] == "1m"
    assert body["series"][0]["labels"] == {"host": "h1"}
    assert max(v for _, v in body["series"][0]["points"]) == 19
    series = api.get("/api/v1/series", name="api_gauge").json()["series"]
    assert [s["labels"] for s in series] == [{"host": "h1"}]


def test_a_bare_list_is_accepted_too(api):
    assert api.post("/api/v1/samples", [{"metric": "bare", "value": 1}]).json() == {"written": 1}


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        ('{"samples": [', 400, "malformed JSON"),
        ('[{"metric": "m", "value": NaN}]', 400, "malformed JSON"),
        ('{"data": []}', 400, "'samples' list"),
        ('[{"metric": "m", "value": 1}, {"metric": "m", "value": "x"}]', 422, "samples[1].value"),
        ('[{"metric": "m", "value": 1, "labels": {"a": 1}}]', 422, "samples[0].labels"),
        ('[{"metric": "m", "value": 1, "labels": {"a": "\\u0000"}}]', 422, "NUL"),
        ('[{"metric": "m", "value": 1, "unit": "\\u0000"}]', 422, "samples[0].unit"),
        ('[{"metric": "m", "value": 1, "ts": "0001-01-01T00:00+02:00"}]', 422, "out of range"),
    ],
)
def test_bad_batches_get_a_4xx_naming_the_problem_and_write_nothing(api, raw, status, fragment):
    resp = api.post("/api/v1/samples", raw=raw)
    assert resp.status_code == status
    assert fragment in resp.json()["error"]
    assert latest_values(metric="m") == []


def test_oversize_batch_is_413(api):
    resp = api.post("/api/v1/samples", [{"metric": "m", "value": 1}] * 10_001)
    assert resp.status_code == 413
    assert "exceeds the limit of 10000" in resp.json()["error"]


def test_future_timestamp_is_refused(api):
    ts = (datetime.now(UTC) + timedelta(minutes=30)).timestamp()
    resp = api.post("/api/v1/samples", [{"metric": "m", "value": 1, "ts": ts}])
    assert resp.status_code == 422
    assert "samples[0].ts" in resp.json()["error"]


def test_post_requests_and_read_p95(api):
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    items = [
        {
            "service": "api",
            "route": "/v1/x",
            "method": "GET",
            "status": 200,
            "duration_ms": d,
            "ts": now.timestamp(),
        }
        for d in range(1, 101)
    ]
    assert api.post("/api/v1/requests", {"requests": items}).json() == {"written": 100}
    body = api.get(
        "/api/v1/query",
        metric="http_request_duration_ms",
        start=int(now.timestamp()),
        end=int(now.timestamp()) + 60,
        step="60",
        agg="p95",
    ).json()
    assert 85 < body["series"][0]["points"][0][1] < 105


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"metric": "m", "agg": "median"}, "unknown aggregation"),
        ({"metric": "m", "step": "soon"}, "step"),
        ({"metric": "m", "start": "yesterday"}, "start"),
        ({"metric": "m", "label": "nohost"}, "name=value"),
        ({"metric": "m", "start": "inf"}, "start"),
        ({"metric": "m", "end": "1e300"}, "end"),
        ({"metric": "m", "end": "-86400"}, "before 1970"),
        ({"metric": "m", "step": "99999999999999w"}, "longer than 400 days"),
    ],
)
def test_bad_query_parameters_are_400(api, params, fragment):
    resp = api.get("/api/v1/query", **params)
    assert resp.status_code == 400
    assert fragment in resp.json()["error"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"metric": "m", "end": "0001-01-01T00:00"},
            "query.end: dates must fall between 1970 and 2999",
        ),
        (
            {"metric": "m", "label": "host=\x00"},
            "query.label: contains the control character U+0000",
        ),
        ({"metric": "m\x00"}, "query.metric: contains the control character U+0000"),
    ],
)
def test_input_no_field_can_hold_is_422_naming_the_field(api, params, error):
    resp = api.get("/api/v1/query", **params)
    assert resp.status_code == 422
    assert resp.json()["error"] == error


def test_openapi_documents_the_ingest_body(client):
    schema = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/v1/samples"]["post"]["requestBody"]
    assert "metric" in json.dumps(body)


def test_metrics_endpoint_counts_ingested_samples(api, client):
    api.post("/api/v1/samples", [{"metric": "counted", "value": 1}])
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=api.headers).content.decode()
    assert "penguinmon_samples_ingested_total" in text
    assert "penguinmon_queue_length" in text


def test_bad_request_timings_are_422_not_500(api):
    base = {"service": "api", "route": "/", "method": "GET", "status": 200, "duration_ms": 1}
    for item, field in [
        (base | {"service": "a\x00"}, "requests[0].service"),
        (base | {"duration_ms": 1e308}, "requests[0].duration_ms"),
    ]:
        resp = api.post("/api/v1/requests", [item])
        assert resp.status_code == 422, resp.content
        assert field in resp.json()["error"]


def test_series_filter_with_nul_is_422(api):
    assert api.get("/api/v1/series", name="m\x00").status_code == 422
    assert api.get("/api/v1/series", label="a=\x00").status_code == 422
