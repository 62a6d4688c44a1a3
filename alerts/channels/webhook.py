"""Generic webhook: the notification as JSON, signed with HMAC-SHA256 of the exact body.

Receivers verify ``X-PenguinMon-Signature: sha256=<hex>`` with the shared secret.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from alerts.channels.base import Notification, missing_keys, post

REQUIRED = ("url", "secret")
SIGNATURE_HEADER = "X-PenguinMon-Signature"


def validate(config: dict) -> list[str]:
    return missing_keys(config, REQUIRED)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(config: dict, note: Notification) -> int:
    body = orjson.dumps(note.as_dict())
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(config["secret"], body)}
    return post(config["url"], data=body, headers=headers)
