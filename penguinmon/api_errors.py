"""JSON answers for failures nothing else handled under /api/ (the API's catch-all handler
and ApiErrorsMiddleware both use it)."""

from __future__ import annotations

import logging

import kombu.exceptions
import orjson
import redis.exceptions
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

# What a client is told to wait after a 503 (the database or Redis is unreachable: a restart
# takes seconds).
RETRY_AFTER_SECONDS = 5


def _unavailable(exc: Exception) -> bool:
    """The failure is a dependency that is down, not a bug: worth a retry later."""
    return isinstance(
        exc,
        (
            OperationalError,
            InterfaceError,
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            kombu.exceptions.OperationalError,
        ),
    )


def error_response(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The JSON answer for an exception nothing else handled: 503 + Retry-After when the
    database or Redis is unreachable, otherwise a logged 500. Never an HTML page."""
    if _unavailable(exc):
        log.warning("%s %s: dependency unavailable: %r", request.method, request.path, exc)
        response = HttpResponse(
            orjson.dumps(
                {
                    "error": "temporarily unavailable (database or queue unreachable); "
                    f"nothing was stored, retry in {RETRY_AFTER_SECONDS} s"
                }
            ),
            status=503,
            content_type="application/json",
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, RequestDataTooBig):
        return HttpResponse(
            orjson.dumps(
                {
                    "error": "request body larger than "
                    f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes; send smaller batches"
                }
            ),
            status=413,
            content_type="application/json",
        )
    if isinstance(exc, DataError):
        # The database refused a value (out of range, too long): the input's fault. Endpoints
        # validate their fields first; this keeps one that missed a bound from answering 500.
        log.warning("%s %s: value refused by the database: %s", request.method, request.path, exc)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid value"
        return HttpResponse(
            orjson.dumps({"error": f"a value does not fit: {detail}"}),
            status=422,
            content_type="application/json",
        )
    log.error("%s %s failed", request.method, request.path, exc_info=exc)
    return HttpResponse(
        orjson.dumps({"error": "internal error; it has been logged"}),
        status=500,
        content_type="application/json",
    )
