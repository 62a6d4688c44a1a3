"""End to end: a real Prometheus Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1
with a webhook receiver pointing at PenguinMon's live server."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests

from alerts.models import Alert
from tests.support.net import free_port, wait_until

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
def alertmanager(tmp_path, live_server, make_token):
    token = make_token("ingest")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: penguinmon
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: penguinmon
    webhook_configs:
      - url: {live_server.url}/api/v1/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""
    )
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return requests.get(f"{base}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(ready, 20, "alertmanager to start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post_alert(base: str, *, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "DiskFull", "severity": "critical", "service": "olap-db"},
        "annotations": {"summary": "olap-db disk 97% full"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    requests.post(f"{base}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


@pytest.mark.django_db(transaction=True)
def test_alertmanager_fires_and_resolves_an_alert_in_penguinmon(alertmanager):
    _post_alert(alertmanager)
    alert = wait_until(
        lambda: Alert.objects.filter(state=Alert.State.FIRING).first(), 30, "the firing alert"
    )
    assert alert.message == "olap-db disk 97% full"
    assert alert.severity == "critical"
    assert alert.service == "olap-db"
    assert alert.rule.name == "DiskFull [alertmanager]"

    _post_alert(alertmanager, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    wait_until(
        lambda: Alert.objects.filter(pk=alert.pk, state=Alert.State.RESOLVED).exists(),
        30,
        "the resolution",
    )
    assert Alert.objects.count() == 1
