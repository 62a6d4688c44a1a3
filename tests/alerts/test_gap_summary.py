"""After the evaluator itself was down (no full cycle for more than 3 intervals), the first
cycle sends one summary per channel for all its transitions instead of one message per alert
(healthchecks #664); the cycles after it notify one by one again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.evaluation import evaluate_rules, record_cycle
from alerts.models import Alert, AlertRule, Channel, Delivery, EvaluatorState


@pytest.fixture
def receivers(httpserver):
    for path in ("/oncall", "/chat", "/pd"):
        httpserver.expect_request(path).respond_with_data("ok")

    def received(path: str) -> list[dict]:
        return [r.get_json() for r, _ in httpserver.log if r.path == path]

    received.url = httpserver.url_for
    return received


def test_first_cycle_after_a_gap_sends_one_summary_per_channel(
    make_rule, make_channel, write, now, receivers, run_deliveries
):
    hook = {"secret": "k"}
    make_channel(
        "webhook", name="on-call", config={**hook, "url": receivers.url("/oncall")}, on_call=True
    )
    make_channel("webhook", name="chat", config={**hook, "url": receivers.url("/chat")}, chat=True)
    mine = [
        make_rule(name="queue mx-1", label_filters={"host": "mx-1"}),
        make_rule(name="queue mx-2", label_filters={"host": "mx-2"}),
        make_rule(name="queue mx-3", label_filters={"host": "mx-3"}),
        make_rule(name="queue warning", severity="warning", threshold=5_000),
    ]
    AlertRule.objects.exclude(pk__in=[r.pk for r in mine]).update(enabled=False)

    before = now - timedelta(minutes=10)
    write("smtp_queue_size", 20_000, before, service="smtp", host="mx-3")
    with run_deliveries():
        evaluate_rules(now=before + timedelta(seconds=1))  # the monitor's last cycle
    assert [m["event"] for m in receivers("/oncall")] == ["trigger"]  # mx-3, on its own

    # Ten minutes without evaluation. Meanwhile mx-1 and mx-2 filled up and mx-3 drained.
    write("smtp_queue_size", 20_000, now, service="smtp", host="mx-1")
    write("smtp_queue_size", 30_000, now, service="smtp", host="mx-2")
    with run_deliveries():
        summary = evaluate_rules(now=now + timedelta(seconds=1))
    assert summary.gap_seconds == 600 and summary.summaries == 2

    oncall = receivers("/oncall")[1:]
    assert [m["event"] for m in oncall] == ["summary"]  # one message, not three
    body = oncall[0]
    assert body["title"] == "PenguinMon resumed after an evaluation gap: 2 firing, 1 resolved"
    assert [line.split("]")[0] for line in body["lines"]] == [
        "- [FIRING",
        "- [FIRING",
        "- [RESOLVED",
    ]
    assert "mx-3" in body["lines"][2] or "queue mx-3" in body["lines"][2]
    # The warning rule (it fired on mx-3 before; now mx-3 drained and mx-1, mx-2 filled up) went
    # to chat as one summary too, both new warnings in it despite the one-per-hour limit.
    chat = receivers("/chat")
    assert [m["event"] for m in chat] == ["trigger", "summary"] and len(chat[1]["lines"]) == 3

    firing = Alert.objects.filter(state="firing", rule__in=mine[:2])
    assert all(a.notified for a in firing)  # so acks and resolutions are announced later
    assert "in the summary after a 10 min evaluation gap" in firing[0].events.last().message
    state = EvaluatorState.objects.get()
    assert state.last_gap_seconds == 600 and state.last_cycle_at == now + timedelta(seconds=1)

    # The next cycle is on time: a new alert is notified on its own again.
    write("smtp_queue_size", 20_000, now + timedelta(seconds=2), service="smtp", host="mx-3")
    with run_deliveries():
        again = evaluate_rules(now=now + timedelta(seconds=16))
    assert again.gap_seconds is None
    assert [m["event"] for m in receivers("/oncall")][-1] == "trigger"
    assert Delivery.objects.filter(event="summary").count() == 2


def test_pagerduty_gets_one_summary_incident_but_per_alert_resolves(
    make_rule, make_channel, write, now, receivers, run_deliveries
):
    make_channel(
        "pagerduty",
        name="pd",
        config={"routing_key": "R1", "url": receivers.url("/pd")},
        on_call=True,
    )
    rules = [make_rule(name=f"q{i}", label_filters={"host": f"mx-{i}"}) for i in (1, 2, 3)]
    AlertRule.objects.exclude(pk__in=[r.pk for r in rules]).update(enabled=False)
    before = now - timedelta(minutes=5)
    write("smtp_queue_size", 20_000, before, service="smtp", host="mx-3")
    with run_deliveries():
        evaluate_rules(now=before + timedelta(seconds=1))
    write("smtp_queue_size", 20_000, now, service="smtp", host="mx-1")
    write("smtp_queue_size", 20_000, now, service="smtp", host="mx-2")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1))
    sent = [(m["event_action"], m["dedup_key"]) for m in receivers("/pd")]
    mx3 = Alert.objects.get(rule=rules[2]).pk
    assert sent[0] == ("trigger", f"penguinmon-alert-{mx3}")
    after_gap = sorted(sent[1:])
    # mx-3's incident is closed under its own key; mx-1 and mx-2 page once, together.
    assert after_gap[0] == ("resolve", f"penguinmon-alert-{mx3}")
    assert len(after_gap) == 2 and after_gap[1][0] == "trigger"
    assert after_gap[1][1].startswith("penguinmon-summary-")
    assert Channel.objects.count() == 1


def test_gap_is_measured_between_full_cycles_only(db, make_rule, now):
    assert record_cycle(now) is None  # the first cycle ever: nothing to compare with
    assert record_cycle(now + timedelta(seconds=45)) is None  # three intervals: on time
    assert record_cycle(now + timedelta(seconds=91)) == timedelta(seconds=46)
    # A partial evaluation (named rules) does not move the clock.
    evaluate_rules(now=now + timedelta(hours=1), rules=[make_rule()])
    assert EvaluatorState.objects.get().last_cycle_at == now + timedelta(seconds=91)
