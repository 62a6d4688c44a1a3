"""What every app's API shares in its answers and inputs: the error body, and times sent
without an offset."""

from __future__ import annotations

from datetime import UTC, datetime

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
