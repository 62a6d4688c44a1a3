"""Recurring maintenance windows: a weekly window in a time zone, its concrete occurrences,
suppression during an occurrence only, editing by API and admin (audited), and the
silences page listing upcoming occurrences."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta

import pytest

from alerts import selectors, services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Silence
from penguinmon.models import AuditLog

BERLIN_SUNDAYS = dict(
    repeat="weekly",
    weekdays=[6],
    local_start=time(2, 0),
    duration_minutes=120,
    timezone="Europe/Berlin",
)


def patch(client, api, path: str, data: dict):
    return client.patch(
        path, json.dumps(data), content_type="application/json", headers=api.headers
    )


def weekly(user=None, matchers=None, **fields) -> Silence:
    schedule = {**BERLIN_SUNDAYS, **fields}
    return services.silence_create(
        matchers=matchers if matchers is not None else {"service": "smtp"},
        comment="Sunday backups",
        user=user,
        starts_at=schedule.pop("starts_at", datetime(2027, 1, 1, tzinfo=UTC)),
        **schedule,
    )


def test_weekly_window_occurrences_keep_the_wall_clock_across_dst(db):
    weekly()
    windows = selectors.silences_between(
        start=datetime(2027, 3, 20, tzinfo=UTC), end=datetime(2027, 4, 6, tzinfo=UTC)
    )
    starts = [(w.starts_at.isoformat(), w.ends_at.isoformat()) for w in windows]
    assert starts == [
        # 02:00 CET is 01:00 UTC; the DST night (28 March) has no 02:00, so it starts at the
        # first instant after the gap; from April 02:00 CEST is 00:00 UTC.
        ("2027-03-21T01:00:00+00:00", "2027-03-21T03:00:00+00:00"),
        ("2027-03-28T01:00:00+00:00", "2027-03-28T03:00:00+00:00"),
        ("2027-04-04T00:00:00+00:00", "2027-04-04T02:00:00+00:00"),
    ]
    assert all(w.recurring and "weekly Sun 02:00 Europe/Berlin" in w.schedule for w in windows)


def test_silences_between_mixes_one_off_and_weekly_windows_and_respects_until(db):
    weekly(ends_at=datetime(2027, 3, 25, tzinfo=UTC))
    services.silence_create(
        matchers={"service": "api"},
        starts_at=datetime(2027, 3, 23, 9, tzinfo=UTC),
        ends_at=datetime(2027, 3, 23, 10, tzinfo=UTC),
        comment="API deploy",
        user=None,
    )
    windows = selectors.silences_between(
        start=datetime(2027, 3, 15, tzinfo=UTC), end=datetime(2027, 4, 15, tzinfo=UTC)
    )
    assert [(w.comment, w.starts_at.day) for w in windows] == [
        ("Sunday backups", 21),
        ("API deploy", 23),
    ]
    # A window that began before the range and still runs is included, with its real start.
    inside = selectors.silences_between(
        start=datetime(2027, 3, 21, 2, tzinfo=UTC), end=datetime(2027, 3, 21, 2, 30, tzinfo=UTC)
    )
    assert [w.starts_at.hour for w in inside] == [1]


def test_maintenance_windows_for_a_service(db):
    weekly(matchers={"service": "smtp"})
    weekly(matchers={"service": "smtp", "host": "mx-1"})  # one host: not the whole service
    weekly(matchers={"service": "api"})
    services.silence_create(
        matchers={},
        everything=True,
        starts_at=datetime(2027, 3, 22, tzinfo=UTC),
        ends_at=datetime(2027, 3, 22, 1, tzinfo=UTC),
        comment="datacentre power work",
        user=None,
    )
    span = dict(start=datetime(2027, 3, 20, tzinfo=UTC), end=datetime(2027, 3, 23, tzinfo=UTC))
    smtp = selectors.maintenance_windows(service="smtp", **span)
    assert [w.comment for w in smtp] == ["Sunday backups", "datacentre power work"]
    assert len(selectors.maintenance_windows(**span)) == 4


def test_an_alert_is_silenced_only_during_an_occurrence(
    webhook_channel,
    make_rule,
    make_channel,
    write,
    now,
    hook,
    run_deliveries,
):
    webhook_channel("pager", on_call=True)
    # Started ten minutes ago (on that day of the week, in UTC), for an hour.
    began = now - timedelta(minutes=10)
    today = Silence(
        matchers={"service": "smtp"},
        repeat="weekly",
        weekdays=[began.weekday()],
        local_start=began.time(),
        duration_minutes=60,
        timezone="UTC",
        starts_at=now - timedelta(days=30),
        comment="nightly MTA restart",
    )
    today.full_clean()
    today.save()
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "firing" and hook() == []
    assert "nightly MTA restart" in alert.events.get(kind="suppressed").message

    today.weekdays = [(began.weekday() + 1) % 7]
    today.save()
    other = make_rule()
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=2), rules=[other])
    assert len(hook()) == 1


def test_weekly_windows_by_api_create_edit_list_and_stop(api, client, db):
    resp = api.post(
        "/api/v1/silences",
        {
            "matchers": {"service": "smtp"},
            "repeat": "weekly",
            "weekdays": ["sat", "sunday"],
            "local_start": "02:00",
            "duration_minutes": 120,
            "timezone": "Europe/Berlin",
            "comment": "weekend backups",
        },
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["weekdays"] == ["sat", "sun"] and body["ends_at"] is None
    assert body["schedule"] == "weekly Sat, Sun 02:00 Europe/Berlin for 120 min"
    assert body["next_window"] is not None
    sid = body["id"]

    windows = api.get("/api/v1/silences/windows").json()  # now .. 7 days: two occurrences
    assert len(windows) == 2 and {w["silence_id"] for w in windows} == {sid}
    assert all(w["recurring"] for w in windows)

    patched = patch(client, api, f"/api/v1/silences/{sid}", {"duration_minutes": 180})
    assert patched.status_code == 200 and patched.json()["duration_minutes"] == 180
    log = AuditLog.objects.get(action="silence.update")
    assert log.changes == {"duration_minutes": {"from": 120, "to": 180}}

    bad_day = patch(client, api, f"/api/v1/silences/{sid}", {"weekdays": ["someday"]})
    assert bad_day.status_code == 400 and "someday" in bad_day.json()["error"]
    bad_zone = patch(client, api, f"/api/v1/silences/{sid}", {"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and "time zone" in bad_zone.json()["error"]
    assert Silence.objects.get(pk=sid).timezone == "Europe/Berlin"  # nothing half written

    stopped = api.post(f"/api/v1/silences/{sid}/expire")
    assert stopped.status_code == 200 and stopped.json()["next_window"] is None
    assert api.get("/api/v1/silences/windows").json() == []
    assert api.post(f"/api/v1/silences/{sid}/expire").status_code == 409


def test_weekly_window_needs_days_time_and_whole_platform_has_no_matchers(api, db):
    missing = api.post(
        "/api/v1/silences",
        {"matchers": {"service": "a"}, "repeat": "weekly", "comment": "x"},
    )
    assert missing.status_code == 400
    for word in ("weekdays", "local_start", "duration_minutes"):
        assert word in missing.json()["error"]
    both = api.post(
        "/api/v1/silences",
        {"matchers": {"service": "a"}, "everything": True, "duration_minutes": 5, "comment": "x"},
    )
    assert both.status_code == 400 and "empty" in both.json()["error"]
    ok = api.post(
        "/api/v1/silences", {"everything": True, "duration_minutes": 30, "comment": "DC move"}
    )
    assert ok.status_code == 201 and ok.json()["everything"] is True
    assert Silence.objects.count() == 1


def test_admin_edits_a_weekly_window_with_day_checkboxes_and_audits(admin_user, login_client, db):
    client = login_client(admin_user)
    resp = client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": json.dumps({"service": "smtp"}),
            "comment": "Sunday backups",
            "repeat": "weekly",
            "starts_at_0": "2027-01-01",
            "starts_at_1": "00:00:00",
            "weekdays": ["5", "6"],
            "local_start": "02:00",
            "duration_minutes": "90",
            "timezone": "Europe/Berlin",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[-2000:]
    silence = Silence.objects.get()
    assert silence.weekdays == [5, 6] and silence.created_by == admin_user
    assert AuditLog.objects.filter(action="admin.add", target_id=str(silence.pk)).exists()

    page = client.get(f"/admin/alerts/silence/{silence.pk}/change/")
    assert page.status_code == 200
    assert re.search(r'value="6"[^>]*checked', page.content.decode())
    assert not re.search(r'value="0"[^>]*checked', page.content.decode())


def test_silences_page_lists_upcoming_occurrences_and_creates_weekly_windows(
    login_client, make_user, db
):
    client = login_client(make_user("on-call"))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).weekday()
    resp = client.post(
        "/alerts/silences/",
        {
            "matchers": "service=smtp",
            "duration_minutes": 60,
            "comment": "patch night",
            "repeat": "weekly",
            "weekdays": [str(tomorrow)],
            "local_start": "03:30",
            "timezone": "UTC",
        },
    )
    assert resp.status_code == 302
    page = client.get("/alerts/silences/").content.decode()
    upcoming = page.split("Upcoming")[1].split("Recurring")[0]
    assert "patch night" in upcoming and "03:30" in upcoming
    assert "Stop repeating" in page

    bad = client.post(
        "/alerts/silences/",
        {"matchers": "service=smtp", "duration_minutes": 60, "comment": "x", "repeat": "weekly"},
    )
    assert bad.status_code == 400 and "pick at least one day" in bad.content.decode()


@pytest.mark.parametrize("names", [["mon", "Tuesday"], [0, 1], ["0", "tue"]])
def test_weekday_names_and_numbers(names):
    from alerts.models import parse_weekdays

    assert parse_weekdays(names) == [0, 1]


def test_services_page_marks_a_service_in_maintenance(admin_user, login_client, db):
    from collectors.models import Service

    Service.objects.create(name="mx-relay", display_name="MX relay", kind="smtp")
    Service.objects.create(name="billing-api", display_name="Billing API", kind="http")
    now = datetime.now(UTC)
    services.silence_create(
        matchers={"service": "mx-relay"},
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
        comment="relay upgrade",
        user=None,
    )
    page = login_client(admin_user).get("/services/").content.decode()
    relay = page.split('data-service="mx-relay"')[1].split("</header>")[0]
    billing = page.split('data-service="billing-api"')[1].split("</header>")[0]
    assert ">maintenance<" in relay and "relay upgrade" in relay
    assert ">maintenance<" not in billing
