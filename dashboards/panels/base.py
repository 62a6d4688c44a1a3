"""What a panel is: a query against the store (``query``) and what is drawn from its answer
(``figure`` for the chart, ``table`` for the rows shown and exported).

A panel holds no request state; ``render(panel, tr)`` runs the query once and builds
everything the template, the refresh partial, the JSON API and the exports need from that one
answer, so the four can never disagree.
"""

from __future__ import annotations

import abc
import contextvars
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cached_property, lru_cache
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from dashboards import memo
from dashboards.panels import figures as fg
from dashboards.panels.figures import COLORWAY, TEMPLATE
from dashboards.selectors import Line
from dashboards.timerange import TimeRange

PREVIOUS_SUFFIX = " (previous period)"
# Lines longer than this are drawn with WebGL (scattergl). Ranges keep ≤ 240 points a line
# (timerange.MAX_POINTS: about 2 per horizontal pixel of a half-width panel), so this is
# for custom reads and tables of raw points.
WEBGL_POINTS = 1000
# A page's panels are read on this many threads at once (each with its own database
# connection): a render is mostly waiting on Postgres, which then works on both cores.
PANEL_THREADS = 3
_pool = ThreadPoolExecutor(max_workers=PANEL_THREADS, thread_name_prefix="dashboard-panel")


def plot_time(moment: datetime) -> str:
    """A time as plotly.js reads it: plotly.js ignores UTC offsets, so send site-local wall time."""
    return _wall_time(moment, timezone.get_current_timezone())


def plot_times(moments: Iterable[datetime]) -> list[str]:
    """``plot_time`` for many points: the time zone is looked up once, and the bucket times
    that every line of a chart shares are formatted once."""
    tz = timezone.get_current_timezone()
    return [_wall_time(m, tz) for m in moments]


def plot_values(values: Iterable[float]) -> list[float]:
    """Values with 6 significant digits: what a chart can show, and a third of the JSON of
    full doubles."""
    return [float(f"{v:.6g}") for v in values]


