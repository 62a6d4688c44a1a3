"""POST /api/v1/samples decoded in one typed pass (collectors/store/json_ingest.py): whatever
the old parse-then-check path refused is still refused with the same status and a message
naming the item and field; the input floor holds (control characters, wide integers); and
the fast path agrees with the reference validator on every body, valid or not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collectors.store import IngestError
from collectors.store.ingest import fold_request_timings, validate_samples
from collectors.store.json_ingest import (
    _decode_requests,
    _decode_samples,
    _fast,
    _fast_requests,
    decode_requests,
    decode_samples,
    parse_body,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _stored(metric: str) -> list[tuple[dict, datetime, float]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT s.labels, x.ts, x.value FROM collectors_sample x "
            "JOIN collectors_series s ON s.id = x.series_id WHERE s.name = %s ORDER BY x.ts",
            [metric],
        )
        return [(json.loads(labels), ts, value) for labels, ts, value in cur.fetchall()]


def _refusal(api, body) -> tuple[int, str]:
    raw = body if isinstance(body, str) else json.dumps(body)
    resp = api.post("/api/v1/samples", raw=raw)
    return resp.status_code, resp.json()["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("item", "status", "error"),
    [
        ({"value": True}, 422, "samples[0].value: must be a number, got bool"),
        ({"value": "1"}, 422, "samples[0].value: must be a number, got str"),
        ({"value": None}, 422, "samples[0].value: must be a number, got NoneType"),
        ({"ts": True}, 422, "samples[0].ts: must be unix seconds or an ISO 8601 string"),
        ({"ts": [1]}, 422, "samples[0].ts: must be unix seconds or an ISO 8601 string"),
        ({"metric": 7}, 422, "samples[0].metric: must be a metric name matching"),
        ({"metric": "bad name"}, 422, "samples[0].metric: must be a metric name matching"),
        ({"labels": "host=a"}, 422, "samples[0].labels: must be an object of string values"),
        ({"labels": {"host": 1}}, 422, "samples[0].labels: label 'host' must be a string"),
        ({"labels": {"1x": "a"}}, 422, "samples[0].labels: label name '1x' must match"),
        ({"labels": {"h": "x" * 201}}, 422, "samples[0].labels: label 'h' must be a string of"),
        (
            {"labels": {f"l{i}": "v" for i in range(17)}},
            422,
            "samples[0].labels: 17 labels exceed the limit of 16",
        ),
        ({"unit": 5}, 422, "samples[0].unit: must be a string of at most 32 characters"),
        ({"unit": "u" * 33}, 422, "samples[0].unit: must be a string of at most 32 characters"),
        ({"points": [[1]]}, 422, "samples[0].points[0]: must be a [ts, value] pair"),
        ({"points": {"a": 1}}, 422, "samples[0].points: must be a list of [ts, value] pairs"),
        ({"points": [[None, "x"]]}, 422, "samples[0].points[0].value: must be a number, got str"),
        ({"metric": "probe_up"}, 403, "samples[0].metric: probe_up is written only by"),
        # NUL and the other control characters: the input floor, naming the field.
        ({"labels": {"host": "a\x00b"}}, 422, "samples[0].labels: label 'host' contains a NUL"),
        (
            {"labels": {"host": "a\x1bb"}},
            422,
            "samples[0].labels: label 'host' contains the control character U+001B",
        ),
        ({"unit": "m\x00s"}, 422, "samples[0].unit: must be a string of at most 32 characters"),
        ({"unit": "m\x07s"}, 422, "samples[0].unit: contains the control character U+0007"),
        # Integers: a timestamp wider than any clock is out of range, naming the field.
        ({"ts": 10**30}, 422, "samples[0].ts: unix time 1e+30 is out of range"),
        ({"ts": -(10**20)}, 422, "samples[0].ts: unix time -1e+20 is out of range"),
        ({"ts": "0308-01-01T00:00:00Z"}, 422, "samples[0].ts: 0308-01-01T00:00:00+00:00 is older"),
    ],
)
def test_a_refused_item_names_its_field_and_nothing_is_written(api, item, status, error):
    good = {"metric": "json_ok", "value": 1}
    code, message = _refusal(api, {"samples": [good, {"metric": "json_bad", "value": 2} | item]})
    assert code == status
    assert message.startswith(error.replace("samples[0]", "samples[1]")), message
    assert _stored("json_ok") == [] and _stored("json_bad") == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('[{"metric": "m", "value": 1e400}]', "malformed JSON: number is infinity"),
        ('[{"metric": "m", "value": 1%s}]' % ("0" * 400), "malformed JSON"),
        ('[{"metric": "m", "value": 1, "ts": 1%s}]' % ("0" * 400), "malformed JSON"),
        ('[{"metric": "m", "value": 1, "labels": {"a": "\\ud800"}}]', "malformed JSON"),
        ('[{"metric": "m", "value": 1}] []', "malformed JSON"),
        ('{"samples": {"metric": "m", "value": 1}}', "expected a JSON list of samples"),
    ],
)
def test_json_no_number_or_string_can_hold_is_a_400(api, raw, fragment):
    code, message = _refusal(api, raw)
    assert code == 400
    assert fragment in message


@pytest.mark.django_db(transaction=True)
def test_invalid_utf8_inside_labels_is_a_400(api, client):
    body = b'[{"metric": "m", "value": 1, "labels": {"a": "\xff"}}]'
    resp = client.post(
        "/api/v1/samples", body, content_type="application/json", headers=api.headers
    )
    assert resp.status_code == 400
    assert "malformed JSON" in resp.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_what_the_decoder_accepts_is_stored_as_sent(api):
    now = int(datetime.now(UTC).timestamp())
    iso = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
    body = {
        "samples": [
            # Unknown fields are ignored (clients may send more than is read).
            {"metric": "json_m", "labels": {"host": "a"}, "value": 1, "ts": now - 60, "x": [1]},
            # A wide integer value is a double like any other (the column is float8).
            {"metric": "json_m", "labels": {"host": "b"}, "value": 10**30, "ts": now - 60},
            {"metric": "json_m", "labels": {"host": "c"}, "value": 2.5, "ts": iso.isoformat()},
            # Tab, newline and carriage return stay allowed in label values.
            {"metric": "json_m", "labels": {"host": "d\te"}, "value": 3, "ts": now - 60.5},
            # The series form ignores value and ts, whatever their type.
            {
                "metric": "json_m",
                "labels": {"host": "f"},
                "points": [[now - 120, 4], [now - 60, 5]],
                "value": "ignored",
            },
        ]
    }
    resp = api.post("/api/v1/samples", body)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"written": 6}
    stored = {(labels["host"], ts.timestamp(), value) for labels, ts, value in _stored("json_m")}
    assert stored == {
        ("a", now - 60, 1.0),
        ("b", now - 60, 1e30),
        ("c", iso.timestamp(), 2.5),
        ("d\te", now - 60.5, 3.0),
        ("f", now - 120, 4.0),
        ("f", now - 60, 5.0),
    }


@pytest.mark.django_db(transaction=True)
def test_a_sample_without_ts_is_stamped_now(api):
    before = datetime.now(UTC)
    assert api.post("/api/v1/samples", [{"metric": "json_now", "value": 1}]).status_code == 200
    [(_, ts, value)] = _stored("json_now")
    assert before - timedelta(seconds=1) <= ts <= datetime.now(UTC) and value == 1.0


# The fast path must agree with the reference validator (validate_samples over orjson, plus
# the input floor) on every body: the same answer, or the same refusal word for word.


def _reference(body: bytes):
    try:
        items = parse_body(body, "samples")
        found = validate_samples(items, now=NOW, external=True)
        for i, item in enumerate(items):
            labels, unit = item.get("labels"), item.get("unit")
            if isinstance(labels, dict):
                for name, value in labels.items():
                    if isinstance(value, str) and any(
                        c in value for c in "\x01\x07\x1b\x7f"
                    ):  # the generator's only control characters besides NUL
                        bad = next(c for c in value if c in "\x01\x07\x1b\x7f")
                        raise IngestError(
                            f"label {name!r} contains the control character U+{ord(bad):04X}",
                            index=i,
                            field="labels",
                        )
            if isinstance(unit, str) and any(c in unit for c in "\x01\x07\x1b\x7f"):
                bad = next(c for c in unit if c in "\x01\x07\x1b\x7f")
                raise IngestError(
                    f"contains the control character U+{ord(bad):04X}", index=i, field="unit"
                )
        return found
    except IngestError as exc:
        return (exc.status, str(exc))


def _answer(body: bytes):
    try:
        return decode_samples(body, now=NOW, external=True)
    except IngestError as exc:
        return (exc.status, str(exc))


NOW_S = NOW.timestamp()
_text = st.sampled_from(["a", "web-1", "", "x" * 201, "a\x00", "b\x1b", "c\t", "é"])
_stamp = st.one_of(
    st.integers(int(NOW_S) - 86400, int(NOW_S)),
    st.floats(NOW_S - 86400, NOW_S),
    st.sampled_from(
        [None, True, "2026-11-20T11:00:00Z", "yesterday", NOW_S + 3600, 0, 10**25, -1.5]
    ),
)
_value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**20), 10**20),
    st.sampled_from([None, True, "1", [1]]),
)
_labels = st.one_of(
    st.dictionaries(st.sampled_from(["host", "dc", "1x", "le"]), _text, max_size=3),
    st.dictionaries(st.sampled_from(["host", "dc"]), st.integers(0, 3), max_size=2),
    st.sampled_from([None, {}, [], "host", 0, [1]]),
)
_ANY = {
    "metric": st.sampled_from(["json_a", "json_b", "probe_up", "bad name", 3]),
    "labels": _labels,
    "value": _value,
    "ts": _stamp,
    "unit": st.sampled_from(["ms", "", "u" * 33, "m\x07", 4, None]),
    "points": st.one_of(
        st.lists(st.tuples(_stamp, _value).map(list), max_size=4),
        st.sampled_from([[[1]], {"a": 1}, None]),
    ),
    "extra": st.just({"ignored": True}),
}
_item = st.fixed_dictionaries(
    {"metric": _ANY["metric"]}, optional={k: v for k, v in _ANY.items() if k != "metric"}
)
# Stamps inside the window mostly; a few just outside it (14 days back, 10 minutes ahead).
_good_stamp = st.one_of(
    st.integers(int(NOW_S) - 86400, int(NOW_S)),
    st.floats(NOW_S - 15 * 86400, NOW_S + 1200),
    st.none(),
)
_good_item = st.fixed_dictionaries(
    {"metric": st.sampled_from(["json_a", "json_b"])},
    optional={
        "labels": st.dictionaries(
            st.sampled_from(["host", "dc"]), st.sampled_from(["a", "b", "c\t"]), max_size=2
        ),
        "value": st.floats(allow_nan=False, allow_infinity=False),
        "ts": _good_stamp,
        "unit": st.sampled_from(["ms", "", "%"]),
        "points": st.lists(
            st.tuples(_good_stamp.filter(lambda ts: ts is not None), st.integers(-5, 5)).map(list),
            max_size=3,
        ),
    },
).filter(lambda item: "value" in item or "points" in item)


@st.composite
def _body(draw):
    """Mostly well-formed batches (the fast path's answers must match), some with one
    item that may be anything (its refusals must match)."""
    items = draw(st.lists(_good_item, min_size=1, max_size=6))
    if draw(st.integers(0, 3)):
        # One field of one item replaced by anything (of any type) it could hold.
        i = draw(st.integers(0, len(items) - 1))
        field = draw(st.sampled_from(sorted(_ANY)))
        items[i] = items[i] | {field: draw(_ANY[field])}
    elif draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), draw(_item))
    return {"samples": items} if draw(st.booleans()) else items


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_body())
@example([{"metric": "json_a", "value": 1, "labels": {"1x": "a"}}])
@example([{"metric": "json_a", "value": 1, "labels": {"h": "a"}, "ts": NOW_S + 601}])
@example([{"metric": "json_a", "value": 1, "ts": NOW_S - 14 * 86400 - 1}])
@example([{"metric": "json_a", "points": [[NOW_S + 601, 1]]}])
@example([{"metric": "json_a", "value": 1, "unit": "ms"}, {"metric": "json_a", "value": 2}])
@example([{"metric": "json_a", "value": 1}, {"metric": "json_a", "value": 2, "unit": "ms"}])
@example(
    [
        {"metric": "json_a", "value": 1, "labels": {"b": "1", "a": "2"}, "unit": "%"},
        {"metric": "json_a", "value": 1, "labels": {"a": "2", "b": "1"}, "unit": "ms"},
    ]
)
@example([{"metric": "json_a", "value": 1, "ts": 10**25}])
@example([{"metric": "json_a", "value": 1, "ts": None}, {"metric": "json_b", "value": 1}])
def test_the_fast_path_answers_as_the_reference_validator(body):
    raw = json.dumps(body).encode()  # json, not orjson: integers wider than 64 bits too
    assert _answer(raw) == _reference(raw)


def test_ordinary_batches_take_the_fast_path():
    stamps = [NOW_S - 60 * k for k in range(50)]
    flat = [
        {"metric": "json_a", "labels": {"host": f"h{s}"}, "value": s + k, "ts": ts}
        for s in range(20)
        for k, ts in enumerate(stamps)
    ]
    bodies = [
        flat,
        {"samples": flat},
        [{"metric": "json_a", "value": 1}, {"metric": "json_b", "value": 2, "unit": "ms"}],
        [{"metric": "json_a", "labels": {"h": "a"}, "points": [[t, 1.5] for t in stamps]}] * 3,
        [{"metric": "json_a", "value": 1, "ts": int(NOW_S)}, {"metric": "json_a", "points": []}],
    ]
    for body in bodies:
        raw = orjson.dumps(body)
        batch = _decode_samples(raw)
        items = batch.samples if isinstance(body, dict) else batch
        found = _fast(items, NOW, True)
        assert found is not None, body
        assert found == _reference(raw)


# POST /api/v1/requests: the same decoder, the same agreement with the reference.


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"service": ""}, "requests[1].service: must be a non-empty string of at most 200"),
        ({"service": 5}, "requests[1].service: must be a non-empty string of at most 200"),
        ({"route": "r" * 201}, "requests[1].route: must be a non-empty string of at most 200"),
        ({"method": "GETGETGETGETGETGE"}, "requests[1].method: must be a non-empty string"),
        ({"status": True}, "requests[1].status: must be an HTTP status code (100-599)"),
        ({"status": 200.0}, "requests[1].status: must be an HTTP status code (100-599)"),
        ({"status": 10**30}, "requests[1].status: must be an HTTP status code (100-599)"),
        ({"duration_ms": -1}, "requests[1].duration_ms: must be a number of milliseconds"),
        ({"duration_ms": "5"}, "requests[1].duration_ms: must be a number of milliseconds"),
        ({"ts": "soon"}, "requests[1].ts: 'soon' is not an ISO 8601 time or unix seconds"),
        ({"service": "a\x00"}, "requests[1].service: must be a non-empty string of at most 200"),
        ({"route": "/a\x1b"}, "requests[1].route: contains the control character U+001B"),
    ],
)
def test_a_refused_request_timing_names_its_field_and_nothing_is_written(api, change, error):
    good = {"service": "jsvc", "route": "/", "method": "GET", "status": 200, "duration_ms": 5}
    resp = api.post("/api/v1/requests", {"requests": [good, good | change]})
    assert resp.status_code == 422
    assert resp.json()["error"].startswith(error), resp.json()
    assert _stored("http_requests") == []


@pytest.mark.django_db(transaction=True)
def test_request_timings_are_folded_per_minute(api):
    minute = (datetime.now(UTC) - timedelta(minutes=5)).replace(second=0, microsecond=0)
    at = minute.timestamp()
    items = [
        {"service": "jsvc", "route": "/a", "method": "get", "status": 200, "duration_ms": 10},
        {"service": "jsvc", "route": "/a", "method": "GET", "status": 201, "duration_ms": 30.5},
        {"service": "jsvc", "route": "/a", "method": "GET", "status": 503, "duration_ms": 1},
    ]
    stamps = [at + 0.25, at + 59.9999999, at + 59]  # the second one rounds to the next minute
    body = [item | {"ts": ts, "extra": 1} for item, ts in zip(items, stamps, strict=True)]
    resp = api.post("/api/v1/requests", body)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"written": 3}
    counted = {
        (labels["status_class"], ts, value) for labels, ts, value in _stored("http_requests")
    }
    assert counted == {
        ("2xx", minute, 1.0),
        ("2xx", minute + timedelta(minutes=1), 1.0),
        ("5xx", minute, 1.0),
    }


REQUEST = {"service": "s", "route": "/", "method": "GET", "status": 200, "duration_ms": 1}
_REQ_ANY = {
    "service": st.sampled_from(["api", "", "x" * 201, "a\x00", "b\x1b", 3]),
    "route": st.sampled_from(["/", "/v1/x", "r\t"]),
    "method": st.sampled_from(["GET", "post", "ß" * 9, "x" * 17, None]),
    "status": st.one_of(st.integers(0, 700), st.sampled_from([True, 200.0, 10**20])),
    "duration_ms": st.one_of(
        st.floats(-1, 90_000_000), st.integers(-1, 100), st.sampled_from([True, "1", None])
    ),
    "ts": _stamp,
    "extra": st.just([1]),
}
_good_request = st.fixed_dictionaries(
    {
        "service": st.sampled_from(["api", "web"]),
        "route": st.sampled_from(["/", "/v1/x"]),
        "method": st.sampled_from(["GET", "get", "POST"]),
        "status": st.sampled_from([200, 204, 404, 500, 503]),
        "duration_ms": st.one_of(st.floats(0, 10_000), st.integers(0, 1000)),
    },
    optional={"ts": _good_stamp},
)


@st.composite
def _requests_body(draw):
    items = draw(st.lists(_good_request, min_size=1, max_size=6))
    if draw(st.integers(0, 2)):
        i = draw(st.integers(0, len(items) - 1))
        field = draw(st.sampled_from(sorted(_REQ_ANY)))
        items[i] = items[i] | {field: draw(_REQ_ANY[field])}
    return {"requests": items} if draw(st.booleans()) else items


def _fold_answer(decode, body: bytes):
    try:
        fold = decode(body)
        return (fold.hist, fold.counts, fold.wanted, fold.requests)
    except IngestError as exc:
        return (exc.status, str(exc))


def _request_reference(body: bytes):
    items = parse_body(body, "requests")
    fold = fold_request_timings(items, now=NOW)
    for i, item in enumerate(items):
        for name in ("service", "route", "method"):
            bad = [c for c in item[name] if c in "\x1b"]
            if bad:
                raise IngestError(
                    f"contains the control character U+{ord(bad[0]):04X}",
                    index=i,
                    field=name,
                    collection="requests",
                )
    return fold


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_requests_body())
@example([REQUEST | {"ts": NOW_S - 0.0000001}])
@example([REQUEST | {"ts": NOW_S - 60.0000004}, REQUEST | {"ts": NOW_S - 59.9999996}])
@example([REQUEST | {"ts": NOW_S + 600}, REQUEST | {"ts": NOW_S - 14 * 86400}])
@example([REQUEST | {"ts": NOW_S + 600.2}])
@example([REQUEST | {"ts": NOW_S - 14 * 86400 - 0.2}])
@example([REQUEST, REQUEST | {"method": "get", "status": 503}])
def test_the_fast_request_path_answers_as_the_reference(body):
    raw = json.dumps(body).encode()
    expected = _fold_answer(_request_reference, raw)
    assert _fold_answer(lambda b: decode_requests(b, now=NOW), raw) == expected


def test_ordinary_request_batches_take_the_fast_path():
    body = [
        REQUEST | {"route": f"/r{i % 7}", "status": 200 + i % 3 * 150, "ts": NOW_S - i * 1.37}
        for i in range(500)
    ]
    items = _decode_requests(orjson.dumps(body))
    fold = _fast_requests(items, NOW)
    assert fold is not None
    reference = _request_reference(orjson.dumps(body))
    assert (fold.hist, fold.counts, fold.wanted) == (
        reference.hist,
        reference.counts,
        reference.wanted,
    )
