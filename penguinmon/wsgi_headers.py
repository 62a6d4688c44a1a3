"""The headers Django's stack put on a good answer, kept per Host and scheme, for WSGI fast
paths (penguinmon.health_wsgi, collectors.store.query_wsgi) that answer repeat requests
around the request cycle: the first request per worker and per Host and scheme goes through
the whole stack, which validates the Host and adds the security headers and the CSP; later
ones are answered with the headers it left."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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

Headers = tuple[tuple[str, str], ...]


class ReplayedHeaders:
    def __init__(self, statuses: frozenset[int]) -> None:
        self.statuses = statuses  # the answers whose headers are kept
        self._by_key: dict[tuple, Headers] = {}

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._by_key)

    def clear(self) -> None:
        self._by_key.clear()

    def get(self, environ: dict) -> Headers | None:
        """The headers to answer ``environ`` with, without Content-Length; None until Django
        answered a request of its Host and scheme."""
        return self._by_key.get(tuple(environ.get(name) for name in KEY))

    def capturing(self, environ: dict, start_response: Callable) -> Callable:
        """``start_response`` for Django's answer to ``environ``, keeping its headers when the
        status is one of ``statuses`` and no cookie is set."""
        key = tuple(environ.get(name) for name in KEY)

        def capture(status, headers, exc_info=None):
            code = int(status.split(" ", 1)[0])
            names = {name.lower() for name, _ in headers}
            if code in self.statuses and "set-cookie" not in names:
                if len(self._by_key) >= MAX_KEYS:
                    self._by_key.clear()
                self._by_key[key] = tuple(
                    (name, value) for name, value in headers if name.lower() != "content-length"
                )
            return start_response(status, headers, exc_info)

        return capture
