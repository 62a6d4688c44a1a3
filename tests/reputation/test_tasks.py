"""Celery tasks are thin wrappers: called directly, they run the services."""

from __future__ import annotations

from reputation import tasks
from reputation.models import ListingCheck, SendingDomain
from reputation.schedule import BEAT_SCHEDULE


def test_the_check_runs_every_two_hours_and_history_is_pruned_daily():
    assert BEAT_SCHEDULE["reputation-check"] == {
        "task": "reputation.tasks.check_reputation",
        "schedule": 7200.0,
    }
    assert BEAT_SCHEDULE["reputation-prune"]["task"] == "reputation.tasks.prune_reputation_history"


def test_check_task_checks_ips_and_sender_dns(dns, make_ip):
    ip = make_ip("192.0.2.60")
    domain = SendingDomain.objects.create(domain="task.example")
    dns({"task.example": {"TXT": ["v=spf1 -all"]}})
    result = tasks.check_reputation()
    assert result["ips"] == 1 and result["unknown"] == 0
    assert ListingCheck.objects.filter(ip=ip).exists()
    domain.refresh_from_db()
    assert domain.spf_status == "valid"


def test_prune_task_reports_what_it_deleted(db):
    assert tasks.prune_reputation_history() == {
        "checks": 0,
        "snapshots": 0,
        "listings": 0,
        "check_runs": 0,
        "rotations": 0,
    }
