"""Keeping credentials out of what is stored and shown, and control characters out of headers.

A Slack or generic webhook URL is itself the secret, as are tokens, keys, passwords and DSNs:
config keys matching ``SECRET_KEY_RE`` hold credentials. Error texts from HTTP libraries repeat
the URL they failed on (``Max retries exceeded with url: /services/T0/B0/<secret>``), so an error is
masked before it is stored, and again before it is shown (rows stored by older versions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

SECRET_KEY_RE = re.compile(
    r"secret|token|password|passwd|api_?key|auth|credential|dsn|webhook|url|sid", re.I
)
REDACTED = "***"

# Header values safe to show anyone; every other header (custom API keys such as
# X-Honeycomb-Team or X-Auth-Token are common) is masked.
HARMLESS_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "content-type",
        "host",
        "user-agent",
    }
)

# scheme://host[:port] kept, user:password@, path, query and fragment masked.
_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://)(?:[^\s/@'\"]*@)?([^\s/?#'\"]+)([^\s'\"()<>]*)", re.I)
# requests/urllib3 name the path they failed on without the host.
_FAILED_PATH = re.compile(r"(with url: )\S+", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def secret_values(config: dict | None) -> list[str]:
    """The credential strings inside a channel/probe config (and the parts of URLs that carry
    them: a URL's path and query), longest first so a longer one is masked whole."""
    found: set[str] = set()

    def walk(value, secret: bool) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, secret or bool(SECRET_KEY_RE.search(str(k))))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str) and len(value) >= 4:
            found.add(value)
            parts = urlsplit(value) if "://" in value else None
            if parts is not None:
                tail = parts.path + (f"?{parts.query}" if parts.query else "")
                if len(tail) > 1:
                    found.add(tail)
                if parts.password:
                    found.add(parts.password)

    walk(config or {}, False)
    return sorted(found, key=len, reverse=True)


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secret values, and the path/query/userinfo of every URL, masked."""
    if not text:
        return text
    for value in secrets:
        if value:
            text = text.replace(value, REDACTED)
    text = _URL.sub(
        lambda m: m.group(1) + m.group(2) + (f"/{REDACTED}" if m.group(3) else ""), text
    )
    return _FAILED_PATH.sub(rf"\g<1>{REDACTED}", text)


def mask_headers(headers: dict) -> dict:
    """Header values shown as ``***`` unless the header is on the short harmless list."""
    return {
        name: value if str(name).strip().lower() in HARMLESS_HEADERS or not value else REDACTED
        for name, value in headers.items()
    }


def header_value(text: str, max_length: int = 200) -> str:
    """One line fit for an e-mail header: CR, LF and other control characters become spaces
    (a label value with a newline would otherwise end the header or be refused)."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip()[:max_length]
