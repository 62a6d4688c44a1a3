"""GET /api/v1/query answered around Django's request cycle (collectors.store.query_wsgi):
the same bytes and headers as the endpoint, and every request the endpoint would refuse,
or that needs a session, still answered by Django."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.core.wsgi import get_wsgi_application

from collectors.store.query_wsgi import QueryFastPath
from penguinmon.models import ApiToken, hash_token
from tests.support.wsgi import wsgi_get

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


DJANGO = get_wsgi_application()


class _Django:
    """Django's whole stack, as the fast path wraps it, counting the requests it answers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return DJANGO(environ, start_response)


@pytest.fixture
def fast():
    return QueryFastPath(_Django())


def _get(app, token: str | None, host: str = "127.0.0.1", **params) -> tuple[str, dict, bytes]:
    query = urlencode({"step": "1m", **params}, doseq=True)
    extra = {"QUERY_STRING": query}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return wsgi_get("/api/v1/query", host, app=app, **extra)


@pytest.fixture
def samples(api):
    start = NOW - timedelta(hours=2)
    items = [
        {"metric": "fp_load", "labels": {"host": h}, "value": i % 7 + n, "ts": ts}
        for n, h in enumerate(("a", "b"))
        for i in range(240)
        for ts in [(start + timedelta(seconds=30 * i)).timestamp()]
    ]
    items.append({"metric": "mrr_usd", "labels": {}, "value": 1000.0, "ts": NOW.timestamp() - 60})
    assert api.post("/api/v1/samples", items).status_code == 200
    return int(start.timestamp()) + 17, int(NOW.timestamp()) - 5


QUERIES = [
    {"metric": "fp_load", "label": "host=a"},
    {"metric": "fp_load", "label": ["host=a"], "agg": "max", "step": "5m"},
    {"metric": "fp_load", "by": ""},
    {"metric": "fp_load", "by": "host", "agg": "count"},
    {"metric": "fp_load"},
    {"metric": "fp_load", "label": "host=nowhere"},
    {"metric": "fp_load", "label": "host=b", "agg": "rate", "unknown": "ignored"},
]


def test_the_fast_answer_is_the_endpoints_answer(fast, make_token, samples):
    token = make_token("read")
    start, end = samples
    for params in QUERIES:
        params = {"start": start, "end": end, **params}
        django = _get(DJANGO, token, **params)
        assert django[0] == "200 OK", django[2]
        first = _get(fast, token, **params)  # the first of its Host goes through Django
        second = _get(fast, token, **params)
        assert first == django == second, params
        assert json.loads(second[2])["series"] or params.get("label") == "host=nowhere"
    assert fast.app.calls == 1  # only the very first request of this Host went to Django


def test_the_token_is_marked_used_by_a_fast_answer(fast, make_token, samples):
    start, end = samples
    _get(fast, make_token("read"), metric="fp_load", start=start, end=end)  # Django, headers kept
    token = make_token("read")
    assert _get(fast, token, metric="fp_load", start=start, end=end)[0] == "200 OK"
    assert fast.app.calls == 1
    assert ApiToken.objects.get(token_hash=hash_token(token)).last_used_at is not None


def test_what_the_endpoint_refuses_is_answered_by_django(fast, make_token, make_user, samples):
    token = make_token("read")
    start, end = samples
    assert _get(fast, token, metric="fp_load", start=start, end=end)[0] == "200 OK"
    assert fast.app.calls == 1
    revoked = make_token("read")
    ApiToken.objects.filter(token_hash=hash_token(revoked)).update(revoked_at=NOW)
    refused = [
        (None, {"metric": "fp_load"}, "401"),  # no token (no Bearer header)
        ("not-a-token", {"metric": "fp_load"}, "401"),
        (revoked, {"metric": "fp_load"}, "401"),
        (make_token("ingest"), {"metric": "fp_load"}, "403"),  # no read scope
        (make_token("read", user=make_user("development")), {"metric": "mrr_usd"}, "403"),
        (token, {"metric": "fp_load", "agg": "median"}, "400"),
        (token, {"metric": "fp_load", "step": "0"}, "400"),
        (token, {"metric": "fp_load", "start": "yesterday"}, "400"),
        (token, {"metric": "fp_load", "label": "host\x00=a"}, "422"),
        (token, {}, "422"),  # metric is required
    ]
    for n, (tok, params, status) in enumerate(refused, start=2):
        got = _get(fast, tok, **params)
        assert got[0].startswith(status), (params, got)
        assert json.loads(got[2])["error"]
        assert fast.app.calls == n, params  # Django answered it
    # A parameter given twice: Django reads it as ninja does (the last one).
    twice = _get(fast, token, metric=["mrr_usd", "fp_load"], start=start, end=end)
    assert fast.app.calls == len(refused) + 2
    assert twice == _get(fast, token, metric="fp_load", start=start, end=end)


def test_a_session_or_another_host_goes_through_django(fast, make_token, samples):
    token = make_token("read")
    start, end = samples
    assert _get(fast, token, metric="fp_load", start=start, end=end)[0] == "200 OK"
    status, _, _ = wsgi_get(
        "/api/v1/query",
        app=fast,
        QUERY_STRING=urlencode({"metric": "fp_load"}),
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_COOKIE="sessionid=x",
    )
    assert status == "200 OK"
    assert fast.app.calls == 2
    assert _get(fast, token, host="evil.example", metric="fp_load")[0].startswith("400")
    assert fast.app.calls == 3
