"""One rule or one series that cannot be evaluated is visible (the rule's state, the rules page,
the health grid, its own alert) while every other rule fires, resolves and notifies on time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from alerts.evaluation import evaluate_rules
from alerts.models import EVAL_ERROR_KEY, Alert, AlertRule, Delivery
from collectors.models import Service
from collectors.store import write_samples
from collectors.store.ingest import MAX_LABEL_VALUE
from collectors.store.query import MAX_SERIES
from dashboards.panels.health import service_cards
from dashboards.timerange import parse_range
from incidents.models import Incident


@pytest.fixture
def pager(webhook_channel):
    return webhook_channel("pager", on_call=True)


@pytest.fixture
def poison():
    """A real database fault on one series: a trigger refuses to store any alert for the
    service "poison" (as a column too short for a label value once did, with a DataError)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            CREATE FUNCTION pm_test_poison() RETURNS trigger AS $$
            BEGIN
              IF NEW.service = 'poison' THEN
                RAISE EXCEPTION 'value too long for type character varying(100)'
                  USING ERRCODE = 'string_data_right_truncation';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER pm_test_poison BEFORE INSERT ON alerts_alert
              FOR EACH ROW EXECUTE FUNCTION pm_test_poison();
            """
        )

    def cure():
        with connection.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS pm_test_poison ON alerts_alert")

    yield cure
    cure()
    with connection.cursor() as cur:
        cur.execute("DROP FUNCTION IF EXISTS pm_test_poison()")


def test_every_column_a_label_value_lands_in_holds_the_ingest_limit():
    for model in (Alert, Incident):
        assert model._meta.get_field("service").max_length >= MAX_LABEL_VALUE


def test_a_service_label_as_long_as_ingest_allows_fires_an_alert(make_rule, write, now):
    rule = make_rule()
    service = "s" * MAX_LABEL_VALUE
    write("smtp_queue_size", 20_000, now, service=service)
    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert summary.fired == 1 and not summary.failures
    assert Alert.objects.get(rule=rule).service == service


def test_a_series_the_database_refuses_marks_its_rule_and_the_rest_fire(
    make_rule, write, now, poison, pager, hook, run_deliveries
):
    smtp = make_rule(name="SMTP queue")
    other = make_rule(name="Other queue", label_filters={"service": "mta-2"})
    write("smtp_queue_size", 20_000, now, service="poison")
    write("smtp_queue_size", 20_000, now, service="smtp")
    write("smtp_queue_size", 30_000, now, service="mta-2")

    with run_deliveries():
        summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[smtp, other])

    # the healthy series of the same rule and the other rule fired and were notified
    firing = Alert.objects.filter(state="firing").exclude(label_key=EVAL_ERROR_KEY)
    assert sorted(firing.values_list("service", flat=True)) == ["mta-2", "mta-2", "smtp"]
    smtp.refresh_from_db()
    assert "service=poison" in smtp.eval_error and "DataError: value too long" in smtp.eval_error
    assert smtp.eval_error_since is not None
    # ...and the rule's own "cannot evaluate" alert fired and paged like any critical alert
    own = Alert.objects.get(rule=smtp, label_key=EVAL_ERROR_KEY)
    assert own.state == "firing" and own.severity == "critical"
    assert own.message.startswith("SMTP queue cannot evaluate: series {service=poison}")
    assert summary.cannot_evaluate == 1
    assert own.pk in [m["alert_id"] for m in hook()]
    assert Delivery.objects.filter(alert=own, status="sent").count() == 1

    poison()  # the fault goes away: the series is evaluated and the rule's alert resolves
    with run_deliveries():
        summary = evaluate_rules(now=now + timedelta(seconds=2), rules=[smtp, other])
    smtp.refresh_from_db()
    assert smtp.eval_error == "" and smtp.eval_error_since is None
    own.refresh_from_db()
    assert own.state == "resolved"
    assert Alert.objects.filter(rule=smtp, service="poison", state="firing").exists()
    assert [m["event"] for m in hook() if m["alert_id"] == own.pk] == ["trigger", "resolve"]


def test_a_rule_whose_read_fails_is_shown_on_the_rules_page_and_health_grid(
    make_rule, now, login_client, make_user
):
    Service.objects.get_or_create(name="smtp", defaults={"display_name": "SMTP", "kind": "smtp"})
    broken = make_rule(name="Queue per host", label_filters={"service": "smtp"})
    healthy = make_rule(name="Any other queue", label_filters={"service": "mta-2"})
    # More series with data in the window than one read may return.
    write_samples(
        [
            {
                "metric": "smtp_queue_size",
                "labels": {"service": "smtp", "host": f"h{i}"},
                "value": 1,
            }
            for i in range(MAX_SERIES + 1)
        ]
        + [{"metric": "smtp_queue_size", "labels": {"service": "mta-2"}, "value": 50_000}]
    )
    summary = evaluate_rules(now=now + timedelta(seconds=6), rules=[broken, healthy])
    assert Alert.objects.get(rule=healthy).state == "firing"
    assert list(summary.failures) == [broken.pk]

    page = login_client(make_user("on-call")).get("/alerts/rules/").content.decode()
    assert "cannot evaluate" in page and f"more than {MAX_SERIES} series match" in page
    card = {c.name: c for c in service_cards(parse_range({"range": "24h"}))}["smtp"]
    assert any("Queue per host cannot evaluate" in w for w in card.warnings)
    assert AlertRule.objects.get(pk=healthy.pk).eval_error == ""
