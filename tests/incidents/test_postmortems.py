"""Postmortems: only on resolved incidents, impact from the store, a pre-filled timeline,
corrective actions (due dates, overdue), the Markdown export, the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.models import Alert
from collectors.store import write_samples
from incidents.models import CorrectiveAction, Deployment, Incident, Postmortem
from incidents.postmortem_services import (
    missing_postmortem_ids,
    overdue_actions,
    postmortem_impact,
    postmortem_markdown,
    postmortem_save,
)
from incidents.services import incident_create, incident_create_from_alert, incident_update
from incidents.updates import update_post


@pytest.fixture
def oncall(make_user):
    return make_user("on-call", username="oncall")


@pytest.fixture
def resolved(oncall):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    incident = incident_create(
        title="api 5xx",
        severity="critical",
        service="api",
        user=oncall,
        started_at=now - timedelta(minutes=30),
    )
    update_post(incident=incident, user=oncall, status="identified", message="bad config")
    incident_update(incident=incident, user=oncall, status="resolved")
    incident.refresh_from_db()
    return incident


def _action(**kw) -> dict:
    row = {
        "title": "Alert on config drift",
        "owner": "sam",
        "due_on": timezone.localdate() + timedelta(days=14),
        "status": "open",
        "link": "https://tickets.example.test/OPS-1",
    }
    row.update(kw)
    return row


def test_a_postmortem_needs_a_resolved_incident(oncall):
    incident = incident_create(title="x", severity="critical", user=oncall)
    with pytest.raises(ValidationError) as exc:
        postmortem_save(incident=incident, user=oncall, summary="too early")
    assert "incident" in exc.value.message_dict
    assert Postmortem.objects.count() == 0


def test_a_past_due_date_is_refused_and_nothing_is_written(resolved, oncall):
    with pytest.raises(ValidationError) as exc:
        postmortem_save(
            incident=resolved,
            user=oncall,
            summary="s",
            actions=[_action(), _action(due_on=timezone.localdate() - timedelta(days=1))],
        )
    assert list(exc.value.message_dict) == ["actions[1].due_on"]
    assert "is in the past" in exc.value.message_dict["actions[1].due_on"][0]
    assert Postmortem.objects.count() == 0 and CorrectiveAction.objects.count() == 0


def test_an_action_that_became_overdue_can_still_be_edited(resolved, oncall):
    pm = postmortem_save(incident=resolved, user=oncall, summary="s", actions=[_action()])
    action = pm.actions.get()
    CorrectiveAction.objects.filter(pk=action.pk).update(due_on=date(2020, 1, 1))
    assert [a.pk for a in overdue_actions()] == [action.pk]
    postmortem_save(
        incident=resolved,
        user=oncall,
        summary="s",
        actions=[_action(id=action.pk, due_on=date(2020, 1, 1), status="done")],
    )
    action.refresh_from_db()
    assert action.status == "done" and action.done_at is not None
    assert overdue_actions() == []


def test_impact_comes_from_the_store(resolved):
    at = resolved.started_at + timedelta(minutes=5)
    samples = []
    for tenant, ok, failed in (("acme", 90, 10), ("globex", 50, 0)):
        for cls, value in (("2xx", ok), ("5xx", failed)):
            samples.append(
                {
                    "metric": "http_requests",
                    "labels": {"service": "api", "status_class": cls, "tenant": tenant},
                    "value": value,
                    "ts": at,
                }
            )
    samples.append(  # another service's failures are not this incident's
        {
            "metric": "http_requests",
            "labels": {"service": "tracking", "status_class": "5xx"},
            "value": 99,
            "ts": at,
        }
    )
    write_samples(samples)
    impact = postmortem_impact(resolved)
    assert impact["requests_total"] == 150
    assert impact["requests_failed"] == 10
    assert impact["failed_pct"] == round(100 * 10 / 150, 3)
    assert impact["tenants_affected"] == ["acme"]
    assert 29 <= impact["duration_minutes"] <= 31


def test_impact_says_when_the_data_is_missing(resolved):
    impact = postmortem_impact(resolved)
    assert impact["requests_failed"] is None and impact["tenants_affected"] is None


def test_timeline_is_prefilled_from_alerts_updates_and_deployments(oncall, make_rule):
    now = timezone.now()
    Deployment.objects.create(
        service="api",
        version="v41",
        status="succeeded",
        started_at=now - timedelta(days=3),
        finished_at=now - timedelta(days=3),
    )
    Deployment.objects.create(  # too long before: not in the timeline
        service="api",
        version="v30",
        status="succeeded",
        started_at=now - timedelta(days=20),
        finished_at=now - timedelta(days=20),
    )
    rule = make_rule(service="api")
    alert = Alert.objects.create(
        rule=rule,
        service="api",
        state="acknowledged",
        severity="critical",
        message="p95 over 1 s",
        last_evaluated_at=now,
        started_at=now - timedelta(minutes=20),
        fired_at=now - timedelta(minutes=19),
        acknowledged_at=now - timedelta(minutes=15),
        acknowledged_by=oncall,
    )
    incident = incident_create_from_alert(alert=alert, user=oncall)
    update_post(incident=incident, user=oncall, status="identified", message="v41 slow query")
    incident_update(incident=incident, user=oncall, status="resolved")
    pm = postmortem_save(incident=incident, user=oncall, summary="slow query in v41")
    text = pm.timeline
    assert "deployment" in text and "v41" in text and "v30" not in text
    assert f"alert #{alert.pk} fired: p95 over 1 s" in text
    assert f"alert #{alert.pk} acknowledged by oncall" in text
    assert "internal update (identified) by oncall: v41 slow query" in text
    lines = text.splitlines()
    stamps = [line[:19] for line in lines]
    assert stamps == sorted(stamps)  # time order
    assert lines[0].endswith("to production: succeeded")


def test_markdown_export_has_every_part_and_escapes_html(resolved, oncall):
    pm = postmortem_save(
        incident=resolved,
        user=oncall,
        summary="<script>alert(1)</script> config push",
        five_whys=["errors", "bad config", "no validation", "", ""],
        root_cause="unvalidated config",
        contributing_factors="friday deploy",
        review_meeting_on=timezone.localdate() + timedelta(days=2),
        actions=[_action()],
    )
    md = postmortem_markdown(pm)
    assert md.startswith(f"# Postmortem: incident #{resolved.pk} api 5xx")
    assert "blameless" in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; config push" in md and "<script>" not in md
    assert "1. errors\n2. bad config\n3. no validation\n" in md
    assert "| Alert on config drift | sam |" in md
    assert "## Contributing factors\n\nfriday deploy" in md


def test_critical_incidents_without_a_postmortem_are_listed(client, resolved, oncall):
    client.force_login(oncall)
    assert missing_postmortem_ids() == {resolved.pk}
    page = client.get("/incidents/").content.decode()
    assert "postmortem missing" in page and "1 resolved critical incident without" in page
    postmortem_save(incident=resolved, user=oncall, summary="s")
    assert missing_postmortem_ids() == set()
    assert "postmortem missing" not in client.get("/incidents/").content.decode()


def _form(summary="Config push broke the API", **actions) -> dict:
    data = {
        "summary": summary,
        "timeline": "",
        "why_1": "errors",
        "review_meeting_on": "",
        "actions-TOTAL_FORMS": "2",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
    }
    data.update(actions)
    return data


def test_form_refuses_an_open_incident(client, oncall):
    incident = incident_create(title="x", severity="critical", user=oncall)
    client.force_login(oncall)
    page = client.get(f"/incidents/{incident.pk}/postmortem/")
    assert "a postmortem is written once it is resolved" in page.content.decode()
    r = client.post(f"/incidents/{incident.pk}/postmortem/", _form())
    assert r.status_code == 400
    assert "a postmortem follows its resolution" in r.content.decode()
    assert Postmortem.objects.count() == 0


def test_form_names_the_past_due_date_field(client, resolved, oncall):
    client.force_login(oncall)
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    r = client.post(
        f"/incidents/{resolved.pk}/postmortem/",
        _form(
            **{
                "actions-0-title": "Fix it",
                "actions-0-owner": "sam",
                "actions-0-due_on": past,
                "actions-0-status": "open",
            }
        ),
    )
    assert r.status_code == 400
    assert f"the due date {past} is in the past" in r.content.decode()
    assert Postmortem.objects.count() == 0


def test_form_saves_escapes_and_lists(client, resolved, oncall):
    client.force_login(oncall)
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    r = client.post(
        f"/incidents/{resolved.pk}/postmortem/",
        _form(
            summary="<b>bold</b> move",
            **{
                "actions-0-title": "Validate config",
                "actions-0-owner": "sam",
                "actions-0-due_on": due,
                "actions-0-status": "open",
                "actions-0-link": "https://tickets.example.test/1",
            },
        ),
    )
    assert r.status_code == 302
    pm = Postmortem.objects.get()
    assert pm.actions.count() == 1 and pm.five_whys == ["errors"]
    page = client.get(f"/incidents/{resolved.pk}/postmortem/").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt; move" in page and "<b>bold</b>" not in page
    listing = client.get("/incidents/postmortems/").content.decode()
    assert f"#{resolved.pk} api 5xx" in listing
    md = client.get(f"/incidents/{resolved.pk}/postmortem.md")
    assert md["Content-Type"].startswith("text/markdown")
    assert "Validate config" in md.content.decode()


def test_roles_that_cannot_manage_incidents_only_read(client, resolved, make_user):
    client.force_login(make_user("development"))
    assert client.get(f"/incidents/{resolved.pk}/postmortem/").status_code == 200
    r = client.post(f"/incidents/{resolved.pk}/postmortem/", _form())
    assert r.status_code == 302 and Postmortem.objects.count() == 0


def test_incident_status_unchanged_by_postmortem(resolved, oncall):
    postmortem_save(incident=resolved, user=oncall, summary="s")
    assert Incident.objects.get(pk=resolved.pk).status == "resolved"


def test_impact_includes_the_error_budget_consumed(oncall):
    from collectors.models import Service, Status, StatusChange
    from incidents.slo.services import slo_create

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    service = Service.objects.create(name="mta-pm", display_name="MTA", kind="smtp")
    for at, old, new in (
        (now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY),  # a full 30-day window
        (now - timedelta(hours=5), Status.HEALTHY, Status.DOWN),
        (now - timedelta(hours=5) + timedelta(minutes=20), Status.DOWN, Status.HEALTHY),
    ):
        StatusChange.objects.create(service=service, at=at, old_status=old, new_status=new)
    slo_create(name="MTA up", service="mta-pm", sli_kind="availability", objective_pct=99.9)
    incident = Incident.objects.create(
        title="MTA down",
        service="mta-pm",
        severity="critical",
        started_at=now - timedelta(hours=5),
        resolved_at=now - timedelta(hours=5) + timedelta(minutes=20),
        status="resolved",
    )
    [budget] = postmortem_impact(incident)["error_budget"]
    assert budget["slo"] == "MTA up"
    assert budget["consumed_pct"] == pytest.approx(100 * 20 / 43.2, abs=0.01)
    pm = postmortem_save(incident=incident, user=oncall, summary="s")
    assert "Error budget of SLO MTA up (99.9%): 46.3" in postmortem_markdown(pm)
