"""Incident pages: the list (with MTTR / MTBF for the last 30 days), one incident, and the
deployments list with its DORA figures."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.models import Alert
from incidents.forms import DeploymentFilterForm, IncidentPostUpdateForm, IncidentUpdateForm
from incidents.models import Incident
from incidents.postmortem_services import missing_postmortem_ids
from incidents.selectors import (
    deployment_environments,
    deployment_services,
    deployments_in_range,
    dora_stats,
    incident_list,
    incident_stats,
)
from incidents.services import incident_create_from_alert, incident_update
from incidents.slo.selectors import frozen_services, slo_list, slo_statuses
from incidents.updates import update_post
from penguinmon.roles import capability_required, user_can


@require_GET
@capability_required("view_alerts")
def incident_index(request):
    status = request.GET.get("status") or None
    if status not in (None, *Incident.Status.values):
        status = None
    now = timezone.now()
    return render(
        request,
        "incidents/list.html",
        {
            "incidents": incident_list(status=status),
            "missing_postmortems": missing_postmortem_ids(),
            "status": status,
            "statuses": Incident.Status.values,
            "stats": incident_stats(start=now - timedelta(days=30), end=now),
        },
    )


@require_http_methods(["GET", "POST"])
@capability_required("view_alerts")
def incident_detail(request, incident_id: int):
    incident = get_object_or_404(Incident, pk=incident_id)
    can_manage = user_can(request.user, "manage_incidents")
    initial = {
        "status": incident.status,
        "severity": incident.severity,
        "title": incident.title,
        "summary": incident.summary,
        "caused_by_deployment": incident.caused_by_deployment_id,
    }
    form = IncidentUpdateForm(initial=initial, incident=incident)
    status = 200
    if request.method == "POST":
        if not can_manage:
            messages.error(request, "Your role does not allow changing incidents.")
            return redirect(f"/incidents/{incident.pk}/")
        form = IncidentUpdateForm(request.POST, incident=incident)
        if form.is_valid():
            data = form.cleaned_data
            extra = {}
            # The page's select always sends the field ("" for none); a post without it (an
            # older form, a script) leaves the cause alone instead of clearing it.
            if "caused_by_deployment" in request.POST:
                extra["caused_by_deployment"] = data["caused_by_deployment"]
            try:
                incident_update(
                    incident=incident,
                    user=request.user,
                    status=data["status"],
                    severity=data["severity"],
                    title=data["title"],
                    summary=data["summary"],
                    note=data["note"],
                    **extra,
                )
                messages.success(request, "Incident updated.")
                return redirect(f"/incidents/{incident.pk}/")
            except ValidationError as exc:
                incident.refresh_from_db()
                for field, errs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
        status = 400
    return _detail(request, incident, form=form, status=status)


def _detail(request, incident: Incident, *, form=None, update_form=None, status: int = 200):
    if form is None:
        form = IncidentUpdateForm(
            initial={
                "status": incident.status,
                "severity": incident.severity,
                "title": incident.title,
                "summary": incident.summary,
                "caused_by_deployment": incident.caused_by_deployment_id,
            },
            incident=incident,
        )
    return render(
        request,
        "incidents/detail.html",
        {
            "incident": incident,
            "events": incident.events.all(),
            "updates": incident.updates.order_by("-created_at", "-id").prefetch_related("channels"),
            "alerts": incident.alerts.select_related("rule"),
            "deployment": incident.caused_by_deployment,
            "form": form,
            "update_form": update_form
            or IncidentPostUpdateForm(initial={"public_title": incident.public_title}),
            "can_manage": user_can(request.user, "manage_incidents"),
        },
        status=status,
    )


@require_http_methods(["POST"])
@capability_required("manage_incidents")
def incident_post_update(request, incident_id: int):
    incident = get_object_or_404(Incident, pk=incident_id)
    form = IncidentPostUpdateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            update_post(
                incident=incident,
                user=request.user,
                status=data["update_status"],
                message=data["message"],
                public=data["public"],
                public_title=data["public_title"],
                channels=list(data["channels"]),
            )
            messages.success(
                request, "Update posted" + (" on the status page." if data["public"] else ".")
            )
            return redirect(f"/incidents/{incident.pk}/#updates")
        except ValidationError as exc:
            incident.refresh_from_db()
            for field, errs in exc.message_dict.items():
                name = {"status": "update_status", "incident": None}.get(field, field)
                form.add_error(name if name in form.fields else None, errs)
    return _detail(request, incident, update_form=form, status=400)


DEPLOYMENT_ROWS = 500


@require_GET
@capability_required("view_alerts")
def deployment_index(request):
    data = None
    if request.GET:
        # A link that names only a service still shows (and keeps) the default 30 days.
        data = request.GET.copy()
        data.setdefault("days", "30")
    form = DeploymentFilterForm(
        data,
        services=deployment_services(),
        environments=deployment_environments(),
    )
    filters = {"service": "", "environment": "", "status": "", "days": 30}
    status = 200
    if form.is_bound:
        if form.is_valid():
            filters.update({k: v for k, v in form.cleaned_data.items() if v not in (None, "")})
        else:
            status = 400
    end = timezone.now()
    start = end - timedelta(days=filters["days"])
    rows = deployments_in_range(
        start=start,
        end=end,
        service=filters["service"] or None,
        environment=filters["environment"] or None,
        status=filters["status"] or None,
    ).prefetch_related("caused_incidents")
    total = rows.count()
    return render(
        request,
        "incidents/deployments.html",
        {
            "form": form,
            "deployments": rows[:DEPLOYMENT_ROWS],
            "total": total,
            "limit": DEPLOYMENT_ROWS,
            "days": filters["days"],
            "frozen": frozen_services(slo_statuses(slo_list(enabled_only=True)).values()),
            "dora": dora_stats(
                start=start,
                end=end,
                service=filters["service"] or None,
                environment=filters["environment"] or "production",
            ),
            "environment": filters["environment"] or "production",
        },
        status=status,
    )


@require_POST
@capability_required("manage_incidents")
def incident_from_alert(request, alert_id: int):
    """The alert pages' "Create incident" button (served at /alerts/<id>/incident/)."""
    alert = get_object_or_404(Alert.objects.select_related("rule"), pk=alert_id)
    incident = incident_create_from_alert(alert=alert, user=request.user)
    messages.success(request, f"Incident #{incident.pk} linked to alert #{alert.pk}.")
    return redirect(f"/incidents/{incident.pk}/")
