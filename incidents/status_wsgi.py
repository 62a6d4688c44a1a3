"""Repeat views of the public status page answered by the worker from memory.

A traffic spike during an outage sends thousands of identical anonymous GETs. The first one
in each second (per worker and per encoding) goes through Django's whole stack as usual, and
the response it produced, headers included, exactly as the middleware left them, is replayed
for the others until the second is over. Within the page's own cache period (Redis, ≤ 15 s)
this adds at most one second, and posting an update clears this worker's copies at once.
Responses that set a cookie or are not 200 are never replayed.
"""

from __future__ import annotations

import time

from incidents.status_page import LOCAL_SECONDS, _responses, cache_seconds

PATHS = frozenset({"/status/", "/status/summary.json", "/status/feed.atom"})


class StatusPageFastPath:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (
            path not in PATHS
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_COOKIE")  # a logged-in user's view goes through Django
        ):
            return self.app(environ, start_response)
        key = (path, "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""))
        hit = _responses.get(key)
        if hit is not None and hit[0] > time.monotonic():
            start_response(hit[1], list(hit[2]))
            return [hit[3]]
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = captured
        if status.startswith("200") and not any(k.lower() == "set-cookie" for k, _ in headers):
            until = time.monotonic() + min(LOCAL_SECONDS, cache_seconds())
            _responses[key] = (until, status, tuple(headers), body)
        return [body]
