from django.contrib import admin
from django.db import models

from incidents.models import Deployment, Incident, IncidentEvent
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
    )
    list_filter = ("status", "environment", "service")
    search_fields = ("service", "version", "commit_sha", "deployed_by")
    date_hierarchy = "started_at"
    inlines = [CausedIncidentInline]
    # CI links are https; a bare host typed in the form should become one too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
