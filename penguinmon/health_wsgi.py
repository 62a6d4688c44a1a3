"""GET /api/health answered by the worker around Django's request cycle.

Load balancers and orchestrators probe readiness many times a second, and the checks (one
SELECT 1 and one Redis PING, penguinmon.health) were a small part of what a probe cost: the
middleware chain, the URL resolver and ninja took the rest. The first probe per worker and
per host and scheme goes through the whole stack as usual; the headers it left (security
headers and CSP, after Django validated the Host) are kept, and later probes with the same
host and scheme run the same checks, for real, and answer with those headers and the body the
API view would render. A probe with a query string or a cookie, or another method, goes
through Django; so does every answer Django gave that was neither 200 nor 503.
"""

from __future__ import annotations

import orjson

from penguinmon.api_schemas import JSON_OPTIONS
from penguinmon.health import readiness
from penguinmon.wsgi_headers import ReplayedHeaders

PATH = "/api/health"
STATUS = {200: "200 OK", 503: "503 Service Unavailable"}


class HealthFastPath:
    def __init__(self, app) -> None:
        self.app = app
        self.headers = ReplayedHeaders(frozenset(STATUS))

    def __call__(self, environ, start_response):
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_COOKIE")
        ):
            return self.app(environ, start_response)
        headers = self.headers.get(environ)
        if headers is None:
            return self.app(environ, self.headers.capturing(environ, start_response))
        body, status = readiness()
        content = orjson.dumps(body, option=JSON_OPTIONS)
        start_response(STATUS[status], [*headers, ("Content-Length", str(len(content)))])
        return [content]
