"""Repeat views of /status/ replayed by the WSGI wrapper: same headers as the full stack,
never for a request with cookies, and dropped when an update is posted."""

from __future__ import annotations

import pytest

from tests.incidents.conftest import open_public_incident
from tests.support.wsgi import wsgi_get


@pytest.mark.django_db(transaction=True)
def test_repeat_views_replay_the_full_stacks_response(component, internal_service, make_user):
    first = wsgi_get("/status/")
    assert first[0].startswith("200")
    assert first[1]["X-Content-Type-Options"] == "nosniff"  # set by middleware
    again = wsgi_get("/status/")
    assert again == first
    zipped = wsgi_get("/status/", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped[1]["Content-Encoding"] == "gzip" and zipped[2] != first[2]

    user = make_user("on-call")
    open_public_incident(user, internal_service, message="Delays", public_title="Email delays")
    assert b"Email delays" in wsgi_get("/status/")[2]


@pytest.mark.django_db(transaction=True)
def test_requests_with_cookies_go_through_django(component):
    wsgi_get("/status/")
    status, headers, _ = wsgi_get("/status/", HTTP_COOKIE="sessionid=nonsense")
    assert status.startswith("200")
    from incidents.status_page import _responses

    assert set(_responses) == {("/status/", False)}
