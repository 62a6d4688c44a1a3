"""Signing of outgoing webhooks (alert channel and IP rotation): one scheme, Stripe-style.

The receiver recomputes ``sha256=<hex>`` of HMAC-SHA256(secret, "{timestamp}.{body}") and
refuses a stale timestamp, so a captured call cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-PenguinMon-Signature"
TIMESTAMP_HEADER = "X-PenguinMon-Timestamp"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "{timestamp}.{body}")."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers that carry the signature of ``body`` sent at ``timestamp``."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}
