"""Queue backlogs on the operations page are a trend, not only a number on a card: one line per
SMTP service and per Celery queue, past the 10k alert threshold in red."""

from __future__ import annotations

from datetime import timedelta

from dashboards.pages import page_by_slug
from dashboards.panels.base import render
from dashboards.panels.figures import BAD_RED, NEAR_AMBER


def test_backlogs_are_lines_with_the_alert_threshold_marked(store, now, day):
    store.samples(
        [
            {"metric": "smtp_queue_size", "labels": {"service": "smtp"}, "value": v, "ts": t}
            for v, t in (
                (300.0, now - timedelta(hours=5)),
                (6_000.0, now - timedelta(hours=3)),
                (12_500.0, now - timedelta(hours=1)),
            )
        ]
        + [
            {
                "metric": "celery_queue_length",
                "labels": {"queue": "celery"},
                "value": 40.0,
                "ts": now - timedelta(hours=2),
            },
        ]
    )
    rendered = render(page_by_slug("operations").panel("queue-backlogs"), day)
    lines = {line.name: [v for _, v in line.points] for line in rendered.data.lines}
    assert set(lines) == {"smtp", "celery"}
    assert max(lines["smtp"]) == 12_500.0 and min(lines["smtp"]) == 300.0
    assert lines["celery"] == [40.0]
    markers = {
        t["marker"]["color"]: sorted(t["y"])
        for t in rendered.figure["data"]
        if t.get("mode") == "markers" and t.get("y")
    }
    assert markers.get(BAD_RED) == [12_500.0] and markers.get(NEAR_AMBER) == [6_000.0]
    assert rendered.figure["layout"]["yaxis"]["title"]["text"] == "messages"


def test_operations_page_shows_the_backlog_chart(store, now, make_user, login_client):
    client = login_client(make_user("on-call"))
    html = client.get("/dashboard/operations/").content.decode()
    assert 'id="panel-queue-backlogs"' in html and "Queue backlogs" in html
