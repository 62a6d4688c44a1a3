"""Generic webhook: the notification as JSON, signed with HMAC-SHA256 (Stripe-style).

Every request carries ``X-PenguinMon-Timestamp: <unix seconds>`` and
``X-PenguinMon-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared secret of
``"{timestamp}.{body}"`` (the timestamp header's digits, a dot, the exact body bytes).
Receivers recompute it, compare in constant time, and reject a timestamp more than a few
minutes from their clock: signing the timestamp with the body is what stops a captured request
from being replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson

from alerts.channels.base import Notification, missing_keys, post

REQUIRED = ("url", "secret")
SIGNATURE_HEADER = "X-PenguinMon-Signature"
TIMESTAMP_HEADER = "X-PenguinMon-Timestamp"


def validate(config: dict) -> list[str]:
    return missing_keys(config, REQUIRED)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "{timestamp}.{body}")."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def send(config: dict, note: Notification) -> int:
    body = orjson.dumps(note.as_dict())
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(config["secret"], body, timestamp),
    }
    return post(config["url"], data=body, headers=headers)
