from django.contrib import admin
from django.db import models, transaction

from alerts.burn_rate import delete_burn_rate_rules
from incidents.models import (
    SLO,
    Deployment,
    Incident,
    IncidentEvent,
    IncidentUpdate,
    StatusComponent,
)
from incidents.slo.services import owner_key, sync_rules
from incidents.status_page import forget_cached_status
from penguinmon.audit import AuditedModelAdmin


class IncidentEventInline(admin.TabularInline):
    model = IncidentEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "actor_label", "message")
    exclude = ("actor",)


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "status", "public", "author_label", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # posted from the incident page or the API, which notify and audit


@admin.register(StatusComponent)
class StatusComponentAdmin(AuditedModelAdmin):
    """What the public status page lists. Only the name and description are public."""

    list_display = ("name", "position", "visible", "service_names")
    list_editable = ("position", "visible")
    filter_horizontal = ("services",)

    @admin.display(description="internal services")
    def service_names(self, obj: StatusComponent) -> str:
        return ", ".join(s.name for s in obj.services.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        forget_cached_status()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_cached_status()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        forget_cached_status()


@admin.register(Incident)
class IncidentAdmin(AuditedModelAdmin):
    list_display = ("id", "title", "severity", "status", "service", "started_at", "resolved_at")
    list_filter = ("status", "severity")
    search_fields = ("title", "service")
    filter_horizontal = ("alerts",)
    inlines = [IncidentEventInline, IncidentUpdateInline]
    raw_id_fields = ("caused_by_deployment", "owner")


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
