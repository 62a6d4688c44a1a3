"""The SLO charts: budget remaining per SLO (overview), burn-down over the window with the
incidents and deployments that consumed budget marked, and the burn rate against the alert
thresholds (an SLO's page). Figures are built from ``incidents.slo.selectors`` answers only."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.burn_rate import duration_text
from dashboards.panels import figures as fg
from dashboards.panels.base import base_layout, plot_time, plot_times
from incidents.slo.selectors import BurnLines, DeploymentShare, IncidentShare, SloStatus

GOOD, WARN, BAD = "#1e9e5a", "#d9a400", "#d33a2c"


def budget_colour(remaining_pct: float | None) -> str:
    if remaining_pct is None:
        return "#5c6b82"
    if remaining_pct <= 0:
        return BAD
    return WARN if remaining_pct < 25 else GOOD


def budgets_figure(statuses: Sequence[SloStatus]) -> fg.Figure:
    """One bar per SLO: % of its error budget left (negative: overspent)."""
    fig = fg.Figure(layout=base_layout(height=60 + 34 * max(1, len(statuses)), hovermode="closest"))
    shown = [s for s in statuses if s.budget.remaining_pct is not None]
    fig.add_trace(
        fg.Bar(
            orientation="h",
            y=[s.slo.name for s in shown],
            x=[round(s.budget.remaining_pct, 2) for s in shown],
            marker_color=[budget_colour(s.budget.remaining_pct) for s in shown],
            text=[f"{s.budget.remaining_pct:.1f}%" for s in shown],
            hoverinfo="text+y",
            name="budget remaining",
        )
    )
    lowest = min([0.0, *(s.budget.remaining_pct for s in shown)])
    fig.update_xaxes(title={"text": "% of error budget remaining"}, range=[min(lowest, 0) - 5, 105])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False, margin={"l": 160, "r": 12, "t": 8, "b": 40})
    return fig


def budget_figure_or_none(statuses: Sequence[SloStatus]) -> fg.Figure | None:
    if not any(s.budget.remaining_pct is not None for s in statuses):
        return None
    return budgets_figure(statuses)


def _share_text(share_pct: float | None) -> str:
    return "" if share_pct is None else f"{share_pct:.1f}%"


def _markers(
    fig: fg.Figure, incidents: Sequence[IncidentShare], deployments: Sequence[DeploymentShare]
) -> None:
    shapes = fig.layout.setdefault("shapes", [])
    annotations = fig.layout.setdefault("annotations", [])
    for share in incidents:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": plot_time(share.start),
                "x1": plot_time(share.end),
                "y0": 0,
                "y1": 1,
                "fillcolor": BAD,
                "opacity": 0.12,
                "line": {"width": 0},
            }
        )
        text = f"#{share.incident.pk}"
        if share.share_pct is not None:
            text += f" {share.share_pct:.1f}%"
        annotations.append(
            {
                "x": plot_time(share.start),
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": text,
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 10, "color": BAD},
                "hovertext": f"incident #{share.incident.pk} {share.incident.title}",
            }
        )
    for share in deployments:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": plot_time(share.start),
                "x1": plot_time(share.start),
                "y0": 0,
                "y1": 1,
                "line": {"color": "#7b4fc9", "width": 1, "dash": "dot"},
            }
        )
    if deployments:
        # Each deployment's share of the budget (spent in the hour after it) on its marker.
        fig.add_trace(
            fg.Scatter(
                x=plot_times(d.start for d in deployments),
                y=[0] * len(deployments),
                mode="markers+text",
                name="deployments",
                marker={"color": "#7b4fc9", "symbol": "triangle-up", "size": 9},
                text=[_share_text(d.share_pct) for d in deployments],
                textposition="top center",
                textfont={"size": 10, "color": "#7b4fc9"},
                hovertext=[
                    f"deploy {d.deployment}: {_share_text(d.share_pct) or 'no share'} of the "
                    f"budget spent {d.start:%H:%M}–{d.end:%H:%M} UTC"
                    for d in deployments
                ],
            )
        )


def burn_down_figure(
    status: SloStatus,
    lines: BurnLines,
    incidents: Sequence[IncidentShare],
    deployments: Sequence[DeploymentShare],
) -> fg.Figure:
    """Budget remaining over the window: even spending (the budget line) and what happened."""
    fig = fg.Figure(layout=base_layout(height=320, unit="% of budget remaining"))
    x = plot_times(lines.hours)
    fig.add_trace(
        fg.Scatter(
            x=x,
            y=[round(v, 3) for v in lines.ideal_pct],
            mode="lines",
            name="budget line (even spending)",
            line={"color": "#5c6b82", "width": 1, "dash": "dash"},
        )
    )
    fig.add_trace(
        fg.Scatter(
            x=x,
            y=[None if v is None else round(v, 3) for v in lines.remaining_pct],
            mode="lines",
            name="budget remaining",
            line={"color": "#2f6fd6", "width": 2},
            fill="tozeroy",
            fillcolor="rgba(47,111,214,0.08)",
        )
    )
    fig.add_hline(y=0, line={"color": BAD, "width": 1}, annotation_text="budget exhausted")
    _markers(fig, incidents, deployments)
    b = status.budget
    fig.update_xaxes(range=[plot_time(b.window_start), plot_time(b.window_end)])
    return fig


def burn_rate_figure(
    status: SloStatus, lines: BurnLines, deployments: Sequence[DeploymentShare]
) -> fg.Figure:
    """Burn rate over 1 h and 6 h with the SLO's alert thresholds (page and ticket factors)."""
    fig = fg.Figure(layout=base_layout(height=280, unit="burn rate (×)"))
    x = plot_times(lines.hours)
    for name, values, colour in (
        ("1 h burn rate", lines.burn_1h, "#e06c1f"),
        ("6 h burn rate", lines.burn_6h, "#2f6fd6"),
    ):
        fig.add_trace(
            fg.Scatter(
                x=x,
                y=[None if v is None else round(v, 3) for v in values],
                mode="lines",
                name=name,
                line={"color": colour, "width": 1.5},
            )
        )
    for w in status.slo.burn_windows():
        fig.add_hline(
            y=w.factor,
            line={"color": BAD if w.severity == "page" else WARN, "width": 1, "dash": "dot"},
            annotation_text=(
                f"{w.severity} {w.factor:g}× ({duration_text(w.long_seconds)}/"
                f"{duration_text(w.short_seconds)})"
            ),
        )
    _markers(fig, [], deployments)
    b = status.budget
    fig.update_xaxes(range=[plot_time(b.window_start), plot_time(b.window_end)])
    fig.update_yaxes(rangemode="tozero")
    return fig
