"""The default rules from the seeds (000 §6, 004 "Infrastructure Alerts Feed" / IP reputation).

Created on first run (the 0002 data migration) and again after a database flush (the
post_migrate handler in alerts.apps), but only while no rule exists at all: rules an admin
edited or deleted are never put back.
"""

from __future__ import annotations

POLICY = "On-call escalation"

# name, metric, aggregation, window s, comparator, threshold, for s, (k, n), severity, message
DEFAULT_RULES = [
    (
        "Service down",
        "probe_up",
        "last",
        60,
        "<",
        1,
        0,
        (2, 3),
        "critical",
        "{service} is down: probe {probe} failing",
    ),
    (
        "High error rate",
        "http_requests",
        "error_ratio",
        300,
        ">",
        5,
        300,
        (1, 1),
        "warning",
        "{service} error rate {value}% > 5% for 5 minutes",
    ),
    (
        "Slow responses",
        "probe_latency_ms",
        "last",
        60,
        ">",
        3000,
        0,
        (2, 3),
        "warning",
        "{service} response time {value} ms > 3 s",
    ),
    (
        "API p95 latency",
        "http_request_duration_ms",
        "p95",
        300,
        ">",
        1000,
        300,
        (1, 1),
        "warning",
        "API Response time p95 > 1s for 5 minutes ({service} {method} {route}: {value} ms)",
    ),
    (
        "CPU above 90%",
        "host_cpu_percent",
        "avg",
        300,
        ">",
        90,
        0,
        (1, 1),
        "warning",
        "{host} CPU {value}% > 90% (5-minute average)",
    ),
    (
        "CPU above 80%",
        "host_cpu_percent",
        "avg",
        300,
        ">",
        80,
        0,
        (1, 1),
        "info",
        "{host} CPU {value}% > 80% (5-minute average)",
    ),
    (
        "Memory above 90%",
        "host_memory_used_percent",
        "avg",
        300,
        ">",
        90,
        0,
        (1, 1),
        "warning",
        "{host} memory {value}% used > 90%",
    ),
    (
        "Memory above 80%",
        "host_memory_used_percent",
        "avg",
        300,
        ">",
        80,
        0,
        (1, 1),
        "info",
        "{host} memory {value}% used > 80%",
    ),
    (
        "Disk above 90%",
        "host_disk_used_percent",
        "last",
        300,
        ">",
        90,
        0,
        (1, 1),
        "warning",
        "{host} disk {mount} {value}% used > 90%",
    ),
    (
        "Disk above 80%",
        "host_disk_used_percent",
        "last",
        300,
        ">",
        80,
        0,
        (1, 1),
        "info",
        "{host} disk {mount} {value}% used > 80%",
    ),
    (
        "SMTP queue above 10k",
        "smtp_queue_size",
        "last",
        120,
        ">",
        10000,
        0,
        (1, 1),
        "critical",
        "SMTP Queue size exceeded 10k threshold ({value} queued)",
    ),
    (
        "Database pool above 80%",
        "db_pool_utilisation_pct",
        "last",
        120,
        ">",
        80,
        0,
        (1, 1),
        "info",
        "Database Connection pool {value}% utilized",
    ),
    # Blocklist look-ups run every 2 hours, so these windows reach back 3 hours.
    (
        "IP on a major blocklist",
        "ip_listed_major",
        "last",
        10800,
        ">=",
        1,
        0,
        (1, 1),
        "critical",
        "IP {ip} listed on a major blocklist",
    ),
    (
        "IP reputation below 70",
        "ip_reputation_score",
        "last",
        10800,
        "<",
        70,
        0,
        (1, 1),
        "warning",
        "IP {ip} reputation score {value} < 70",
    ),
    (
        "TLS certificate expiring",
        "tls_cert_days_left",
        "last",
        21600,
        "<",
        14,
        0,
        (1, 1),
        "warning",
        "{service} TLS certificate expires in {value} days",
    ),
]

# PenguinMon's own doors (seed 000 §11; the events are counted by collectors.security).
SECURITY_RULES = [
    (
        "Failed-login burst",
        "security_logins",
        "sum",
        300,
        ">",
        20,
        0,
        (1, 1),
        "warning",
        "{value} failed logins in 5 minutes: password guessing?",
    ),
    (
        "Login lockouts",
        "security_lockouts",
        "sum",
        900,
        ">",
        0,
        0,
        (1, 1),
        "warning",
        "{value} login lockout(s) in 15 minutes (admin → Axes shows who and from where)",
    ),
    (
        "403 spike",
        "security_forbidden",
        "sum",
        300,
        ">",
        50,
        0,
        (1, 1),
        "warning",
        "{value} requests refused (403) in 5 minutes: see Refused requests by route",
    ),
]
DEFAULT_RULES += SECURITY_RULES
# Label filters of rules whose metric carries labels the rule must pick one value of.
LABEL_FILTERS = {"Failed-login burst": {"result": "failure"}}


def ensure_default_rules(AlertRule, EscalationPolicy) -> int:  # noqa: N803 (model classes)
    """Create the default rules when there are no rules; returns how many were created."""
    if AlertRule.objects.exists():
        return 0
    policy, _ = EscalationPolicy.objects.get_or_create(
        name=POLICY,
        defaults={
            "description": "Critical alerts not acknowledged within 10 minutes go to the next step. "
            "Add steps (wait 10 min → a channel) in admin."
        },
    )
    return _create(AlertRule, policy, DEFAULT_RULES)


def ensure_security_rules(AlertRule, EscalationPolicy) -> int:  # noqa: N803 (model classes)
    """Add the security rules to an install that already has rules (migration 0012); a rule
    of the same name is left as it is."""
    policy = EscalationPolicy.objects.filter(name=POLICY).first()
    return _create(AlertRule, policy, SECURITY_RULES)


def _create(AlertRule, policy, rules) -> int:  # noqa: N803 (model class)
    created = 0
    for name, metric, agg, window, cmp, threshold, for_s, (
        k,
        n,
    ), severity, message in rules:
        created += AlertRule.objects.get_or_create(
            name=name,
            defaults=dict(
                metric=metric,
                aggregation=agg,
                window_seconds=window,
                comparator=cmp,
                threshold=threshold,
                for_seconds=for_s,
                k_of_n_k=k,
                k_of_n_n=n,
                severity=severity,
                message_template=message,
                label_filters=LABEL_FILTERS.get(name, {}),
                escalation_policy=policy if severity == "critical" else None,
            ),
        )[1]
    return created
