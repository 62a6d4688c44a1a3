"""What every channel module shares: the notification it sends, its result, its errors.

A channel module has ``REQUIRED`` (config keys), ``validate(config) -> list[str]`` and
``send(config, note) -> int | None`` (the response code). It raises ``TransportError`` with
``permanent=True`` when retrying cannot help (a 4xx, bad config), else the caller retries.
A module that sends one request per recipient names its recipient list's config key in
``RECIPIENTS``; when only some recipients failed it raises ``TransportError(retry_only=[...])``
and the retry goes to those alone, so the others are not messaged twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

HTTP_TIMEOUT = (3.05, 10)  # connect, read: one slow receiver never holds a worker for long


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        retry_only: list[str] | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        self.retry_only = retry_only  # recipients a retry should send to (None: all)


@dataclass(frozen=True)
class Notification:
    """A channel-neutral description of what happened to an alert (or, for the digest, many)."""

    # trigger | repeat | acknowledge | resolve | escalate | digest | summary | group, or
    # "update": an incident update (title says which incident and status, lines the message).
    event: str
    alert_id: int | None
    title: str
    severity: str
    severity_label: str
    service: str
    state: str
    message: str
    labels: dict = field(default_factory=dict)
    value: float | None = None
    threshold: float | None = None
    rule: str = ""
    runbook_url: str = ""
    url: str = ""
    dedup_key: str = ""
    at: str = ""
    lines: tuple[str, ...] = ()  # digest, summary and group: one line per alert

    def text(self) -> str:
        """The plain-text body used by chat, SMS and email."""
        if self.event in ("digest", "summary", "group", "update"):
            return self.title + "\n" + "\n".join(self.lines)
        head = {
            "trigger": "FIRING",
            "repeat": "STILL FIRING",
            "escalate": "ESCALATED (not acknowledged)",
            "acknowledge": "ACKNOWLEDGED",
            "resolve": "RESOLVED",
        }.get(self.event, self.event.upper())
        parts = [f"[{head}] {self.severity_label} {self.service}: {self.message}"]
        if self.runbook_url:
            parts.append(f"Runbook: {self.runbook_url}")
        if self.url:
            parts.append(f"Alert: {self.url}")
        return "\n".join(parts)

    def as_dict(self) -> dict:
        return {
            "event": self.event,
            "alert_id": self.alert_id,
            "title": self.title,
            "severity": self.severity,
            "service": self.service,
            "state": self.state,
            "message": self.message,
            "labels": self.labels,
            "value": self.value,
            "threshold": self.threshold,
            "rule": self.rule,
            "runbook_url": self.runbook_url,
            "url": self.url,
            "dedup_key": self.dedup_key,
            "at": self.at,
            "lines": list(self.lines),
        }


def missing_keys(config: dict, required: tuple[str, ...]) -> list[str]:
    return [f"missing '{k}'" for k in required if not config.get(k)]


def check_response(resp: requests.Response) -> int:
    """Turn an HTTP answer into a status code or a TransportError (4xx permanent, 5xx retry)."""
    if resp.status_code < 300:
        return resp.status_code
    body = resp.text[:300]
    # 429 (rate limited) and 5xx are worth retrying; other 4xx mean our request is wrong.
    permanent = 400 <= resp.status_code < 500 and resp.status_code != 429
    raise TransportError(
        f"HTTP {resp.status_code}: {body}", permanent=permanent, status_code=resp.status_code
    )


def post(url: str, **kwargs) -> int:
    try:
        resp = requests.post(url, timeout=HTTP_TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise TransportError(f"{exc.__class__.__name__}: {exc}") from exc
    return check_response(resp)
