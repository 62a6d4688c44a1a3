"""The maintenance panel lists the windows of the page's range and the next 7 days: one-off
silences and each occurrence of weekly maintenance windows, with whether each is in force."""

from __future__ import annotations

from datetime import timedelta

from alerts import services
from dashboards.panels.base import render
from dashboards.panels.feeds import MaintenancePanel


def test_maintenance_panel_shows_current_recent_and_upcoming_windows(db, make_user, day, now):
    user = make_user("operations", username="olga")

    def once(comment, start, end, **matchers):
        services.silence_create(
            matchers=matchers, starts_at=start, ends_at=end, comment=comment, user=user
        )

    once("MTA upgrade", now - timedelta(minutes=30), now + timedelta(hours=1), service="smtp")
    once("DNS cut-over", now - timedelta(hours=5), now - timedelta(hours=4), service="dns")
    once("old window", now - timedelta(days=3), now - timedelta(days=2), service="api")
    once("next month", now + timedelta(days=20), now + timedelta(days=21), service="api")
    in_three_days = now + timedelta(days=3)
    services.silence_create(
        matchers={"service": "postgres"},
        starts_at=now - timedelta(days=1),
        repeat="weekly",
        weekdays=[in_three_days.weekday()],
        local_start=in_three_days.time(),
        duration_minutes=45,
        timezone="UTC",
        comment="vacuum full",
        user=user,
    )

    table = render(MaintenancePanel(), day).table
    rows = {r[3]: r for r in table.rows}
    assert list(rows) == ["DNS cut-over", "MTA upgrade", "vacuum full"]  # time order
    assert rows["MTA upgrade"][2] == "service=smtp" and rows["MTA upgrade"][4] == "olga"
    assert rows["MTA upgrade"][5] == "in force"
    assert rows["DNS cut-over"][5] == "ended"
    vacuum = rows["vacuum full"]
    assert vacuum[0] == in_three_days and vacuum[1] == in_three_days + timedelta(minutes=45)
    assert vacuum[5].startswith("upcoming · weekly")
