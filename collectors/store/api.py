"""Metric store API: push samples and request timings, list series, query.

The ingest endpoints read the body themselves instead of through a pydantic schema: 10,000-item
batches are the hot path. Samples are decoded and checked in one typed pass
(collectors/store/json_ingest.py, which says why and what it measured); errors name the
failing item and field. The documented schema is given to OpenAPI separately.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
from django.http import HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from collectors.store import IngestError, QueryError
from collectors.store.catalog import read_capabilities
from collectors.store.ingest import store_request_timings, store_samples
from collectors.store.json_ingest import decode_requests, decode_samples
from collectors.store.query import AGGREGATIONS, list_series, series_query
from penguinmon.api_auth import api_auth
from penguinmon.api_schemas import ErrorOut
from penguinmon.metrics import INGEST_REJECTED
from penguinmon.roles import user_can

router = Router(tags=["metrics"])

_SAMPLE_SCHEMA = {
    "type": "object",
    "required": ["metric", "value"],
    "properties": {
        "metric": {"type": "string", "example": "host_cpu_percent"},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "example": {"host": "web-1"},
        },
        "value": {"type": "number", "example": 42.5},
        "ts": {
            "description": "unix seconds or ISO 8601; default now",
            "oneOf": [{"type": "number"}, {"type": "string"}],
        },
        "unit": {"type": "string"},
    },
}
_SERIES_SCHEMA = {
    "type": "object",
    "description": "series-grouped form (faster for bulk loads): one metric and label set, many points",
    "required": ["metric", "points"],
    "properties": {
        "metric": {"type": "string", "example": "host_cpu_percent"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "points": {
            "type": "array",
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "example": [1764115200, 42.5]},
        },
        "unit": {"type": "string"},
    },
}
_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["service", "route", "method", "status", "duration_ms"],
    "properties": {
        "service": {"type": "string", "example": "api"},
        "route": {"type": "string", "example": "/v1/campaigns"},
        "method": {"type": "string", "example": "GET"},
        "status": {"type": "integer", "example": 200},
        "duration_ms": {"type": "number", "example": 84.2},
        "ts": {"oneOf": [{"type": "number"}, {"type": "string"}]},
    },
}


def _batch_body(key: str, item_schema: dict) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {
                                    key: {"type": "array", "items": item_schema, "maxItems": 10000}
                                },
                            },
                            {"type": "array", "items": item_schema, "maxItems": 10000},
                        ]
                    }
                }
            },
        }
    }


class WriteResult(Schema):
    written: int


def _ingest(endpoint: str, fn, body: bytes):
    """Decode and write a batch; a refused one answers 4xx and counts as rejected under
    ``endpoint``."""
    try:
        return fn(body)
    except IngestError as exc:
        INGEST_REJECTED.labels(endpoint).inc()
        raise HttpError(exc.status, str(exc)) from exc


@router.post(
    "/samples",
    auth=api_auth("ingest"),
    response={200: WriteResult, 400: ErrorOut, 403: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    openapi_extra=_batch_body("samples", {"oneOf": [_SAMPLE_SCHEMA, _SERIES_SCHEMA]}),
)
def post_samples(request):
    """Store a batch of up to 10,000 samples atomically: all or nothing. Items are single
    samples `{metric, labels, value, ts}` or series-grouped `{metric, labels, points: [[ts, value], ...]}`."""
    return {"written": _ingest("samples", _write_samples_body, request.body)}


def _write_samples_body(body: bytes) -> int:
    return store_samples(decode_samples(body, external=True), source="api")


def _write_requests_body(body: bytes) -> int:
    return store_request_timings(decode_requests(body))


@router.post(
    "/requests",
    auth=api_auth("ingest"),
    response={200: WriteResult, 400: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    openapi_extra=_batch_body("requests", _REQUEST_SCHEMA),
)
def post_requests(request):
    """Store request timings as per-minute latency histograms and 2xx/4xx/5xx counters."""
    return {"written": _ingest("requests", _write_requests_body, request.body)}


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_STEP_SECONDS = 400 * 86400  # the 1-hour rollups' retention: no longer step can mean more


def parse_duration(text: str, field: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise HttpError(400, f"{field}: {text!r} is not a duration like 15s, 1m, 1h or seconds")
    seconds = int(float(match.group(1)) * _UNITS[match.group(2)])
    if seconds > MAX_STEP_SECONDS:
        raise HttpError(400, f"{field}: {text!r} is longer than {MAX_STEP_SECONDS // 86400} days")
    return seconds


def parse_time(text: str | None, field: str, default: datetime) -> datetime:
    if text is None or text == "":
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    try:
        if seconds is not None:
            ts = datetime.fromtimestamp(seconds, UTC)
        else:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
            ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as exc:  # inf, nan, year 10000, bad text
        raise HttpError(400, f"{field}: {text!r} is not unix seconds or ISO 8601") from exc
    if ts.year < 1970:  # nothing is stored before; also keeps "end - 1 hour" in range
        raise HttpError(400, f"{field}: {text!r} is before 1970")
    return ts


def _no_nul(text: str | None, field: str) -> None:
    # Postgres text cannot hold NUL: refuse it here rather than fail in the query.
    if text and "\x00" in text:
        raise HttpError(400, f"{field}: contains a NUL character")


def parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for item in values:
        _no_nul(item, "label")
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise HttpError(400, f"label: {item!r} must look like name=value")
        labels[name] = value
    return labels


class SeriesFilter(Schema):
    name: str | None = None
    label: list[str] = []


def may_read(user, metric: str) -> bool:
    """Reads are gated like the pages that show the metric (collectors.store.catalog)."""
    return any(user_can(user, c) for c in read_capabilities(metric))


def _require_read(user, metric: str) -> None:
    if not may_read(user, metric):
        raise HttpError(
            403,
            f"your role may not read {metric}: it needs "
            + " or ".join(c.replace("_", " ") for c in read_capabilities(metric)),
        )


@router.get("/series", auth=api_auth("read"), response={200: dict, 403: ErrorOut})
def get_series(request, filters: Query[SeriesFilter]):
    """Series by metric name and labels (`label=host=web-1`, repeatable); only metrics your
    role may read (asking for one it may not is a 403)."""
    _no_nul(filters.name, "name")
    if filters.name:
        _require_read(request.user, filters.name)
    found = list_series(name=filters.name, labels=parse_labels(filters.label) or None, limit=1000)
    readable: dict[str, bool] = {}
    found = [s for s in found if readable.setdefault(s.name, may_read(request.user, s.name))]
    return {
        "series": [
            {"id": s.id, "metric": s.name, "labels": s.labels, "unit": s.unit, "kind": s.kind}
            for s in found
        ]
    }


class QueryParams(Schema):
    metric: str
    label: list[str] = []
    start: str | None = None
    end: str | None = None
    step: str = "60"
    agg: str = "avg"
    by: str | None = None


class QueryPoint(Schema):
    labels: dict[str, str]
    unit: str
    points: list[tuple[float, float]]


class QueryOut(Schema):
    metric: str
    agg: str
    step: int
    resolution: str
    start: float
    end: float
    series: list[QueryPoint]


QUERY_DOC = """Points of each matching series, one per step, aggregated with
avg|min|max|sum|last|count|rate|p50|p95|p99|error_ratio.

