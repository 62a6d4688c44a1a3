"""Generic panels: time-series lines with the previous period dashed, and per-label bars."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.store.catalog import metric_labels
from dashboards import selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import (
    Alarm,
    Panel,
    Table,
    base_layout,
    line_figure,
    lines_table,
)
from dashboards.selectors import Line
from dashboards.timerange import TimeRange


@dataclass(frozen=True)
class SeriesSpec:
    """One metric read for a chart (see ``dashboards.selectors.lines``)."""

    metric: str
    agg: str = "avg"
    labels: dict | None = None
    by: str | None = None
    combine: str | None = "sum"
    name: str | None = None
    scale: float = 1.0


@dataclass
class LinesData:
    lines: list[Line]
    previous: list[Line] = field(default_factory=list)


class TimeseriesPanel(Panel):
    def __init__(
        self,
        key: str,
        title: str,
        specs: list[SeriesSpec],
        *,
        unit: str = "",
        description: str = "",
        thresholds: list[tuple[float, str]] | None = None,
        compare: bool = True,
        y_range: tuple[float, float] | None = None,
        wide: bool = False,
        height: int = 280,
        alarm: Alarm | None = None,
    ):
        self.key, self.title, self.specs, self.unit = key, title, specs, unit
        self.alarm = alarm
        self.description = description
        self.thresholds = thresholds or []
        self.compare = compare
        self.y_range = y_range
        self.wide = wide
        self.height = height

    def _read(self, tr: TimeRange) -> list[Line]:
        out: list[Line] = []
        for s in self.specs:
            got = selectors.lines(
                s.metric,
                tr,
                labels=s.labels,
                agg=s.agg,
                by=s.by,
                combine=s.combine,
                name=s.name,
                scale=s.scale,
            )
            if s.by and s.name:  # one line per label value: say which metric it is
                got = [Line(f"{line.name} {s.name}", line.points) for line in got]
            out += got
        return out

    def query(self, tr: TimeRange) -> LinesData:
        return LinesData(self._read(tr), self._read(tr.previous()) if self.compare else [])

    def figure(self, data: LinesData, tr: TimeRange) -> fg.Figure:
        return line_figure(
            data.lines,
            data.previous,
            tr,
            unit=self.unit,
            thresholds=self.thresholds,
            height=self.height,
            y_range=self.y_range,
            alarm=self.alarm,
        )

    def table(self, data: LinesData, tr: TimeRange) -> Table:
        return lines_table(data.lines, data.previous, tr, self.unit)

    def context(self, data: LinesData, tr: TimeRange) -> dict:
        return {"empty": not any(line.points for line in data.lines)}


@dataclass
class BarsData:
    current: dict[str, float]
    previous: dict[str, float]


class LabelBarsPanel(Panel):
    """One bar per label value (feature, tenant, route), this period beside the previous one."""

    def __init__(
        self,
        key: str,
        title: str,
        metric: str,
        label: str,
        *,
        agg: str = "sum",
        combine: str = "sum",
        labels: dict | None = None,
        unit: str = "",
        description: str = "",
        threshold: tuple[float, str] | None = None,
        top: int = 15,
        wide: bool = False,
        near_margin: float = 2.0,
    ):
        self.key, self.title, self.metric, self.label = key, title, metric, label
        self.near_margin = near_margin
        self.agg, self.combine, self.unit, self.description = agg, combine, unit, description
        self.labels = labels
        self.threshold, self.top, self.wide = threshold, top, wide

    def query(self, tr: TimeRange) -> BarsData:
        prev = tr.previous()
        # The page's pickers narrow the bars too (e.g. one service's routes).
        labels = {**(self.labels or {}), **tr.filters_for(metric_labels(self.metric))} or None
        return BarsData(
            selectors.per_label(
                self.metric,
                tr.start,
                tr.end,
                self.label,
                labels=labels,
                agg=self.agg,
                combine=self.combine,
            ),
            selectors.per_label(
                self.metric,
                prev.start,
                prev.end,
                self.label,
                labels=labels,
                agg=self.agg,
                combine=self.combine,
            ),
        )

    def bar_colour(self, value: float) -> str:
        """Red when a bar misses the panel's target, amber when it is within the near margin
        of it, blue otherwise (panels without a target stay blue)."""
        if not self.threshold or value is None:
            return fg.OK_BLUE
        target = self.threshold[0]
        if value < target:
            return fg.BAD_RED
        if value < target + self.near_margin:
            return fg.NEAR_AMBER
        return fg.OK_BLUE

    def _order(self, data: BarsData) -> list[str]:
        return sorted(data.current, key=lambda k: -data.current[k])[: self.top]

    def figure(self, data: BarsData, tr: TimeRange) -> fg.Figure:
        names = self._order(data)
        fig = fg.Figure(layout=base_layout(unit=self.unit, hovermode="closest", barmode="group"))
        fig.add_trace(
            fg.Bar(
                x=names,
                y=[data.current[n] for n in names],
                name="this period",
                marker_color=[self.bar_colour(data.current[n]) for n in names],
                # The full label in the hover: long route names are cut on the axis.
                hovertemplate="%{x}<br>%{y:,.4g}"
                + (f" {self.unit}" if self.unit else "")
                + "<extra>this period</extra>",
            )
        )
        fig.add_trace(
            fg.Bar(
                x=names,
                y=[data.previous.get(n) for n in names],
                name="previous period",
                marker={"color": "rgba(47,111,214,0.35)", "line": {"color": "#2f6fd6", "width": 1}},
            )
        )
        if self.threshold:
            value, text = self.threshold
            fig.add_hline(
                y=value,
                line={"color": "#d33a2c", "width": 1, "dash": "dot"},
                annotation_text=text,
            )
        return fig

    def table(self, data: BarsData, tr: TimeRange) -> Table:
        rows = []
        for name in sorted(data.current, key=lambda k: -data.current[k]):
            cur, prev = data.current[name], data.previous.get(name)
            change = None if not prev else round(100.0 * (cur - prev) / abs(prev), 1)
            rows.append([name, round(cur, 3), None if prev is None else round(prev, 3), change])
        unit = f" ({self.unit})" if self.unit else ""
        return Table([self.label, f"this period{unit}", f"previous period{unit}", "change %"], rows)

    def context(self, data: BarsData, tr: TimeRange) -> dict:
        return {"empty": not data.current}
