"""PagerDuty Events API v2: trigger / acknowledge / resolve with the alert's dedup key, so
PagerDuty keeps one incident per PenguinMon alert."""

from __future__ import annotations

from alerts.channels.base import Notification, missing_keys, post

REQUIRED = ("routing_key",)
DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
ACTIONS = {
    "trigger": "trigger",
    "repeat": "trigger",
    "escalate": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}


def validate(config: dict) -> list[str]:
    return missing_keys(config, REQUIRED)


def send(config: dict, note: Notification) -> int:
    action = ACTIONS.get(note.event, "trigger")
    event: dict = {
        "routing_key": config["routing_key"],
        "event_action": action,
        "dedup_key": note.dedup_key,
    }
    if action == "trigger":
        event["payload"] = {
            "summary": note.text().splitlines()[0][:1024],
            "source": note.service or "penguinmon",
            "severity": note.severity
            if note.severity in ("critical", "warning", "info")
            else "error",
            "component": note.service,
            "class": note.rule,
            "custom_details": {
                "labels": note.labels,
                "value": note.value,
                "threshold": note.threshold,
            },
        }
        links = [
            {"href": u, "text": t}
            for u, t in ((note.url, "Alert"), (note.runbook_url, "Runbook"))
            if u
        ]
        if links:
            event["links"] = links
    return post(config.get("url") or DEFAULT_URL, json=event)
