"""Generic webhook: the notification as JSON, signed with HMAC-SHA256 (Stripe-style).

Every request carries ``X-PenguinMon-Timestamp: <unix seconds>`` and
``X-PenguinMon-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared secret of
``"{timestamp}.{body}"`` (the timestamp header's digits, a dot, the exact body bytes).
Receivers recompute it, compare in constant time, and reject a timestamp more than a few
minutes from their clock: signing the timestamp with the body is what stops a captured request
from being replayed later.
"""

from __future__ import annotations

import time

import orjson

from alerts.channels.base import Notification, missing_keys, post
from penguinmon.webhooks import signed_headers

REQUIRED = ("url", "secret")


def validate(config: dict) -> list[str]:
    return missing_keys(config, REQUIRED)


def send(config: dict, note: Notification) -> int:
    body = orjson.dumps(note.as_dict())
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        **signed_headers(config["secret"], body, timestamp),
    }
    return post(config["url"], data=body, headers=headers)
