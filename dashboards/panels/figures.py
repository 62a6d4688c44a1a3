"""Plotly figures as plain dicts, in the shape plotly.js reads.

``plotly.graph_objects`` validates every property of every trace as it is set; on a page of a
dozen charts with hundreds of points each that validation was a third of the render time. The
panels build the same JSON here directly: ``Figure`` keeps the few methods they use
(``add_trace``, ``add_hline``, ``update_xaxes``/``update_yaxes``, ``update_layout``), and
``Scatter``/``Bar``/``Heatmap`` return trace dicts (``marker_color=`` style keyword arguments
become nested dicts, as in plotly).
"""

from __future__ import annotations

import copy
from typing import Any

# Series colours leave out red and amber: those mean "past a threshold" (BAD_RED,
# NEAR_AMBER), so a 5xx line or a busy host is never red, or green, just by its position.
COLORWAY = [
    "#2f6fd6",
    "#7b4fc9",
    "#14a3b8",
    "#5c6b82",
    "#a0522d",
    "#c2185b",
    "#2e7d32",
    "#37474f",
]
# Threshold colours (red = bad, amber = near, as on the alert badges); series colours stay
# in COLORWAY, so a red line always means a value past its threshold.
BAD_RED = "#d33a2c"
NEAR_AMBER = "#d9a400"
OK_BLUE = "#2f6fd6"
_AXIS = {"gridcolor": "#eef0f4", "linecolor": "#dde1e8", "zeroline": False, "automargin": True}
# A small template instead of plotly's default: the default embeds ≈ 6 KB of styling into
# every figure's JSON, which is most of the page weight on a 15-panel dashboard.
TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            "size": 12,
            "color": "#1d2330",
        },
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "colorway": COLORWAY,
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "hoverlabel": {"namelength": -1},
    }
}
_NESTED = ("marker", "line", "font")


def _props(kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        head, _, rest = key.partition("_")
        if rest and head in _NESTED:
            out.setdefault(head, {})[rest] = value
        else:
            out[key] = value
    return out


def Scatter(**kwargs: Any) -> dict[str, Any]:  # noqa: N802 - mirrors plotly's constructor
    return {"type": "scatter", **_props(kwargs)}


def Bar(**kwargs: Any) -> dict[str, Any]:  # noqa: N802
    return {"type": "bar", **_props(kwargs)}


def Heatmap(**kwargs: Any) -> dict[str, Any]:  # noqa: N802
    return {"type": "heatmap", **_props(kwargs)}


class Figure:
    def __init__(self, layout: dict[str, Any] | None = None):
        self.data: list[dict[str, Any]] = []
        # The template is shared, never changed: copying it for every figure was most of
        # the copy's time.
        self.layout: dict[str, Any] = copy.deepcopy(layout or {}, {id(TEMPLATE): TEMPLATE})

    def add_trace(self, trace: dict[str, Any]) -> Figure:
        self.data.append(trace)
        return self

    def add_hline(
        self,
        y: float,
        *,
        line: dict[str, Any] | None = None,
        annotation_text: str = "",
        annotation_position: str = "top left",
        annotation_font_size: int = 10,
    ) -> Figure:
        """A horizontal line across the plot at ``y``, labelled at its left end."""
        self.layout.setdefault("shapes", []).append(
            {
                "type": "line",
                "xref": "x domain",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": y,
                "y1": y,
                "line": line or {},
            }
        )
        if annotation_text:
            top = annotation_position.startswith("top")
            self.layout.setdefault("annotations", []).append(
                {
                    "text": annotation_text,
                    "showarrow": False,
                    "xref": "x domain",
                    "x": 0,
                    "xanchor": "left",
                    "yref": "y",
                    "y": y,
                    "yanchor": "bottom" if top else "top",
                    "font": {"size": annotation_font_size},
                }
            )
        return self

    def _axis(self, name: str, props: dict[str, Any]) -> Figure:
        self.layout.setdefault(name, {}).update(props)
        return self

    def update_xaxes(self, **props: Any) -> Figure:
        return self._axis("xaxis", props)

    def update_yaxes(self, **props: Any) -> Figure:
        return self._axis("yaxis", props)

    def update_layout(self, **props: Any) -> Figure:
        self.layout.update(props)
        return self

    def to_plotly_json(self) -> dict[str, Any]:
        return {"data": self.data, "layout": self.layout}
