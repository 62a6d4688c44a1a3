"""Host resources as small multiples: one small chart per host (CPU, memory, disk on a shared
0–100% axis) instead of every host's lines crammed into one. Points past the seed's limits are
marked amber (> 80%) and red (> 90%); the host picker (?host=) shows one host."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboards import selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import (
    Alarm,
    Line,
    Panel,
    Table,
    lines_table,
    plot_time,
    plot_times,
    plot_values,
)
from dashboards.timerange import TimeRange

RESOURCES = (
    ("host_cpu_percent", "CPU"),
    ("host_memory_used_percent", "memory"),
    ("host_disk_used_percent", "disk"),
)
ALARM = Alarm(near=80, bad=90)  # seed: < 80% is the target, > 90% alerts
COLUMNS = 3
ROW_HEIGHT = 170


@dataclass
class HostLines:
    host: str
    lines: list[Line]  # one per resource

    @property
    def worst(self) -> float | None:
        last = [line.points[-1][1] for line in self.lines if line.points]
        return max(last) if last else None


class HostResourcesPanel(Panel):
    key = "host-resources"
    title = "Host resources"
    description = (
        "One chart per host: CPU, memory and the fullest disk (%). Amber past 80%, red past "
        "90%; hosts nearest their limits first."
    )
    wide = True

    def query(self, tr: TimeRange) -> list[HostLines]:
        by_host: dict[str, list[Line]] = {}
        for metric, name in RESOURCES:
            for line in selectors.lines(metric, tr, agg="max", by="host", combine="max"):
                by_host.setdefault(line.name, []).append(Line(name, line.points))
        hosts = [HostLines(h, lines) for h, lines in by_host.items()]
        return sorted(hosts, key=lambda h: (-(h.worst or 0), h.host))

    def figure(self, data: list[HostLines], tr: TimeRange) -> fg.Figure | None:
        if not data:
            return None
        columns = min(COLUMNS, len(data))
        rows = math.ceil(len(data) / columns)
        gap_x, gap_y = 0.06, 0.12 / max(rows, 1)
        width = (1 - gap_x * (columns - 1)) / columns
        height = (1 - gap_y * (rows - 1)) / rows
        layout: dict = {
            "template": fg.TEMPLATE,
            "height": 60 + ROW_HEIGHT * rows,
            "margin": {"l": 40, "r": 8, "t": 24, "b": 28},
            "showlegend": False,
            "hovermode": "x unified",
            "annotations": [],
        }
        fig = fg.Figure(layout=layout)
        colours = {"CPU": fg.COLORWAY[0], "memory": fg.COLORWAY[1], "disk": fg.COLORWAY[2]}
        x_range = [plot_time(tr.start), plot_time(tr.end)]
        for i, host in enumerate(data):
            r, c = divmod(i, columns)
            n = "" if i == 0 else str(i + 1)
            x0 = c * (width + gap_x)
            y1 = 1 - r * (height + gap_y)
            fig.layout[f"xaxis{n}"] = {
                "domain": [x0, x0 + width],
                "anchor": f"y{n}",
                "range": x_range,
                "showticklabels": r == rows - 1 or i + columns >= len(data),
            }
            fig.layout[f"yaxis{n}"] = {
                "domain": [y1 - height, y1],
                "anchor": f"x{n}",
                "range": [0, 100],
                "ticksuffix": "%",
                "title": {"text": "%"} if c == 0 else None,
            }
            fig.layout["annotations"].append(
                {
                    "text": f"<b>{host.host}</b>",
                    "xref": "paper",
                    "yref": "paper",
                    "x": x0,
                    "y": y1,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 12},
                }
            )
            for line in host.lines:
                fig.add_trace(
                    fg.Scatter(
                        x=plot_times(p[0] for p in line.points),
                        y=plot_values(p[1] for p in line.points),
                        mode="lines",
                        name=f"{host.host} {line.name}",
                        line={"color": colours.get(line.name, fg.OK_BLUE), "width": 1.5},
                        xaxis=f"x{n}",
                        yaxis=f"y{n}",
                        hovertemplate="%{y:.1f}%",
                    )
                )
                past = [(ts, v) for ts, v in line.points if ALARM.level(v)]
                if past:
                    fig.add_trace(
                        fg.Scatter(
                            x=plot_times(p[0] for p in past),
                            y=plot_values(p[1] for p in past),
                            mode="markers",
                            name=f"{host.host} {line.name} past limit",
                            marker={"color": [ALARM.colour(v) for _, v in past], "size": 4},
                            xaxis=f"x{n}",
                            yaxis=f"y{n}",
                            hoverinfo="skip",
                        )
                    )
        return fig

    def table(self, data: list[HostLines], tr: TimeRange) -> Table:
        flat = [Line(f"{h.host} {line.name}", line.points) for h in data for line in h.lines]
        return lines_table(flat, None, tr, "%")

    def context(self, data: list[HostLines], tr: TimeRange) -> dict:
        return {"empty": not data}
