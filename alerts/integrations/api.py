"""``POST /api/v1/integrations/alertmanager``: the webhook URL for Alertmanager's
``webhook_configs`` and Grafana's webhook contact point (ingest token as Bearer)."""

from __future__ import annotations

import orjson
from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError

from alerts.integrations import alertmanager
from penguinmon.api_auth import api_auth

router = Router(tags=["integrations"])


@router.post(
    "/integrations/alertmanager",
    auth=api_auth("ingest"),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["alerts"],
                        "properties": {
                            "version": {"type": "string", "example": "4"},
                            "status": {"type": "string", "enum": ["firing", "resolved"]},
                            "receiver": {"type": "string"},
                            "alerts": {
                                "type": "array",
                                "maxItems": alertmanager.MAX_ALERTS,
                                "items": {
                                    "type": "object",
                                    "required": ["status", "labels"],
                                    "properties": {
                                        "status": {
                                            "type": "string",
                                            "enum": ["firing", "resolved"],
                                        },
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "startsAt": {"type": "string", "format": "date-time"},
                                        "endsAt": {"type": "string", "format": "date-time"},
                                        "fingerprint": {"type": "string"},
                                        "generatorURL": {"type": "string"},
                                    },
                                },
                            },
                        },
                    }
                }
            },
        }
    },
)
def alertmanager_webhook(request: HttpRequest):
    """Receive Alertmanager / Grafana Alerting notifications: firing alerts land in the feed
    (routed, escalated and acknowledged like native ones), resolved ones resolve. Identity is
    the label set (Alertmanager's fingerprint), so repeats refresh instead of duplicating."""
    try:
        payload = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, f"body: not JSON ({exc})") from None
    try:
        result = alertmanager.receive(payload)
    except alertmanager.PayloadError as exc:
        raise HttpError(422, str(exc)) from None
    return result.as_dict()
