"""Repeat views of /status/ replayed by the WSGI wrapper: same headers as the full stack,
never for a request with cookies, and dropped when an update is posted."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest

from penguinmon.wsgi import application
from tests.incidents.conftest import open_public_incident


def _get(path: str, **extra) -> tuple[str, dict, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(b"")}
    environ.update(extra)
    setup_testing_defaults(environ)
    environ["HTTP_HOST"] = "127.0.0.1"
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], body


@pytest.mark.django_db(transaction=True)
def test_repeat_views_replay_the_full_stacks_response(component, internal_service, make_user):
    first = _get("/status/")
    assert first[0].startswith("200")
    assert first[1]["X-Content-Type-Options"] == "nosniff"  # set by middleware
    again = _get("/status/")
    assert again == first
    zipped = _get("/status/", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped[1]["Content-Encoding"] == "gzip" and zipped[2] != first[2]

    user = make_user("on-call")
    open_public_incident(user, internal_service, message="Delays", public_title="Email delays")
    assert b"Email delays" in _get("/status/")[2]


@pytest.mark.django_db(transaction=True)
def test_requests_with_cookies_go_through_django(component):
    _get("/status/")
    status, headers, _ = _get("/status/", HTTP_COOKIE="sessionid=nonsense")
    assert status.startswith("200")
    from incidents.status_page import _responses

    assert set(_responses) == {("/status/", False)}
