"""What every app's API shares in its answers and inputs: the error body, and times sent
without an offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from django.http import HttpResponse
from django.utils import timezone
from ninja import Schema


# The body of every 4xx answer: what was wrong, naming the item and field. (No docstring: it
# would become the schema's description.)
class ErrorOut(Schema):
    error: str


def aware(value: datetime | None) -> datetime | None:
    """Scripts often send times without an offset; those are read as UTC (comparing them with
    stored, aware times would otherwise fail)."""
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


# The options of the API's renderer (penguinmon.api.ORJSONRenderer).
JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """``data`` encoded as the API's renderer encodes it, for a view that builds its answer in
    the shape of its response schema and so skips ninja's validation of it (ninja passes an
    HttpResponse through untouched; the schema still documents the route)."""
    return HttpResponse(
        orjson.dumps(data, option=JSON_OPTIONS),
        status=status,
        content_type="application/json; charset=utf-8",
    )
