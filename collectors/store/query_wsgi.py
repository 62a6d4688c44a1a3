"""GET /api/v1/query answered around Django's request cycle when it succeeds.

Scripts and dashboards poll the query API, and for its common question (one series, 24 hours
at 1 minute) Django's part of a request, the middleware chain, the URL resolver and ninja's
parameter and auth handling, cost as much as a third of the answer: in-process, 1.9-2.2 ms
through Django against 1.5 ms for the same token check, query and body (bench dataset,
benchmarks/bench_query.py). This wrapper answers the request itself when all of these hold:

- a GET of /api/v1/query with ``Authorization: Bearer …`` and no cookie (a browser session
  goes through Django, with its CSRF and session handling);
- its Host and scheme were answered 200 by Django before, so the Host is allowed and the
  security headers and CSP are the ones the middleware set (``penguinmon.wsgi_headers``);
- its query string passes the API's input floor (``ApiInputGuardMiddleware``'s check) and the
  endpoint's ``QueryParams`` schema, read as ninja reads it, each single-valued parameter
  given once;
- the token is active and has the read scope (``token_for``: marked used, its address
  counted), and the user's role may read the metric;
- the query succeeds.

The body is the endpoint's own (``api.query_body``). Anything else, failures included, goes
through Django, which answers it as it always does (401, 403, 400, 422, 503, a logged 500):
work done twice on a refused request, never a second definition of a refusal. Django's
request_started and request_finished signals are sent around the fast answer, so persistent
database connections are checked and recycled as for any request.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.http import QueryDict
from ninja.errors import HttpError
from pydantic import ValidationError

from collectors.store.api import QueryParams, query_body
from penguinmon.api_auth import token_for
from penguinmon.middleware import InputRefused, check_query
from penguinmon.wsgi_headers import ReplayedHeaders

log = logging.getLogger(__name__)

PATH = "/api/v1/query"
BEARER = "Bearer "
LISTS = frozenset({"label"})  # the schema's list fields; the others take one value
FIELDS = frozenset(QueryParams.model_fields)


class QueryFastPath:
    def __init__(self, app) -> None:
        self.app = app
        self.headers = ReplayedHeaders(frozenset({200}))

    def __call__(self, environ, start_response):
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("HTTP_COOKIE")
            or not environ.get("HTTP_AUTHORIZATION", "").startswith(BEARER)
            or settings.DISALLOWED_USER_AGENTS  # CommonMiddleware would check the agent
        ):
            return self.app(environ, start_response)
        headers = self.headers.get(environ)
        if headers is None:
            return self.app(environ, self.headers.capturing(environ, start_response))
        request_started.send(sender=self.__class__, environ=environ)
        try:
            body = _answer(environ)
        except Exception:  # noqa: BLE001 - Django answers the request as it always does
            log.warning("query fast path failed; Django answers the request", exc_info=True)
            body = None
        finally:
            request_finished.send(sender=self.__class__)
        if body is None:
            return self.app(environ, start_response)
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _answer(environ: dict) -> bytes | None:
    """The endpoint's body, or None where Django must answer (a refusal)."""
    query = QueryDict(environ.get("QUERY_STRING", ""))
    try:
        check_query(query)
    except InputRefused:
        return None
    data = {}
    for key, values in query.lists():
        if key in LISTS:
            data[key] = values
        elif len(values) > 1:
            return None
        elif key in FIELDS:
            data[key] = values[0]
    try:
        params = QueryParams.model_validate(data)
        token = token_for(environ["HTTP_AUTHORIZATION"][len(BEARER) :], "read", _Request(environ))
        if token is None:
            return None
        return query_body(token.user, params)
    except (ValidationError, HttpError):
        return None


class _Request(SimpleNamespace):
    """What ``token_for`` reads of a request: its WSGI environ as META, for the address."""

    def __init__(self, environ: dict) -> None:
        super().__init__(META=environ)
