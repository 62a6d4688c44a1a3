"""SMS through a Twilio-compatible gateway: one form POST per recipient to
``{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with basic auth."""

from __future__ import annotations

from alerts.channels.base import Notification, TransportError, missing_keys, post

REQUIRED = ("account_sid", "auth_token", "from_number", "to_numbers")
RECIPIENTS = "to_numbers"
DEFAULT_BASE_URL = "https://api.twilio.com"
MAX_BODY = 1600  # Twilio's limit for one message


def validate(config: dict) -> list[str]:
    errors = missing_keys(config, REQUIRED)
    if config.get("to_numbers") and not isinstance(config["to_numbers"], list):
        errors.append("'to_numbers' must be a list of phone numbers")
    return errors


def send(config: dict, note: Notification) -> int:
    base = (config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{config['account_sid']}/Messages.json"
    # SMS is read on a lock screen: the first line says it all, the link follows.
    body = note.text()[:MAX_BODY]
    code = 0
    failures = []
    for number in config["to_numbers"]:
        try:
            code = post(
                url,
                data={"To": number, "From": config["from_number"], "Body": body},
                auth=(config["account_sid"], config["auth_token"]),
            )
        except TransportError as exc:
            failures.append((number, exc))
    if failures:
        number, exc = failures[0]
        raise TransportError(
            f"{len(failures)} of {len(config['to_numbers'])} recipients failed, "
            f"first {number}: {exc}",
            permanent=exc.permanent,
            status_code=exc.status_code,
            retry_only=[n for n, _ in failures],
        )
    return code
