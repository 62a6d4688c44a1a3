"""Capacity planning: a least-squares line through each host resource over the selected range,
and when that line reaches the 80% utilisation limit (seed 000 §3: "< 80% CPU/memory")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboards import selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import Panel, Table, base_layout, plot_time, plot_times
from dashboards.selectors import Line
from dashboards.timerange import TimeRange

LIMIT_PCT = 80.0
NOT_ENOUGH = "not enough data"
# A trend that needs longer than this to reach the limit is reported as "not within a year".
HORIZON = timedelta(days=365)
# Less history than half a daily cycle gives the cycle's slope, not a trend (a few hours of a
# morning ramp project as hundreds of points a day).
MIN_HISTORY = timedelta(hours=12)
RESOURCES = {
    "host_cpu_percent": "CPU",
    "host_memory_used_percent": "memory",
    "host_disk_used_percent": "disk",
}


@dataclass
class Forecast:
    host: str
    resource: str
    line: Line
    current: float
    slope_per_day: float | None
    reaches_limit_at: datetime | None
    verdict: str  # "above" | "reaches" | "steady" | "not enough data"
    history: timedelta = timedelta(0)

    @property
    def has_trend(self) -> bool:
        return self.verdict != NOT_ENOUGH


def linear_fit(points: list[tuple[datetime, float]]) -> tuple[float, float] | None:
    """(slope per second, value at the last point) of the least-squares line, or None."""
    if len(points) < 2:
        return None
    t0 = points[0][0]
    xs = [(ts - t0).total_seconds() for ts, _ in points]
    ys = [v for _, v in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my + slope * (xs[-1] - mx)


def forecast(host: str, resource: str, line: Line, *, limit: float = LIMIT_PCT) -> Forecast | None:
    if not line.points:
        return None
    last_ts = line.points[-1][0]
    current = line.points[-1][1]
    history = last_ts - line.points[0][0]
    fit = linear_fit(line.points)
    if history < MIN_HISTORY or fit is None:
        # No slope is shown: a projection from this little history would be a guess.
        return Forecast(host, resource, line, current, None, None, NOT_ENOUGH, history)
    slope, fitted_now = fit
    reaches = None
    if fitted_now >= limit:
        verdict = "above"
    elif slope > 0:
        eta = last_ts + timedelta(seconds=(limit - fitted_now) / slope)
        verdict, reaches = ("reaches", eta) if eta - last_ts <= HORIZON else ("steady", None)
    else:
        verdict = "steady"
    return Forecast(host, resource, line, current, slope * 86400, reaches, verdict, history)


class CapacityPanel(Panel):
    key = "capacity"
    title = "Capacity planning"
    description = (
        "Linear trend of each host resource over the range, and when it reaches 80%; a host "
        f"with less than {MIN_HISTORY.total_seconds() / 3600:.0f} h of history has no trend yet "
        "(not enough data)."
    )
    template = "dashboards/panels/capacity.html"
    wide = True

    def query(self, tr: TimeRange) -> list[Forecast]:
        out = []
        for metric, resource in RESOURCES.items():
            for line in selectors.lines(metric, tr, agg="avg", by="host", combine="max"):
                f = forecast(line.name, resource, line)
                if f is not None:
                    out.append(f)
        order = {"above": 0, "reaches": 1, "steady": 2, NOT_ENOUGH: 3}
        return sorted(
            out, key=lambda f: (order[f.verdict], f.reaches_limit_at or tr.end, f.host, f.resource)
        )

    def figure(self, data: list[Forecast], tr: TimeRange) -> fg.Figure:
        fig = fg.Figure(layout=base_layout(unit="%", height=300))
        colours = fg.COLORWAY
        for i, f in enumerate(data):
            colour = colours[i % len(colours)]
            name = f"{f.host} {f.resource}"
            fig.add_trace(
                fg.Scatter(
                    x=plot_times(p[0] for p in f.line.points),
                    y=[p[1] for p in f.line.points],
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    line={"color": colour, "width": 1.5},
                )
            )
            if not f.has_trend:
                continue
            end = f.reaches_limit_at or (f.line.points[-1][0] + tr.length / 2)
            end = min(end, f.line.points[-1][0] + tr.length)
            last_ts = f.line.points[-1][0]
            proj_end = f.current + f.slope_per_day * (end - last_ts).total_seconds() / 86400
            fig.add_trace(
                fg.Scatter(
                    x=[plot_time(last_ts), plot_time(end)],
                    y=[f.current, proj_end],
                    mode="lines",
                    name=f"{name} trend",
                    legendgroup=name,
                    showlegend=False,
                    line={"color": colour, "width": 1, "dash": "dot"},
                )
            )
        fig.add_hline(
            y=LIMIT_PCT,
            line={"color": "#d33a2c", "width": 1, "dash": "dash"},
            annotation_text="80% limit",
        )
        fig.update_yaxes(range=[0, 100])
        return fig

    def table(self, data: list[Forecast], tr: TimeRange) -> Table:
        rows = [
            [
                f.host,
                f.resource,
                round(f.current, 2),
                None if f.slope_per_day is None else round(f.slope_per_day, 3),
                f.verdict,
                f.reaches_limit_at,
            ]
            for f in data
        ]
        return Table(
            ["host", "resource", "current %", "trend % per day", "verdict", "reaches 80% at"], rows
        )

    def context(self, data: list[Forecast], tr: TimeRange) -> dict:
        return {"empty": not data, "forecasts": data}
