from django.contrib import admin
from django.db import models, transaction

from alerts.burn_rate import delete_burn_rate_rules
from incidents.models import SLO, Deployment, Incident, IncidentEvent
from incidents.slo.services import owner_key, sync_rules
from penguinmon.audit import AuditedModelAdmin


class IncidentEventInline(admin.TabularInline):
    model = IncidentEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "actor_label", "message")
    exclude = ("actor",)


@admin.register(Incident)
class IncidentAdmin(AuditedModelAdmin):
    list_display = ("id", "title", "severity", "status", "service", "started_at", "resolved_at")
    list_filter = ("status", "severity")
    search_fields = ("title", "service")
    filter_horizontal = ("alerts",)
    raw_id_fields = ("caused_by_deployment",)
    inlines = [IncidentEventInline]


class CausedIncidentInline(admin.TabularInline):
    model = Incident
    fk_name = "caused_by_deployment"
    fields = ("title", "severity", "status", "started_at", "resolved_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "Incidents this deployment caused"

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # an incident names its deployment from the incident's own page


@admin.register(Deployment)
class DeploymentAdmin(AuditedModelAdmin):
    list_display = (
        "id",
        "service",
        "environment",
        "version",
        "status",
        "started_at",
        "finished_at",
        "deployed_by",
        "during_freeze",
    )
    list_filter = ("status", "environment", "service", "during_freeze")
    search_fields = ("service", "version", "commit_sha", "deployed_by")
    date_hierarchy = "started_at"
    inlines = [CausedIncidentInline]
    # CI links are https; a bare host typed in the form should become one too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(SLO)
class SLOAdmin(AuditedModelAdmin):
    list_display = ("name", "service", "sli_kind", "route", "objective_pct", "window", "enabled")
    list_filter = ("sli_kind", "window", "enabled", "service")
    search_fields = ("name", "route")

    def save_model(self, request, obj, form, change) -> None:
        # The SLO's burn-rate alert rules follow every save, as through the API.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            sync_rules(obj)

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            delete_burn_rate_rules(owner=owner_key(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for slo in queryset:
            self.delete_model(request, slo)
