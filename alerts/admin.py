"""Admin is where thresholds, channels, escalation and silences are edited; every save is
audited (AuditedModelAdmin), including escalation steps edited inline."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from alerts.models import (
    WEEKDAYS,
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Delivery,
    EscalationPolicy,
    EscalationStep,
    GroupingPolicy,
    NotificationGroup,
    Silence,
)
from penguinmon.admin import ReadOnlyAdmin
from penguinmon.audit import AuditedModelAdmin, audit


@admin.register(AlertRule)
class AlertRuleAdmin(AuditedModelAdmin):
    list_display = (
        "name",
        "severity",
        "metric",
        "aggregation",
        "comparator",
        "threshold",
        "for_seconds",
        "enabled",
    )
    list_filter = ("severity", "enabled", "aggregation")
    list_editable = ()  # list edits would bypass the per-object audit; edit on the form
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    search_fields = ("name", "metric", "service")
    fieldsets = (
        (
            None,
            {"fields": ("name", "description", "enabled", "severity", "service", "parent_service")},
        ),
        (
            "Condition",
            {
                "fields": (
                    "metric",
                    "label_filters",
                    "aggregation",
                    "window_seconds",
                    "comparator",
                    "threshold",
                    "for_seconds",
                    "k_of_n_k",
                    "k_of_n_n",
                    "on_no_data",
                )
            },
        ),
        (
            "Response",
            {
                "fields": (
                    "message_template",
                    "runbook_url",
                    "escalation_policy",
                    "repeat_interval_minutes",
                    "notify_limit_minutes",
                )
            },
        ),
    )


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    list_display = ("name", "kind", "enabled", "on_call", "chat", "digest")
    list_filter = ("kind", "enabled", "on_call", "chat", "digest")


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 1


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(AuditedModelAdmin):
    list_display = ("name", "description")
    inlines = [EscalationStepInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            audit(
                actor=request.user,
                action="admin.add",
                target=obj,
                changes={
                    "wait_minutes": obj.wait_minutes,
                    "channel": str(obj.channel),
                    "order": obj.order,
                },
            )
        for obj, fields in formset.changed_objects:
            audit(
                actor=request.user,
                action="admin.change",
                target=obj,
                changes={f: str(getattr(obj, f)) for f in fields},
            )
        for obj in formset.deleted_objects:
            audit(actor=request.user, action="admin.delete", target=obj, changes={"step": str(obj)})


class SilenceAdminForm(forms.ModelForm):
    """Weekdays as checkboxes instead of a raw JSON list."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=[(i, name.capitalize()) for i, name in enumerate(WEEKDAYS)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Weekly windows: the days they start on.",
    )

    class Meta:
        model = Silence
        fields = (
            "matchers",
            "everything",
            "comment",
            "repeat",
            "starts_at",
            "ends_at",
            "weekdays",
            "local_start",
            "duration_minutes",
            "timezone",
        )


@admin.register(Silence)
class SilenceAdmin(AuditedModelAdmin):
    form = SilenceAdminForm
    list_display = ("__str__", "repeat", "starts_at", "ends_at", "comment", "created_by")
    list_filter = ("repeat", "everything")
    search_fields = ("comment",)
    readonly_fields = ("created_by",)
    fieldsets = (
        (None, {"fields": ("matchers", "everything", "comment", "created_by")}),
        ("When", {"fields": ("repeat", "starts_at", "ends_at")}),
        (
            "Weekly schedule",
            {"fields": ("weekdays", "local_start", "duration_minutes", "timezone")},
        ),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "from_state", "to_state", "actor_label", "message")
    exclude = ("actor",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Alerts change through the state machine (feed, API), not by editing rows here."""

    list_display = ("id", "rule", "severity", "state", "service", "started_at", "acknowledged_by")
    list_filter = ("state", "severity")
    search_fields = ("message", "service")
    inlines = [AlertEventInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "event", "alert", "attempt", "status", "response_code")
    list_filter = ("status", "event", "channel")


@admin.register(GroupingPolicy)
class GroupingPolicyAdmin(AuditedModelAdmin):
    """One row: how firing alerts are grouped into notifications (alerts.grouping)."""

    list_display = ("__str__",)

    def has_add_permission(self, request):
        return not GroupingPolicy.objects.exists()


@admin.register(NotificationGroup)
class NotificationGroupAdmin(ReadOnlyAdmin):
    """The notification log: what each group last sent, and when it may send again."""

    list_display = ("key", "route", "first_seen_at", "last_flushed_at", "next_flush_at")
    search_fields = ("key",)
