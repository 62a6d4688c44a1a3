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

PATH = "/api/health"
STATUS = {200: "200 OK", 503: "503 Service Unavailable"}
# What Django reads to validate the host and to decide the scheme-dependent headers (HSTS).
KEY = (
    "HTTP_HOST",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "wsgi.url_scheme",
    "SERVER_NAME",
    "SERVER_PORT",
)
MAX_KEYS = 64  # different Host headers a worker remembers (a scanner may send many)


class HealthFastPath:
    def __init__(self, app) -> None:
        self.app = app
        self.headers: dict[tuple, tuple[tuple[str, str], ...]] = {}

    def __call__(self, environ, start_response):
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_COOKIE")
        ):
            return self.app(environ, start_response)
        key = tuple(environ.get(name) for name in KEY)
        headers = self.headers.get(key)
        if headers is None:
            return self._through_django(environ, start_response, key)
        body, status = readiness()
        content = orjson.dumps(body, option=JSON_OPTIONS)
        start_response(STATUS[status], [*headers, ("Content-Length", str(len(content)))])
        return [content]

    def _through_django(self, environ, start_response, key):
        def capture(status, headers, exc_info=None):
            code = int(status.split(" ", 1)[0])
            names = {name.lower() for name, _ in headers}
            if code in STATUS and "set-cookie" not in names:
                if len(self.headers) >= MAX_KEYS:
                    self.headers.clear()
                self.headers[key] = tuple(
                    (name, value) for name, value in headers if name.lower() != "content-length"
                )
            return start_response(status, headers, exc_info)

        return self.app(environ, capture)
