"""The Content-Security-Policy header as our middleware sends it (built once, not per
response): the policy the settings describe, on pages and API answers, rebuilt when the
settings change, and a response a csp decorator changes gets its own policy."""

from __future__ import annotations

from csp.constants import NONE, SELF
from django.http import HttpResponse
from django.test import RequestFactory

from penguinmon.middleware import CSPMiddleware


def _directives(header: str) -> dict[str, set[str]]:
    return {
        name: set(values)
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_pages_and_api_answers_carry_the_policy_of_the_settings(client, db):
    page = client.get("/accounts/login/")
    health = client.get("/api/health")
    for response in (page, health):
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == {"'self'"}
        assert policy["style-src"] == {"'self'", "'unsafe-inline'"}
        assert policy["frame-ancestors"] == {"'none'"}
        assert policy["object-src"] == {"'none'"}
    assert "Content-Security-Policy-Report-Only" not in page


def test_a_settings_change_changes_the_header(client, db, settings):
    client.get("/accounts/login/")  # built and kept with the first policy
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [NONE]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": [SELF]}}
    page = client.get("/accounts/login/")
    assert page["Content-Security-Policy"] == "default-src 'none'"
    assert page["Content-Security-Policy-Report-Only"] == "default-src 'self'"


def test_a_decorated_response_gets_its_own_policy_and_the_next_one_the_shared():
    request = RequestFactory().get("/accounts/login/")
    decorated = HttpResponse("<p>embed</p>")
    decorated._csp_update = {"img-src": ["https://tiles.example"]}
    middleware = CSPMiddleware(lambda r: decorated)
    header = middleware(request)["Content-Security-Policy"]
    assert _directives(header)["img-src"] == {"'self'", "data:", "https://tiles.example"}

    plain = CSPMiddleware(lambda r: HttpResponse("<p>plain</p>"))(RequestFactory().get("/"))
    assert "https://tiles.example" not in plain["Content-Security-Policy"]
    assert _directives(plain["Content-Security-Policy"])["img-src"] == {"'self'", "data:"}
