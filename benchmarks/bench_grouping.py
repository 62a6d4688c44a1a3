"""Notification grouping under an outage: 10,000 firing alerts on 500 services whose parent
service (a database) is down, with the default policy (group by service + severity, group
wait 30 s, group interval 5 min).

Measured: the notifications a real webhook on 127.0.0.1 receives (goal ≤ 10) and the time of
one grouping cycle over all 10,000 alerts (goal < 1 s; first cycle, which also records each
alert's group, and the steady cycles after it). The reference for the count is what one
notification per alert would send (Alertmanager without grouping or inhibition); the
reference for the time is the per-alert path (alerts.notify.on_transition with grouping off)
timed on 500 of the same alerts in the same run and scaled to 10,000.
Everything created here is tagged "bench_grouping" and removed at the end.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.common import free_port, percentile, row

PREFIX = "bench_grouping"
SERVICES = 500
RULES = 20  # 20 rules x 500 services = 10,000 alerts
PARENT = f"{PREFIX}-db"
REFERENCE_SAMPLE = 500


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Receiver.bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _setup(port: int):
    from django.utils import timezone

    from alerts.models import Alert, AlertRule, Channel, label_key

    now = timezone.now()
    fired = now - timedelta(seconds=45)  # past group_wait: the first cycle sends
    for kind, flags in (("pager", {"on_call": True}), ("chat", {"chat": True})):
        Channel.objects.create(
            name=f"{PREFIX} {kind}",
            kind="webhook",
            config={"url": f"http://127.0.0.1:{port}/{kind}", "secret": "bench"},
            **flags,
        )
    parent_rule = AlertRule.objects.create(
        name=f"{PREFIX} parent down",
        metric="probe_up",
        comparator="<",
        threshold=1,
        severity="critical",
    )
    rules = [
        AlertRule.objects.create(
            name=f"{PREFIX} rule {i:02d}",
            metric="smtp_queue_size",
            threshold=10_000,
            severity="critical" if i % 2 else "warning",
            parent_service=PARENT,
        )
        for i in range(RULES)
    ]

    def alert(rule, service: str) -> Alert:
        labels = {"service": service}
        return Alert(
            rule=rule,
            labels=labels,
            label_key=label_key(labels),
            state=Alert.State.FIRING,
            severity=rule.severity,
            service=service,
            message=f"{rule.name} on {service}",
            started_at=fired,
            fired_at=fired,
            last_evaluated_at=now,
        )

    Alert.objects.bulk_create([alert(parent_rule, PARENT)])
    Alert.objects.bulk_create(
        [alert(rule, f"{PREFIX}-svc-{s:03d}") for rule in rules for s in range(SERVICES)],
        batch_size=2000,
    )
    return now


def _reference_seconds_per_alert() -> float:
    """The per-alert path on a sample of the same alerts: each trigger decides its own
    suppression and routing (what grouping replaces)."""
    from django.conf import settings
    from django.db import transaction

    from alerts import notify
    from alerts.models import Alert

    sample = list(
        Alert.objects.filter(rule__name__startswith=f"{PREFIX} rule")
        .select_related("rule")
        .order_by("id")[:REFERENCE_SAMPLE]
    )
    before = getattr(settings, "ALERT_GROUPING", True)
    settings.ALERT_GROUPING = False
    try:
        started = time.perf_counter()
        with transaction.atomic():
            for a in sample:
                notify.on_transition(a, "trigger")
            transaction.set_rollback(True)  # measured, not kept
        return (time.perf_counter() - started) / len(sample)
    finally:
        settings.ALERT_GROUPING = before


def _cleanup() -> None:
    from alerts.models import AlertRule, Channel, NotificationGroup

    AlertRule.objects.filter(name__startswith=PREFIX).delete()  # cascades to the alerts
    Channel.objects.filter(name__startswith=PREFIX).delete()
    NotificationGroup.objects.filter(key__contains=PREFIX).delete()


def run() -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts import grouping
    from alerts.models import Alert
    from penguinmon.celery import app as celery_app

    _cleanup()
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # deliveries run here, to the receiver above
    try:
        now = _setup(port)
        total = Alert.objects.filter(rule__name__startswith=PREFIX).count()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            first = grouping.flush(now=now)
            first_s = time.perf_counter() - started
        steady = []
        for i in range(1, 11):
            started = time.perf_counter()
            grouping.flush(now=now + timedelta(seconds=5 * i))
            steady.append(time.perf_counter() - started)
        received = len(_Receiver.bodies)
        print(
            f"   {total:,} firing alerts on {SERVICES + 1} services; first cycle {first_s * 1000:.0f} ms "
            f"({len(queries)} queries), {first.groups} group(s) sent, {first.suppressed:,} "
            f"suppressed by the parent; webhook received {received} notification(s): "
            + "; ".join(b["title"][:90] for b in _Receiver.bodies),
            flush=True,
        )
        per_alert = _reference_seconds_per_alert()
    finally:
        celery_app.conf.task_always_eager = eager
        server.shutdown()
        _cleanup()
    return [
        row(
            "grouping: notifications for 10,000 alerts of one outage",
            received,
            "messages",
            reference="one per alert",
            reference_value=total,
            target="<= 10",
        ),
        row(
            "grouping: one cycle over 10,000 alerts (first)",
            first_s * 1000,
            "ms",
            reference="per-alert routing, 500 timed, x20",
            reference_value=per_alert * total * 1000,
            target="< 1000 ms",
        ),
        row(
            "grouping: one cycle over 10,000 alerts (steady p95)",
            percentile(steady, 0.95) * 1000,
            "ms",
            reference="per-alert routing, 500 timed, x20",
            reference_value=per_alert * total * 1000,
            target="< 1000 ms",
        ),
        row(
            "grouping: one cycle over 10,000 alerts (steady median)",
            statistics.median(steady) * 1000,
            "ms",
            target="< 1000 ms",
        ),
    ]
