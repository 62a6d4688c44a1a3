"""SMTP probe: banner, EHLO, STARTTLS offered, latency, and the MTA queue backlog.

config: host (required), port (25), helo ("penguinmon.localdomain"),
require_starttls (false: when true, a server that does not offer STARTTLS fails the probe),
queue_command (e.g. ["postqueue", "-j"]: one JSON object per queued message, as Postfix prints),
queue_url (an HTTP endpoint answering a number, or JSON with "count" / "queue_size"),
queue_degraded (10000: a bigger backlog marks the probe degraded; the seed's alert threshold).

The timeout bounds the whole conversation (connect, banner, EHLO, QUIT), not each socket read:
smtplib's timeout applies per read, so a server trickling its banner a byte at a time would
otherwise hold the probe's thread for as long as it liked.
"""

from __future__ import annotations

import contextlib
import json
import smtplib
import socket
import subprocess
import time
import urllib.request

from collectors.monitoring.probes.base import ProbeConfigError, ProbeResult, Stopwatch, need


def count_postqueue_json(output: str) -> int:
    """``postqueue -j`` prints one JSON object per queued message; blank lines are ignored."""
    count = 0
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"queue command printed a line that is not JSON: {line[:60]!r}"
            ) from exc
        count += 1
    return count


def parse_queue_count(body: str) -> int:
    text = body.strip()
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"queue endpoint answered neither a number nor JSON: {text[:60]!r}"
        ) from exc
    for key in ("count", "queue_size", "size", "messages"):
        if isinstance(data, dict) and isinstance(data.get(key), int | float):
            return int(data[key])
    raise ValueError("queue endpoint JSON has no count / queue_size field")


def queue_backlog(config: dict, timeout: float) -> int | None:
    if config.get("queue_command"):
        command = config["queue_command"]
        if isinstance(command, str):
            command = command.split()
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise ValueError(f"queue command exited {done.returncode}: {done.stderr.strip()[:120]}")
        return count_postqueue_json(done.stdout)
    if config.get("queue_url"):
        with urllib.request.urlopen(str(config["queue_url"]), timeout=timeout) as response:
            return parse_queue_count(response.read(65536).decode("utf-8", "replace"))
    return None


class _DeadlineSocket(socket.socket):
    """A socket whose every read and write may only use the time left before ``deadline``
    (time.monotonic()): the socket timeout is set to what remains before each call."""

    deadline: float

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the SMTP conversation did not finish within the timeout")
        self.settimeout(left)

    def recv(self, *args, **kwargs):
        self._arm()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._arm()
        return super().sendall(*args, **kwargs)

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)


class _DeadlineSMTP(smtplib.SMTP):
    """smtplib.SMTP whose connection lives on a _DeadlineSocket ending at ``deadline``."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(timeout=max(0.001, deadline - time.monotonic()))

    def _get_socket(self, host, port, timeout):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left to connect")
        plain = socket.create_connection((host, port), left, self.source_address)
        sock = _DeadlineSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        sock.deadline = self.deadline
        return sock


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    host = str(need(config, "host"))
    try:
        port = int(config.get("port", 25))
    except (TypeError, ValueError) as exc:
        raise ProbeConfigError("port must be a number") from exc
    watch = Stopwatch()
    client = _DeadlineSMTP(time.monotonic() + timeout)
    try:
        code, banner = client.connect(host, port)
        if code != 220:
            return ProbeResult.failure(
                f"banner {code} {banner.decode(errors='replace')[:100]}", latency_ms=watch.ms
            )
        ehlo_code, _ = client.ehlo(str(config.get("helo", "penguinmon.localdomain")))
        latency = watch.ms
        if ehlo_code != 250:
            return ProbeResult.failure(f"EHLO answered {ehlo_code}", latency_ms=latency)
        starttls = client.has_extn("starttls")
        # The measurement is complete; a rude goodbye is not a failure.
        with contextlib.suppress(smtplib.SMTPException):
            client.quit()
    finally:
        client.close()

    details = {"banner": banner.decode(errors="replace")[:200], "starttls": starttls}
    if config.get("require_starttls") and not starttls:
        return ProbeResult.failure("STARTTLS not offered", latency_ms=latency, **details)
    result = ProbeResult(
        ok=True,
        latency_ms=latency,
        details=details,
        message=f"220 + EHLO in {latency:.0f} ms, STARTTLS {'offered' if starttls else 'not offered'}",
    )
    try:
        backlog = queue_backlog(config, timeout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        result.degraded = True
        result.message += f"; queue size unknown: {exc}"
        return result
    if backlog is not None:
        result.add("smtp_queue_size", backlog)
        result.details["queue_size"] = backlog
        limit = int(config.get("queue_degraded", 10_000))
        if backlog > limit:
            result.degraded = True
            result.message = f"queue backlog {backlog} exceeds {limit}"
    return result