@lru_cache(maxsize=16384)
def _wall_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Table:
    """Rows shown under or instead of a chart, and what CSV/Excel exports contain."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


class Panel(abc.ABC):
    """One box on a dashboard. Subclasses set ``key``/``title`` and implement ``query``/``table``."""

    key: str = ""
    title: str = ""
    description: str = ""
    template: str = "dashboards/panels/chart.html"
    wide: bool = False  # spans the whole row at desktop width

    @abc.abstractmethod
    def query(self, tr: TimeRange) -> Any:
        """Read what the panel shows for ``tr`` from the store (via selectors)."""

    def figure(self, data: Any, tr: TimeRange) -> fg.Figure | None:
        """The chart, or None for panels that are a table or tiles only."""
        return None

    @abc.abstractmethod
    def table(self, data: Any, tr: TimeRange) -> Table:
        """The rows behind the panel: shown by table panels, exported by every panel."""

    def context(self, data: Any, tr: TimeRange) -> dict:
        """Extra template variables for panels with their own markup."""
        return {}


@dataclass
class RenderedPanel:
    panel: Panel
    tr: TimeRange
    data: Any
    figure: dict | None
    extra: dict

    @property
    def key(self) -> str:
        return self.panel.key

    @cached_property
    def table(self) -> Table:
        """The panel's rows from the same answer, built when first asked for: a chart page
        shows none of them (a 30-day chart's rows are thousands), exports and tables do."""
        return self.panel.table(self.data, self.tr)


def figure_dict(fig: fg.Figure | None) -> dict | None:
    if fig is None:
        return None
    # to_plotly_json keeps numbers and datetimes as Python objects; orjson serialises them
    # later in one pass (json_script / the API renderer) instead of twice.
    return fig.to_plotly_json()


def render(panel: Panel, tr: TimeRange) -> RenderedPanel:
    if memo.current() is None:  # a panel on its own still reads each number once
        with memo.scope():
            return render(panel, tr)
    data = panel.query(tr)
    return RenderedPanel(
        panel=panel,
        tr=tr,
        data=data,
        figure=figure_dict(panel.figure(data, tr)),
        extra=panel.context(data, tr),
    )


def _render_on_pool_thread(panel: Panel, tr: TimeRange) -> RenderedPanel:
    # A pool thread keeps its connection between renders, as a request thread does; one that
    # broke or outlived CONN_MAX_AGE is replaced first.
    close_old_connections()
    return render(panel, tr)


def start_rendering(panels: Sequence[Panel], tr: TimeRange) -> Callable[[], list[RenderedPanel]]:
    """Start rendering every panel of a page; the returned function waits for them and returns
    them in order. Call it inside ``memo.scope()``: the panels share its reads.

    Panels are rendered on PANEL_THREADS threads at once, so the caller can do its own reads
    meanwhile. Inside a transaction (tests, or any caller holding one) they are rendered one
    after another on this thread when waited for: another connection would not see what the
    transaction wrote."""
    if len(panels) < 2 or connection.in_atomic_block or memo.current() is None:
        return lambda: [render(panel, tr) for panel in panels]
    # Each panel runs in a copy of this context: the same memo, time zone and request state.
    futures = [
        _pool.submit(contextvars.copy_context().run, _render_on_pool_thread, panel, tr)
        for panel in panels
    ]
    return lambda: [f.result() for f in futures]


def base_layout(*, height: int = 280, unit: str = "", **extra: Any) -> dict:
    layout: dict[str, Any] = {
        "template": TEMPLATE,
        "height": height,
        "margin": {"l": 48, "r": 12, "t": 8, "b": 36},
        "legend": {"orientation": "h", "y": -0.18, "x": 0, "font": {"size": 11}},
        "hovermode": "x unified",
        "yaxis": {"title": {"text": unit}} if unit else {},
    }
    layout.update(extra)
    return layout


def line_figure(
    lines: list[Line],
    previous: list[Line] | None,
    tr: TimeRange,
    *,
    unit: str = "",
    thresholds: list[tuple[float, str]] | None = None,
    height: int = 280,
    y_range: tuple[float, float] | None = None,
    alarm: Alarm | None = None,
) -> fg.Figure:
    """Lines for this period; the previous period dashed, shifted onto this period's time axis.
    With ``alarm``, points past its levels are marked amber (near) and red (bad)."""
    fig = fg.Figure(layout=base_layout(height=height, unit=unit))
    colours = COLORWAY
    for i, line in enumerate(lines):
        colour = colours[i % len(colours)]
        trace = fg.Scatter(
            x=plot_times(p[0] for p in line.points),
            y=plot_values(p[1] for p in line.points),
            # A sparse line (a new series, a long step) shows its points, or it is invisible.
            mode="lines" if len(line.points) > 40 else "lines+markers",
            marker={"size": 4},
            name=line.name,
            legendgroup=line.name,
            line={"color": colour, "width": 2},
        )
        if len(line.points) > WEBGL_POINTS:
            trace["type"] = "scattergl"  # drawn by WebGL: SVG paths this long are slow
        fig.add_trace(trace)
    shift: timedelta = tr.length
    for i, line in enumerate(previous or []):
        base_name = line.name
        colour = colours[i % len(colours)]
        fig.add_trace(
            fg.Scatter(
                x=plot_times(p[0] + shift for p in line.points),
                y=plot_values(p[1] for p in line.points),
                mode="lines",
                name=base_name + PREVIOUS_SUFFIX,
                legendgroup=base_name,
                line={"color": colour, "width": 1, "dash": "dash"},
                opacity=0.6,
            )
        )
    if alarm is not None:
        _alarm_markers(fig, lines, alarm)
    for value, label in thresholds or []:
        fig.add_hline(
            y=value,
            line={"color": "#d33a2c", "width": 1, "dash": "dot"},
            annotation_text=label,
        )
    fig.update_xaxes(range=[plot_time(tr.start), plot_time(tr.end)])
    if y_range:
        fig.update_yaxes(range=list(y_range))
    return fig


@dataclass(frozen=True)
class Alarm:
    """Threshold colours for a chart: ``bad_above`` True when high values are bad (CPU),
    False when low ones are (uptime, inbox placement)."""

    near: float
    bad: float
    bad_above: bool = True

    def level(self, value: float | None) -> str:
        if value is None:
            return ""
        past = (lambda v, t: v > t) if self.bad_above else (lambda v, t: v < t)
        if past(value, self.bad):
            return "bad"
        if past(value, self.near):
            return "near"
        return ""

    def colour(self, value: float | None) -> str:
        return {"bad": fg.BAD_RED, "near": fg.NEAR_AMBER}.get(self.level(value), "")


def _alarm_markers(fig: fg.Figure, lines: list[Line], alarm: Alarm) -> None:
    """One marker trace per level over every line: red points past ``bad``, amber past ``near``."""
    levels = [(alarm.level(v), ts, v) for line in lines for ts, v in line.points]
    for level, colour, name in (
        ("near", fg.NEAR_AMBER, "near threshold"),
        ("bad", fg.BAD_RED, "past threshold"),
    ):
        points = [(ts, v) for lv, ts, v in levels if lv == level]
        if not points:
            continue
        fig.add_trace(
            fg.Scatter(
                x=plot_times(p[0] for p in points),
                y=plot_values(p[1] for p in points),
                mode="markers",
                name=name,
                marker={"color": colour, "size": 5},
                hoverinfo="skip",
            )
        )


def lines_table(
    lines: list[Line], previous: list[Line] | None, tr: TimeRange, unit: str = ""
) -> Table:
    """Long format (time, series, period, value): one row per point, easy to pivot in a sheet."""
    value_col = f"value ({unit})" if unit else "value"
    rows: list[list[Any]] = []
    for period, group in (("current", lines), ("previous", previous or [])):
        for line in group:
            rows.extend([ts, line.name, period, round(v, 4)] for ts, v in line.points)
    return Table(columns=["time", "series", "period", value_col], rows=rows)
