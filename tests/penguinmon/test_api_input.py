"""Input no field can hold is refused with a 422 naming the field, never a 500: NUL and
control characters, integers wider than 64 bits, NaN, dates outside 1970–2999, nulls where a
value is required; an unknown API path answers JSON too."""

from __future__ import annotations

import json

import pytest

from collectors.models import Service


def _post(client, token, path, body, method="post"):
    return getattr(client, method)(
        path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def token(make_token):
    return make_token("read", "ingest", "write")


def test_a_pid_wider_than_64_bits_is_refused(client, token):
    snapshot = {
        "memory_percent": 10,
        "process_count": 3,
        "top_cpu": [{"pid": 10**20, "name": "x", "cpu_percent": 1}],
    }
    resp = _post(client, token, "/api/v1/hosts/web-1/snapshot", snapshot)
    assert resp.status_code == 422
    assert resp.json()["error"] == (
        "body.top_cpu[0].pid: integer out of range (at most 9223372036854775807)"
    )
    assert (
        client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_a_nul_in_a_silence_comment_is_refused_naming_the_field(client, token):
    resp = _post(
        client, token, "/api/v1/silences", {"matchers": {"service": "smtp"}, "comment": "a\u0000b"}
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "body.comment: contains the control character U+0000"


def test_a_control_character_in_a_query_is_refused(client, token):
    resp = client.get(
        "/api/v1/alerts", {"service": "smtp\x1b"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "query.service: contains the control character U+001B"


def test_a_year_0308_date_is_refused(client, token):
    resp = _post(
        client,
        token,
        "/api/v1/deployments",
        {"service": "api", "version": "1", "commit_at": "0308-01-01T00:00:00Z"},
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "body.commit_at: dates must fall between 1970 and 2999"


def test_a_null_threshold_is_refused_and_nothing_changes(client, token):
    Service.objects.get_or_create(name="fuzzed", defaults={"display_name": "F", "kind": "http"})
    resp = _post(
        client, token, "/api/v1/services/fuzzed", {"down_after_failures": None}, method="patch"
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "down_after_failures: may not be null"
    assert Service.objects.get(name="fuzzed").down_after_failures == 3


def test_an_unknown_api_path_answers_json(client, token):
    resp = client.get("/api/v1/deployments/true", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404
    assert resp["Content-Type"] == "application/json"
    assert resp.json() == {"error": "not found: no API route or object matches this path"}


def test_a_body_over_the_upload_limit_is_a_json_413(api, settings):
    # Found by the API fuzzer: Django's RequestDataTooBig surfaced as a 500.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    resp = api.post("/api/v1/requests", raw="[" + ",".join(["{}"] * 600) + "]")
    assert resp.status_code == 413
    assert "larger than 1,000 bytes" in resp.json()["error"]
