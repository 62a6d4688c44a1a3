"""Apprise: one channel kind for the 100+ services Apprise speaks (Teams, Discord, Telegram,
Opsgenie, Pushover, Matrix, ntfy, ...), configured with Apprise's URLs
(https://github.com/caronc/apprise/wiki), e.g. ``{"urls": ["discord://id/token",
"ntfys://ntfy.example.com/oncall"]}``.

Each URL is sent on its own so a retry after a partial failure goes only to the URLs that
failed (``RECIPIENTS``). An Apprise URL usually *is* the credential (a bot token, a webhook
id), so it never appears in errors, logs or delivery records: ``recipient_label`` shows only
its scheme. Timeouts are Apprise's per-URL ``cto``/``rto`` parameters; we set 3 s / 10 s unless
the URL names its own, so one slow service never holds a worker for long.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import apprise

from alerts.channels.base import Notification, TransportError

REQUIRED = ("urls",)
RECIPIENTS = "urls"
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)

_NOTIFY_TYPE = {
    "critical": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
}


def recipient_label(url: str) -> str:
    """What a person may see of an Apprise URL: its scheme only."""
    scheme = urlsplit(url).scheme if "://" in url else ""
    return f"{scheme or 'apprise'}://***"


def redact(text: str) -> str:
    return _URL_RE.sub(lambda m: recipient_label(m.group(0)), text)


def _with_timeouts(url: str) -> str:
    query = urlsplit(url).query
    extra = [
        f"{key}={value}"
        for key, value in (("cto", CONNECT_TIMEOUT_S), ("rto", READ_TIMEOUT_S))
        if not re.search(rf"(^|&){key}=", query)
    ]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def validate(config: dict) -> list[str]:
    urls = config.get("urls")
    if not urls:
        return ["missing 'urls'"]
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        return ["'urls' must be a list of Apprise URLs"]
    return [
        f"urls[{i}]: not a URL any Apprise service understands ({recipient_label(url)})"
        for i, url in enumerate(urls)
        if apprise.Apprise.instantiate(url) is None
    ]


def _send_one(url: str, title: str, body: str, notify_type) -> str | None:
    """Send to one URL; None on success, else the (redacted) reason."""
    target = apprise.Apprise()
    if not target.add(_with_timeouts(url)):
        return "not a URL any Apprise service understands"
    with apprise.LogCapture(level=apprise.logging.WARNING) as logs:
        ok = target.notify(title=title, body=body, notify_type=notify_type)
        captured = logs.getvalue().strip().splitlines()
    if ok:
        return None
    return redact(captured[-1]) if captured else "the service refused the notification"


def send(config: dict, note: Notification) -> None:
    if note.event == "resolve":
        notify_type = apprise.NotifyType.SUCCESS
    elif note.event == "acknowledge":
        notify_type = apprise.NotifyType.INFO
    else:
        notify_type = _NOTIFY_TYPE.get(note.severity, apprise.NotifyType.INFO)
    body = note.text()
    title = note.title[:250]
    urls = config["urls"]
    failures = [
        (url, reason)
        for url in urls
        if (reason := _send_one(url, title, body, notify_type)) is not None
    ]
    if failures:
        url, reason = failures[0]
        # Apprise does not say whether a failure is permanent; a bad URL is caught by
        # validate(), so what is left (HTTP errors, timeouts) is worth retrying.
        raise TransportError(
            f"{len(failures)} of {len(urls)} Apprise URLs failed, first {recipient_label(url)}: "
            f"{reason}",
            retry_only=[u for u, _ in failures],
        )
    return None
