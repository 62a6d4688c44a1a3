from __future__ import annotations

from django import forms

from alerts.models import Channel
from incidents.models import CorrectiveAction, Deployment, Incident, IncidentUpdate
from incidents.selectors import cause_candidates

# How far before an incident the deployment menu reaches: a release that broke something is
# usually found within a couple of weeks.


class DeploymentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Deployment) -> str:
        return (
            f"#{obj.pk} {obj} ({obj.environment}, {obj.started_at:%Y-%m-%d %H:%M} UTC, "
            f"{obj.get_status_display()})"
        )


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


class IncidentPostUpdateForm(forms.Form):
    """An update by the people working on the incident; public ones go on the status page."""

    update_status = forms.ChoiceField(choices=IncidentUpdate.Status.choices, label="Status")
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    public = forms.BooleanField(
        required=False, help_text="Shown on the public status page and in its feed."
    )
    public_title = forms.CharField(
        max_length=200,
        required=False,
        label="Public title",
        help_text="The name the status page shows; never the internal title.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Stakeholder channels that get this update with the incident's link.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Channel.objects.filter(enabled=True).order_by("name")


class PostmortemForm(forms.Form):
    """The blameless template: each part with its prompt (see postmortem_services.PROMPTS)."""

    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    impact_notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Other impact"
    )
    timeline = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), required=False)
    why_1 = forms.CharField(required=False, max_length=2000, label="Why? (1)")
    why_2 = forms.CharField(required=False, max_length=2000, label="Why? (2)")
    why_3 = forms.CharField(required=False, max_length=2000, label="Why? (3)")
    why_4 = forms.CharField(required=False, max_length=2000, label="Why? (4)")
    why_5 = forms.CharField(required=False, max_length=2000, label="Why? (5)")
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    contributing_factors = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    what_went_well = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    review_meeting_on = forms.DateField(
        required=False,
        label="Review meeting",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    WHY_FIELDS = ("why_1", "why_2", "why_3", "why_4", "why_5")


class CorrectiveActionForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(max_length=300, required=False)
    owner = forms.CharField(max_length=150, required=False)
    due_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(choices=CorrectiveAction.Status.choices, required=False)
    link = forms.URLField(max_length=500, required=False, assume_scheme="https")

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not (data.get("id") or data.get("title") or data.get("owner") or data.get("due_on"))


CorrectiveActionFormSet = forms.formset_factory(CorrectiveActionForm, extra=2, can_delete=True)
