"""The on-call "now" strip: one read (alerts.now.on_call_now) shown on the home page, the
operations and infrastructure dashboards, and the red "nobody will be paged" banner."""

from __future__ import annotations

from datetime import timedelta

from alerts import services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert
from alerts.now import on_call_now
from collectors.models import Host, Probe, Service


def _fire(make_rule, write, now, *, severity: str, service: str, message: str):
    rule = make_rule(
        severity=severity, message_template=message, label_filters={"service": service}
    )
    write("smtp_queue_size", 20_000, now, service=service)
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return Alert.objects.get(rule=rule, service=service)


def _down_service(now) -> Service:
    svc = Service.objects.create(name="mailer", display_name="Mailer", kind="smtp")
    Probe.objects.create(
        service=svc,
        name="smtp",
        kind="tcp",
        config={"host": "127.0.0.1", "port": 25},
        last_run_at=now,
        last_ok=False,
        consecutive_failures=5,
        last_message="connection refused",
    )
    return svc


def test_it_lists_firing_alerts_by_severity_then_age_with_the_acknowledger(
    make_rule, write, now, make_user
):
    warning = _fire(make_rule, write, now, severity="warning", service="w", message="queue warm")
    older = _fire(
        make_rule,
        write,
        now - timedelta(minutes=30),
        severity="critical",
        service="a",
        message="old critical",
    )
    newer = _fire(make_rule, write, now, severity="critical", service="b", message="new critical")
    services.alert_acknowledge(alert=older, user=make_user("on-call", username="olive"))

    strip = on_call_now(now=now + timedelta(minutes=5))

    assert [f.alert.pk for f in strip.alerts] == [newer.pk, older.pk, warning.pk]
    assert strip.counts == {"critical": 2, "warning": 1, "info": 0}
    assert strip.unacknowledged == 2
    assert strip.alerts[1].alert.acknowledged_by.username == "olive"
    assert strip.alerts[1].age >= timedelta(minutes=34)


def test_it_names_down_services_hosts_over_thresholds_and_stale_hosts(db, now):
    _down_service(now)
    Host.objects.create(
        name="db-1", last_sample_at=now, cpu_percent=99.7, memory_percent=40, disks={"/": 85.0}
    )
    Host.objects.create(name="web-1", last_sample_at=now, cpu_percent=20, memory_percent=30)
    Host.objects.create(name="old-1", last_sample_at=now - timedelta(hours=1), cpu_percent=10)

    strip = on_call_now(now=now)

    down = [s for s in strip.services if s.name == "mailer"]
    assert down and down[0].status == "down" and "connection refused" in down[0].reason
    hosts = {h.name: h for h in strip.hosts}
    assert set(hosts) == {"db-1", "old-1"}
    assert hosts["db-1"].level == "over"
    assert hosts["db-1"].summary == "CPU 99.7%, disk / 85.0%"
    assert hosts["old-1"].level == "stale"


def test_a_service_whose_probe_stopped_reporting_is_stale(db, now):
    svc = Service.objects.create(name="quiet", display_name="Quiet", kind="api")
    Probe.objects.create(
        service=svc,
        name="health",
        kind="tcp",
        config={"host": "127.0.0.1", "port": 1},
        interval_seconds=30,
        last_run_at=now - timedelta(minutes=10),
        last_ok=True,
        last_message="open",
    )
    (quiet,) = [s for s in on_call_now(now=now).services if s.name == "quiet"]
    assert quiet.status == "stale"
    assert "no result since" in quiet.reason


def test_nobody_is_paged_without_an_enabled_on_call_channel(db, make_channel):
    assert on_call_now().nobody_paged
    make_channel(
        "slack", config={"webhook_url": "http://127.0.0.1:9/x"}, on_call=True, enabled=False
    )
    assert on_call_now().nobody_paged
    make_channel(
        "slack", name="ops-slack", config={"webhook_url": "http://127.0.0.1:9/y"}, on_call=True
    )
    assert on_call_now().paging_channels == ["ops-slack"]


def test_home_operations_and_infrastructure_show_the_same_strip(
    login_client, make_user, make_rule, write, now
):
    _fire(make_rule, write, now, severity="critical", service="smtp-eu", message="SMTP queue 20k")
    client = login_client(make_user("on-call"))
    for path in [
        "/",
        "/dashboard/operations/",
        "/dashboard/system/infrastructure/",
        "/alerts/now/",
    ]:
        html = client.get(path).content.decode()
        assert "SMTP queue 20k" in html, path
        assert "1 ERROR" in html, path
        assert "Nobody will be paged" in html, path


def test_the_banner_goes_when_a_channel_pages_and_other_roles_keep_their_home(
    login_client, make_user, make_channel, make_rule, write, now
):
    make_channel("slack", config={"webhook_url": "http://127.0.0.1:9/x"}, on_call=True)
    client = login_client(make_user("on-call"))
    html = client.get("/alerts/").content.decode()
    assert "Nobody will be paged" not in html
    client = login_client(make_user("executive"))
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"] == "/dashboard/executive/"
    assert "Nobody will be paged" not in client.get("/dashboard/executive/").content.decode()
