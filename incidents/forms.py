from __future__ import annotations

from datetime import timedelta

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from incidents.models import Deployment, Incident

# How far before an incident the deployment menu reaches: a release that broke something is
# usually found within a couple of weeks.
CAUSE_WINDOW = timedelta(days=14)


class DeploymentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Deployment) -> str:
        return (
            f"#{obj.pk} {obj} ({obj.environment}, {obj.started_at:%Y-%m-%d %H:%M} UTC, "
            f"{obj.get_status_display()})"
        )


def cause_candidates(incident: Incident) -> QuerySet[Deployment]:
    """Deployments that may have caused ``incident``: its service's (any service's when it has
    none) started from 14 days before the incident until now, newest first, plus the one
    already named, so saving other fields never drops an older choice."""
    recent = Q(started_at__gte=incident.started_at - CAUSE_WINDOW, started_at__lte=timezone.now())
    if incident.service:
        recent &= Q(service=incident.service)
    if incident.caused_by_deployment_id:
        recent |= Q(pk=incident.caused_by_deployment_id)
    return Deployment.objects.filter(recent).order_by("-started_at", "-id")


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    title = forms.CharField(max_length=200)
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20000
    )
    caused_by_deployment = DeploymentChoiceField(
        queryset=Deployment.objects.none(),
        required=False,
        empty_label="none",
        label="Caused by deployment",
        help_text="Counts as a change failure in the DORA figures.",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        help_text="Added to the timeline.",
    )

    def __init__(self, *args, incident: Incident, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["caused_by_deployment"].queryset = cause_candidates(incident)


RANGE_DAYS = [(7, "last 7 days"), (30, "last 30 days"), (90, "last 90 days")]


class DeploymentFilterForm(forms.Form):
    """Filters of the deployments page; service and environment choices come from the rows."""

    service = forms.ChoiceField(required=False)
    environment = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "All")] + list(Deployment.Status.choices)
    )
    days = forms.TypedChoiceField(
        choices=RANGE_DAYS, coerce=int, required=False, empty_value=30, initial=30
    )

    def __init__(self, *args, services: list[str], environments: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "All")] + [(s, s) for s in services]
        self.fields["environment"].choices = [("", "All")] + [(e, e) for e in environments]