- `start`, `end`: unix seconds or ISO 8601; the range is **[start, end)**: `start` inclusive,
  `end` exclusive. Defaults: `end` = now, `start` = end − 1 hour.
- `step`: seconds or 15s/1m/1h/1d. Points are aligned to multiples of the step since the Unix
  epoch (UTC); a point is stamped with the start of what it covers, so a first or last point
  clipped by `start` or `end` is stamped inside its step and holds exactly its part of the
  range: the points together always cover [start, end). Data written a moment ago is included
  at every step (rows not yet rolled up are read from finer data). Latency histograms and
  request counters are kept per minute (their steps are whole minutes, their edges exact to
  the minute); where the data a step needs has expired (raw samples after 14 days, minutes
  after 90), the answer's `step` is raised to the next kept resolution.
- `label=name=value` (repeatable) selects series whose labels contain these.
- `by`: absent → one line per series; `by=service,route` → one line per distinct value of
  those labels; `by=` (empty) → every matching series merged into one. Merged series pool their
  samples (avg/min/max/sum/count of all samples; `last` and `rate` add up the series'),
  and latency histograms are merged bucket-wise, so `metric=http_request_duration_ms&
  label=service=api&by=&agg=p95` is the whole service's p95.
- `agg=error_ratio` on `http_requests`: the share (0–1) of requests whose status class is 5xx,
  per line (`status_class` is never a grouping label of it).
- Percentiles of latency histograms are interpolated inside their +19% bucket (at worst −16%
  … +19% of the exact value, typically within ±2%); percentiles of other metrics are exact,
  from raw samples.

Timestamps in the answer are unix seconds.

Reads follow the role table like the pages that show the metric: business figures (`mrr_usd`,
`churn_rate_pct`…) need the executive or customer-success role, customer figures customer
success or operations, IP reputation the reputation view, everything else a technical view;
otherwise 403."""


@router.get(
    "/query",
    auth=api_auth("read"),
    response={200: QueryOut, 400: ErrorOut, 403: ErrorOut},
    description=QUERY_DOC,
)
def get_query(request, params: Query[QueryParams]):
    """Points per step of a metric, per series or merged (see the description)."""
    return HttpResponse(query_body(request.user, params), content_type="application/json")


def query_body(user, params: QueryParams) -> bytes:
    """The JSON answer of GET /api/v1/query for ``user``; HttpError as the endpoint answers
    it (collectors.store.query_wsgi serves the same bytes around the request cycle)."""
    _no_nul(params.metric, "metric")
    _require_read(user, params.metric)
    if params.agg not in AGGREGATIONS:
        raise HttpError(
            400, f"agg: unknown aggregation {params.agg!r}; use one of {', '.join(AGGREGATIONS)}"
        )
    _no_nul(params.by, "by")
    end = parse_time(params.end, "end", datetime.now(UTC))
    start = parse_time(params.start, "start", end - timedelta(hours=1))
    step = parse_duration(params.step, "step")
    by = None
    if params.by is not None:
        by = [name.strip() for name in params.by.split(",") if name.strip()]
    try:
        result = series_query(
            metric=params.metric,
            labels=parse_labels(params.label) or None,
            start=start,
            end=end,
            step=step,
            agg=params.agg,
            by=by,
            as_json=True,
        )
    except QueryError as exc:
        raise HttpError(400, str(exc)) from exc
    # Serialised here with orjson: validating thousands of points through the response schema
    # cost more than the query itself. The schema above documents the same shape. Each line's
    # points are already JSON (orjson.Fragment, see series_query).
    body = {
        "metric": result.metric,
        "agg": result.agg,
        "step": result.step,
        "resolution": result.resolution,
        "start": result.start.timestamp(),
        "end": result.end.timestamp(),
        "series": [{"labels": s.labels, "unit": s.unit, "points": s.points} for s in result.series],
    }
    return orjson.dumps(body)
