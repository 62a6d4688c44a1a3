"""``POST /v1/metrics`` (and ``/api/otlp/v1/metrics``): the OTLP/HTTP metrics endpoint.

Outside the NinjaAPI because OTLP fixes the path (an exporter given
``OTEL_EXPORTER_OTLP_ENDPOINT=http://host:8000`` posts to ``/v1/metrics``) and the answer's
shape: an ``ExportMetricsServiceResponse`` or a ``google.rpc.Status``, in the request's own
encoding. Authentication is the API's: ``Authorization: Bearer <token with ingest>``
(``OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer pm_..."``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from ninja.errors import HttpError

from collectors.receivers import otlp
from penguinmon.api_auth import token_for


def _reply(body: bytes, status: int, json: bool) -> HttpResponse:
    return HttpResponse(
        body, status=status, content_type="application/json" if json else "application/x-protobuf"
    )


@login_not_required  # a token, not a session: see the module docstring
@csrf_exempt
@require_POST
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    content_type = (request.content_type or "").lower()
    json = content_type == "application/json"
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw:
        return _reply(
            otlp.error_body("send Authorization: Bearer <token>", 401, json=json), 401, json
        )
    try:
        token = token_for(raw.strip(), "ingest")
    except HttpError as exc:
        return _reply(otlp.error_body(str(exc.message), 403, json=json), 403, json)
    if token is None:
        return _reply(otlp.error_body("unknown or revoked token", 401, json=json), 401, json)
    try:
        result = otlp.receive(
            request.body,
            content_type=content_type,
            encoding=request.headers.get("Content-Encoding", ""),
        )
    except otlp.OtlpError as exc:
        return _reply(otlp.error_body(str(exc), exc.status, json=json), exc.status, json)
    return _reply(otlp.success_body(result, json=json), 200, json)
