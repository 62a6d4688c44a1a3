"""Prometheus' JSON shapes for query results and errors."""

from __future__ import annotations

import math
from decimal import Decimal

import orjson
from django.http import HttpResponse

from collectors.promql.engine import Matrix
from collectors.promql.errors import PromQLError
from collectors.promql.vectors import Scalar, Vector


def fmt(value: float) -> str:
    """A sample value as Prometheus writes it (Go's FormatFloat(v, 'f', -1, 64))."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def success(data) -> HttpResponse:
    return HttpResponse(
        orjson.dumps({"status": "success", "data": data}), content_type="application/json"
    )


def error(exc: PromQLError) -> HttpResponse:
    body = {"status": "error", "errorType": exc.kind, "error": str(exc)}
    return HttpResponse(orjson.dumps(body), status=exc.status, content_type="application/json")


def instant_data(value: Vector | Scalar | Matrix, at_ms: int) -> dict:
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [_ts(at_ms), fmt(value.values[0])]}
    if isinstance(value, Matrix):
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": dict(raw.labels),
                    "values": [[_ts(t), fmt(v)] for t, v in zip(raw.ts, raw.values, strict=True)],
                }
                for raw in sorted(value.series, key=lambda r: r.labels)
            ],
        }
    return {
        "resultType": "vector",
        "result": [
            {"metric": dict(labels), "value": [_ts(at_ms), fmt(values[0])]}
            for labels, values in sorted(value.series.items())
            if values[0] is not None
        ],
    }


def range_data(value: Vector | Scalar, steps: list[int]) -> dict:
    series = {(): value.values} if isinstance(value, Scalar) else value.series
    result = []
    for labels, values in sorted(series.items()):
        points = [[_ts(t), fmt(v)] for t, v in zip(steps, values, strict=True) if v is not None]
        if points:
            result.append({"metric": dict(labels), "values": points})
    return {"resultType": "matrix", "result": result}
