"""Table-traffic heatmap and the tenant scaling projection (seed 001)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from collectors.monitoring.probes.postgres import traffic_level
from dashboards import reference, selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import Panel, Table, base_layout, plot_times
from dashboards.selectors import Line
from dashboards.timerange import TimeRange


@dataclass
class TableTraffic:
    table: str
    line: Line
    avg: float
    peak: float
    level: str
    band: reference.TableBand | None

    @property
    def level_word(self) -> str:
        return reference.LEVEL_WORDS.get(self.level, self.level.lower())

    @property
    def expected(self) -> str:
        if self.band is None:
            return "not in seed 001"
        word = reference.LEVEL_WORDS.get(self.band.level, self.band.level.lower())
        return f"{word} traffic {self.band.low:,}–{self.band.high:,}/h"

    @property
    def verdict(self) -> str:
        if self.band is None:
            return ""
        if self.peak > self.band.high:
            return "above planned band"
        if self.avg < self.band.low:
            return "below planned band"
        return "within planned band"


class TableHeatmapPanel(Panel):
    key = "table-traffic"
    title = "Table traffic (operations/hour)"
    description = (
        "Inserts, updates, deletes and scans per hour per table; traffic levels (very high, "
        "high, medium, low) are seed 001's planned volumes, not alarms."
    )
    template = "dashboards/panels/heatmap.html"
    wide = True

    def query(self, tr: TimeRange) -> list[TableTraffic]:
        out = []
        # At most ~120 columns: a heatmap cell narrower than a few pixels shows nothing more.
        step = tr.step * max(1, round(tr.length.total_seconds() / tr.step / 120))
        for line in selectors.lines(
            "table_ops_per_hour", tr, agg="avg", by="table", combine="sum", step=step
        ):
            values = [v for _, v in line.points]
            if not values:
                continue
            avg = sum(values) / len(values)
            out.append(
                TableTraffic(
                    line.name,
                    line,
                    avg,
                    max(values),
                    traffic_level(avg),
                    reference.TABLE_TRAFFIC.get(line.name),
                )
            )
        return sorted(out, key=lambda t: t.avg)

    def figure(self, data: list[TableTraffic], tr: TimeRange) -> fg.Figure:
        xs = sorted({ts for t in data for ts, _ in t.line.points})
        index = {ts: i for i, ts in enumerate(xs)}
        z, text = [], []
        for t in data:
            row: list[float | None] = [None] * len(xs)
            raw: list[str] = [""] * len(xs)
            for ts, v in t.line.points:
                row[index[ts]] = math.log10(max(v, 1.0))
                raw[index[ts]] = f"{v:,.0f}/h"
            z.append(row)
            text.append(raw)
        fig = fg.Figure(
            layout=base_layout(height=max(260, 60 + 22 * len(data)), hovermode="closest")
        )
        fig.add_trace(
            fg.Heatmap(
                x=plot_times(xs),
                y=[f"{t.table} · {t.level_word} traffic" for t in data],
                z=z,
                text=text,
                hovertemplate="%{y}<br>%{x}<br>%{text}<extra></extra>",
                colorscale=[[0, "#eaf2fb"], [0.45, "#f7d774"], [0.7, "#ef8a3c"], [1, "#b3261e"]],
                zmin=2,
                zmax=6.3,
                colorbar={
                    "title": {"text": "ops/h"},
                    "tickvals": [2, 3, 4, 5, 6],
                    "ticktext": ["100", "1K", "10K", "100K", "1M"],
                    "thickness": 10,
                },
            )
        )
        fig.update_layout(margin={"l": 48, "r": 12, "t": 8, "b": 36})
        return fig

    def table(self, data: list[TableTraffic], tr: TimeRange) -> Table:
        rows = [
            [
                t.table,
                t.band.category if t.band else "",
                t.level_word,
                round(t.avg),
                round(t.peak),
                t.expected,
                t.verdict,
            ]
            for t in sorted(data, key=lambda t: -t.avg)
        ]
        return Table(
            [
                "table",
                "category",
                "traffic level (measured avg)",
                "avg ops/h",
                "peak ops/h",
                "seed 001 band",
                "verdict",
            ],
            rows,
        )

    def context(self, data: list[TableTraffic], tr: TimeRange) -> dict:
        return {"empty": not data}


@dataclass
class ScalingData:
    tenants: float | None
    tier: reference.ScaleTier | None
    emails_per_day: float | None
    concurrent_users: float | None


class ScalingPanel(Panel):
    key = "scaling"
    title = "Scaling projection by tenant count"
    description = (
        "Seed 001 tiers; the row for the current count of active tenants (tenants_active, the "
        "platform's own count: every tenant, not only the tracked accounts) is highlighted."
    )
    template = "dashboards/panels/scaling.html"

    def query(self, tr: TimeRange) -> ScalingData:
        tenants = selectors.scalar("tenants_active", tr.start, tr.end, agg="last", combine="sum")
        day_start = max(tr.start, tr.end - timedelta(days=1))
        emails = selectors.scalar("emails_sent", day_start, tr.end, agg="sum", combine="sum")
        if emails is not None and tr.end - day_start < timedelta(days=1):
            emails *= timedelta(days=1) / (tr.end - day_start)  # scale a shorter window to a day
        users = selectors.scalar("active_sessions", tr.start, tr.end, agg="max", combine="sum")
        tier = reference.tier_for(tenants) if tenants is not None else None
        return ScalingData(tenants, tier, emails, users)

    def _now_row(self, data: ScalingData) -> list | None:
        if data.tenants is None or data.tier is None:
            return None
        e_low, e_high = reference.expected_band(data.tier, data.tenants, "emails_per_day")
        u_low, u_high = reference.expected_band(data.tier, data.tenants, "concurrent_users")
        return [
            round(data.tenants),
            data.emails_per_day,
            f"{e_low:,.0f}–{e_high:,.0f}",
            data.concurrent_users,
            f"{u_low:,.0f}–{u_high:,.0f}",
        ]

    def table(self, data: ScalingData, tr: TimeRange) -> Table:
        rows = [
            [
                "tier",
                t.tenants,
                f"{t.emails_per_day[0]:,}–{t.emails_per_day[1]:,}",
                f"{t.concurrent_users[0]:,}–{t.concurrent_users[1]:,}",
                "current tier" if t == data.tier else "",
            ]
            for t in reference.SCALING
        ]
        now = self._now_row(data)
        if now:
            rows.append(
                [
                    "now",
                    now[0],
                    f"{now[1]:,.0f} sent (expected {now[2]})" if now[1] is not None else "no data",
                    f"{now[3]:,.0f} peak sessions (expected {now[4]})"
                    if now[3] is not None
                    else "no data",
                    "",
                ]
            )
        return Table(["row", "tenants", "emails/day", "concurrent users", "note"], rows)

    def context(self, data: ScalingData, tr: TimeRange) -> dict:
        return {"tiers": reference.SCALING, "now": self._now_row(data), "data": data}
