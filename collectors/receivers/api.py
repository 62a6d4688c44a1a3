"""Receivers mounted under /api/v1/: ``POST /api/v1/write`` (Prometheus remote_write 1.0).

Errors use the protocol's own shape: remote_write senders log a plain-text body and retry only
5xx, so refusals are ``text/plain`` 4xx and a database outage is a 503.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from collectors.receivers import prometheus
from penguinmon.api_auth import api_auth

router = Router(tags=["receivers"])


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


@router.post(
    "/write",
    auth=api_auth("ingest"),
    response={204: None},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-protobuf": {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "snappy-compressed prometheus.WriteRequest "
                        "(remote_write 1.0)",
                    }
                }
            },
        }
    },
)
def remote_write(request: HttpRequest):
    """Prometheus remote_write 1.0: point `remote_write: - url: …/api/v1/write` of a
    Prometheus, Grafana Alloy or vmagent here, with an ingest token as bearer credentials.
    Samples are stored as they come; native histograms keep count and sum; NaN/staleness
    markers, exemplars and metadata are skipped. 204 when stored; a 4xx (plain text, not
    retried by the sender) names the first series the store refuses, and nothing is written."""
    try:
        prometheus.receive(request.body, encoding=request.headers.get("Content-Encoding", "snappy"))
    except prometheus.RemoteWriteError as exc:
        return _text(exc.status, str(exc))
    return HttpResponse(status=204)
