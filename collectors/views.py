"""The /services/ pages: the service health grid and a service's history."""

from __future__ import annotations

from itertools import zip_longest

import plotly.graph_objects as go
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from collectors.models import Probe
from collectors.monitoring.probing import ProbeNotHere, run_probe
from collectors.monitoring.selectors import (
    HISTORY_RANGES,
    hosts_list,
    service_by_name,
    service_detail,
    services_overview,
)
from penguinmon.roles import capability_required


def _plot_time(moment) -> str:
    # plotly.js ignores UTC offsets: send the site's wall time, as the other pages do.
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _time_axis(detail) -> dict:
    # The whole chosen window, so a service monitored for an hour is not stretched edge to edge.
    return {"range": [_plot_time(detail.start), _plot_time(detail.end)], "type": "date"}


def latency_figure(detail) -> str | None:
    if not detail.latency:
        return None
    fig = go.Figure()
    for probe_name, points in sorted(detail.latency.items()):
        fig.add_trace(
            go.Scatter(
                x=[_plot_time(ts) for ts, _ in points],
                y=[round(v, 2) for _, v in points],
                mode="lines+markers",
                marker={"size": 3},
                name=probe_name,
                hovertemplate="%{x}<br>%{y:.1f} ms<extra>" + probe_name + "</extra>",
            )
        )
    threshold = detail.row.service.degraded_latency_ms
    fig.add_hline(
        y=threshold,
        line={"dash": "dot", "color": "#d9a400"},
        annotation_text=f"degraded above {threshold:g} ms",
    )
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        template="plotly_white",
        yaxis={"title": "latency (ms)", "rangemode": "tozero"},
        xaxis=_time_axis(detail),
        legend={"orientation": "h", "y": -0.2},
    )
    return fig.to_json()


def availability_figure(detail) -> str | None:
    if not detail.availability:
        return None
    fig = go.Figure()
    for probe_name, points in sorted(detail.availability.items()):
        fig.add_trace(
            go.Scatter(
                x=[_plot_time(ts) for ts, _ in points],
                y=[v for _, v in points],
                mode="lines+markers",
                marker={"size": 3},
                line={"shape": "hv"},
                name=probe_name,
                hovertemplate="%{x}<br>%{y:.1f} % of runs succeeded<extra>"
                + probe_name
                + "</extra>",
            )
        )
    fig.update_layout(
        height=220,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        template="plotly_white",
        yaxis={"title": "successful runs (%)", "range": [0, 102]},
        xaxis=_time_axis(detail),
        showlegend=False,
    )
    return fig.to_json()


@capability_required("view_services")
def services_page(request):
    hosts = hosts_list()
    for host in hosts:
        host.proc_rows = list(zip_longest(host.top_cpu, host.top_memory))
    return render(
        request, "collectors/services.html", {"rows": services_overview(), "hosts": hosts}
    )


@capability_required("view_services")
def service_page(request, name: str):
    service = service_by_name(name)
    if service is None:
        raise Http404(f"No service named {name}.")
    range_label = request.GET.get("range", "24h")
    if range_label not in HISTORY_RANGES:
        messages.error(
            request, f"Unknown range {range_label!r}: choose one of {', '.join(HISTORY_RANGES)}."
        )
        range_label = "24h"
    detail = service_detail(service=service, range_label=range_label)
    return render(
        request,
        "collectors/service_detail.html",
        {
            "detail": detail,
            "service": service,
            "ranges": list(HISTORY_RANGES),
            "latency_figure": latency_figure(detail),
            "availability_figure": availability_figure(detail),
        },
    )


@require_POST
@capability_required("view_services")
def run_probe_view(request, name: str, probe_id: int):
    probe = get_object_or_404(
        Probe.objects.select_related("service"), pk=probe_id, service__name=name
    )
    try:
        outcome = run_probe(probe=probe)
    except ProbeNotHere as exc:
        messages.warning(request, str(exc))
        return redirect("collectors:service", name=name)
    if outcome.result.ok:
        messages.success(request, f"{probe}: {outcome.result.message}")
    else:
        messages.error(request, f"{probe} failed: {outcome.result.message}")
    return redirect("collectors:service", name=name)
