"""The one error of the PromQL engine, carrying Prometheus' error type and HTTP status."""

from __future__ import annotations


class PromQLError(ValueError):
    """Answered as ``{"status": "error", "errorType": kind, "error": message}``.

    Prometheus' types: ``bad_data`` (400) for anything wrong with the request or the
    expression, ``execution`` (422) for a valid query that cannot be answered (too many
    series or samples)."""

    def __init__(self, message: str, *, kind: str = "bad_data", status: int = 400):
        super().__init__(message)
        self.kind = kind
        self.status = status


def unsupported(what: str) -> PromQLError:
    return PromQLError(f"unsupported by PenguinMon's PromQL subset: {what}")
