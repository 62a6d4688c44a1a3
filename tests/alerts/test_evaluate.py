"""Evaluation: samples go in through the store, evaluate_rules() runs, alerts move."""

from __future__ import annotations

from datetime import timedelta

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertEvent
from collectors.store import write_request_timings


def test_a_sample_over_the_threshold_fires_an_alert(make_rule, write, now):
    rule = make_rule(
        threshold=10_000, message_template="SMTP Queue size exceeded 10k threshold ({value} queued)"
    )
    write("smtp_queue_size", 12_500, now, service="smtp")

    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert summary.fired == 1
    assert alert.state == "firing"
    assert alert.service == "smtp"
    assert alert.value == 12_500
    assert alert.message == "SMTP Queue size exceeded 10k threshold (12500 queued)"
    assert list(alert.events.filter(kind="state").values_list("from_state", "to_state")) == [
        ("pending", "firing")
    ]


def test_a_value_under_the_threshold_creates_nothing(make_rule, write, now):
    rule = make_rule(threshold=10_000)
    write("smtp_queue_size", 900, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert not Alert.objects.filter(rule=rule).exists()


def test_for_duration_keeps_the_alert_pending_until_it_has_held_long_enough(make_rule, write, now):
    rule = make_rule(
        metric="host_cpu_percent",
        aggregation="avg",
        window_seconds=60,
        threshold=90,
        for_seconds=60,
        severity="warning",
    )
    t0 = now - timedelta(seconds=75)
    write("host_cpu_percent", 97, t0, host="web-1")
    evaluate_rules(now=t0 + timedelta(seconds=1), rules=[rule])
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "pending"

    write("host_cpu_percent", 98, t0 + timedelta(seconds=30), host="web-1")
    evaluate_rules(now=t0 + timedelta(seconds=31), rules=[rule])
    assert Alert.objects.get(pk=alert.pk).state == "pending"

    write("host_cpu_percent", 99, t0 + timedelta(seconds=65), host="web-1")
    evaluate_rules(now=t0 + timedelta(seconds=66), rules=[rule])
    assert Alert.objects.get(pk=alert.pk).state == "firing"


def test_a_pending_alert_that_clears_is_dropped_without_firing(make_rule, write, now):
    rule = make_rule(
        metric="host_cpu_percent",
        aggregation="last",
        window_seconds=30,
        threshold=90,
        for_seconds=300,
        severity="warning",
    )
    write("host_cpu_percent", 97, now - timedelta(seconds=20), host="web-1")
    evaluate_rules(now=now - timedelta(seconds=19), rules=[rule])
    assert Alert.objects.get(rule=rule).state == "pending"
    write("host_cpu_percent", 20, now, host="web-1")
    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert summary.dropped == 1
    assert not Alert.objects.filter(rule=rule).exists()


def test_repeated_evaluations_update_one_alert_per_label_set(make_rule, write, now):
    rule = make_rule(
        metric="host_disk_used_percent", threshold=90, severity="warning", window_seconds=60
    )
    for i in range(3):
        ts = now - timedelta(seconds=30 - 15 * i)
        write("host_disk_used_percent", 95 + i, ts, host="db-1", mount="/")
        write("host_disk_used_percent", 91 + i, ts, host="db-1", mount="/var")
        evaluate_rules(now=ts + timedelta(seconds=1), rules=[rule])

    alerts = Alert.objects.filter(rule=rule).order_by("label_key")
    assert [a.labels["mount"] for a in alerts] == ["/", "/var"]
    assert all(a.state == "firing" for a in alerts)
    assert [a.last_value for a in alerts] == [97, 93]


def test_recovery_resolves_the_alert_and_logs_it(make_rule, write, now):
    rule = make_rule(window_seconds=30)
    write("smtp_queue_size", 20_000, now - timedelta(seconds=20), service="smtp")
    evaluate_rules(now=now - timedelta(seconds=19), rules=[rule])
    write("smtp_queue_size", 50, now, service="smtp")
    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert summary.resolved == 1
    assert alert.state == "resolved"
    assert alert.resolved_at == now + timedelta(seconds=1)
    assert list(
        alert.events.filter(kind=AlertEvent.Kind.STATE).values_list("to_state", flat=True)
    ) == ["firing", "resolved"]


def test_a_new_breach_after_resolution_opens_a_new_alert(make_rule, write, now):
    rule = make_rule(window_seconds=20)
    write("smtp_queue_size", 20_000, now - timedelta(seconds=60), service="smtp")
    evaluate_rules(now=now - timedelta(seconds=59), rules=[rule])
    write("smtp_queue_size", 10, now - timedelta(seconds=30), service="smtp")
    evaluate_rules(now=now - timedelta(seconds=29), rules=[rule])
    write("smtp_queue_size", 30_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert list(Alert.objects.filter(rule=rule).order_by("id").values_list("state", flat=True)) == [
        "resolved",
        "firing",
    ]


def test_no_data_in_the_window_resolves_an_open_alert(make_rule, write, now):
    rule = make_rule(window_seconds=30)
    write("smtp_queue_size", 20_000, now - timedelta(seconds=60), service="smtp")
    evaluate_rules(now=now - timedelta(seconds=59), rules=[rule])
    write("smtp_queue_size", 5, now, service="other")  # keeps the metric alive, not this series
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert Alert.objects.get(rule=rule, labels__service="smtp").state == "resolved"


def test_k_of_n_fires_only_after_k_true_evaluations(make_rule, write, now):
    rule = make_rule(
        metric="probe_up", comparator="<", threshold=1, window_seconds=15, k_of_n_k=2, k_of_n_n=3
    )
    t = now - timedelta(seconds=45)
    states = []
    for value in (0, 1, 0):
        write("probe_up", value, t, service="api", probe="https")
        evaluate_rules(now=t + timedelta(seconds=1), rules=[rule])
        states.append(Alert.objects.get(rule=rule).state)
        t += timedelta(seconds=15)
    assert states == ["pending", "pending", "firing"]


def test_label_filters_pick_the_series(make_rule, write, now):
    rule = make_rule(label_filters={"service": "smtp-eu"})
    write("smtp_queue_size", 50_000, now, service="smtp-us")
    write("smtp_queue_size", 60_000, now, service="smtp-eu")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert [a.service for a in Alert.objects.filter(rule=rule)] == ["smtp-eu"]


def test_error_ratio_is_5xx_over_all_requests_per_service(make_rule, now):
    rule = make_rule(
        metric="http_requests",
        aggregation="error_ratio",
        window_seconds=600,
        threshold=5,
        severity="warning",
        message_template="{service} error rate {value}%",
    )
    minute = now.replace(second=0) - timedelta(minutes=2)
    timings = []
    for i in range(100):
        timings.append(
            {
                "service": "api",
                "route": "/v1/send",
                "method": "POST",
                "status": 500 if i < 8 else 200,
                "duration_ms": 40,
                "ts": minute,
            }
        )
        timings.append(
            {
                "service": "web",
                "route": "/",
                "method": "GET",
                "status": 503 if i < 2 else 200,
                "duration_ms": 40,
                "ts": minute,
            }
        )
    write_request_timings(timings)

    evaluate_rules(now=now, rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert alert.labels == {"service": "api"}
    assert alert.value == 8.0
    assert alert.message == "api error rate 8%"


def test_p95_latency_rule_reads_the_request_histogram(make_rule, now):
    rule = make_rule(
        metric="http_request_duration_ms",
        aggregation="p95",
        window_seconds=600,
        threshold=1000,
        severity="warning",
    )
    minute = now.replace(second=0) - timedelta(minutes=2)
    slow = [
        {
            "service": "api",
            "route": "/v1/report",
            "method": "GET",
            "status": 200,
            "duration_ms": 2500 if i >= 90 else 100,
            "ts": minute,
        }
        for i in range(100)
    ]
    fast = [
        {
            "service": "api",
            "route": "/v1/ping",
            "method": "GET",
            "status": 200,
            "duration_ms": 20,
            "ts": minute,
        }
        for _ in range(100)
    ]
    write_request_timings(slow + fast)

    evaluate_rules(now=now, rules=[rule])

    alerts = list(Alert.objects.filter(rule=rule))
    assert [a.labels["route"] for a in alerts] == ["/v1/report"]
    assert alerts[0].value > 1000


def test_rules_sharing_a_metric_share_one_store_read(make_rule, write, now):
    rules = [
        make_rule(label_filters={"service": f"smtp-{i}"}, threshold=100 * i) for i in range(20)
    ]
    for i in range(20):
        write("smtp_queue_size", 150 * i, now, service=f"smtp-{i}")
    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=rules)
    assert summary.queries == 1
    assert summary.fired == 19  # smtp-0 has 0 > 0 false


def test_default_rules_from_the_seeds_exist(db):
    from alerts.models import AlertRule

    rules = {r.name: r for r in AlertRule.objects.all()}
    assert rules["SMTP queue above 10k"].threshold == 10_000
    assert rules["SMTP queue above 10k"].severity == "critical"
    assert rules["API p95 latency"].for_seconds == 300
    assert rules["High error rate"].aggregation == "error_ratio"
    assert rules["IP on a major blocklist"].metric == "ip_listed_major"
    assert rules["IP reputation below 70"].comparator == "<"
    assert {rules["CPU above 90%"].severity, rules["CPU above 80%"].severity} == {"warning", "info"}
    assert rules["Service down"].escalation_policy is not None


def test_evaluating_every_enabled_rule_ignores_disabled_ones(make_rule, write, now):
    make_rule(enabled=False, threshold=1)
    write("smtp_queue_size", 500, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1))
    assert not Alert.objects.filter(rule__enabled=False).exists()
