from __future__ import annotations

import json

from django import forms

from alerts.models import WEEKDAYS, Alert, valid_timezone
from alerts.selectors import SEVERITY_ALIASES


class SeverityField(forms.ChoiceField):
    """The seed's words in any case (ERROR, Warning, info), and our own (critical): a link
    like /alerts/?severity=ERROR filters instead of failing as "not one of the choices"."""

    def to_python(self, value) -> str:
        return super().to_python(value).strip().lower()

    def valid_value(self, value) -> bool:
        return value == "" or value in SEVERITY_ALIASES


class FeedFilterForm(forms.Form):
    severity = SeverityField(
        required=False,
        choices=[
            ("", "All severities"),
            ("error", "ERROR"),
            ("warning", "WARNING"),
            ("info", "INFO"),
        ],
    )
    service = forms.CharField(required=False, max_length=100)
    state = forms.ChoiceField(required=False, choices=[("", "All states"), *Alert.State.choices])


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, strip=True)


class SilenceForm(forms.Form):
    matchers = forms.CharField(
        max_length=500,
        help_text="Labels to match, e.g. service=smtp, host=mx-1 (alertname and severity work too).",
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=60 * 24 * 90, initial=60)
    comment = forms.CharField(max_length=500)
    repeat = forms.ChoiceField(
        choices=[("once", "Once, starting now"), ("weekly", "Every week")],
        initial="once",
        required=False,
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=[(i, name.capitalize()) for i, name in enumerate(WEEKDAYS)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    local_start = forms.TimeField(required=False, help_text="HH:MM on the zone's wall clock")
    timezone = forms.CharField(max_length=64, required=False, initial="UTC")

    def clean_matchers(self) -> dict:
        raw = self.cleaned_data["matchers"].strip()
        if raw.startswith("{"):
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                raise forms.ValidationError(f"not valid JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise forms.ValidationError("a JSON object of label to value")
            return {str(k): str(v) for k, v in parsed.items()}
        matchers = {}
        for part in filter(None, (p.strip() for p in raw.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise forms.ValidationError(f"{part!r} is not label=value")
            matchers[key.strip()] = value.strip().strip('"')
        if not matchers:
            raise forms.ValidationError("give at least one label=value")
        return matchers

    def clean(self) -> dict:
        data = super().clean()
        if data.get("repeat") == "weekly":
            if not data.get("weekdays"):
                self.add_error("weekdays", "pick at least one day")
            if data.get("local_start") is None and "local_start" not in self.errors:
                self.add_error("local_start", "a weekly window needs a start time")
            if not valid_timezone(data.get("timezone") or "UTC"):
                self.add_error("timezone", "unknown time zone (e.g. Europe/Berlin)")
        return data
