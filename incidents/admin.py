from django.contrib import admin

from incidents.models import Incident, IncidentEvent
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
    inlines = [IncidentEventInline]
