"""Calling the project's WSGI application directly, as gunicorn would (its fast paths for
readiness probes and the public status page sit in front of Django there)."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

from penguinmon.wsgi import application


def wsgi_get(
    path: str, host: str = "127.0.0.1", app=application, **extra
) -> tuple[str, dict, bytes]:
    """GET ``path`` through ``app`` (penguinmon.wsgi.application): (status line, headers,
    body)."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(b"")}
    environ.update(extra)
    setup_testing_defaults(environ)
    environ["HTTP_HOST"] = host
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body
