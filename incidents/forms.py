from __future__ import annotations

from django import forms

from incidents.models import Incident


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    title = forms.CharField(max_length=200)
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20000
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        help_text="Added to the timeline.",
    )
