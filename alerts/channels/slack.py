"""Slack incoming webhook: POST {"text": ...} to the channel's webhook URL."""

from __future__ import annotations

from alerts.channels.base import Notification, missing_keys, post

REQUIRED = ("webhook_url",)
EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}


def validate(config: dict) -> list[str]:
    return missing_keys(config, REQUIRED)


def send(config: dict, note: Notification) -> int:
    emoji = ":white_check_mark:" if note.event == "resolve" else EMOJI.get(note.severity, "")
    return post(config["webhook_url"], json={"text": f"{emoji} {note.text()}".strip()})
