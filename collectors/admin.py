from django.contrib import admin, messages
from django.utils.html import format_html_join

from collectors.models import Host, Probe, Series, Service, StatusChange
from collectors.monitoring.config import set_probe_enabled
from collectors.monitoring.probing import ProbeNotHere, run_probe
from penguinmon.admin import ReadOnlyAdmin
from penguinmon.audit import AuditedModelAdmin


class CollectedAdmin(ReadOnlyAdmin):
    """Rows written by the collectors themselves: browsable, never edited or deleted by hand."""

    allow_delete = False


@admin.register(Series)
class SeriesAdmin(CollectedAdmin):
    list_display = ["name", "labels", "unit", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "key"]


class ProbeInline(admin.TabularInline):
    model = Probe
    fields = [
        "name",
        "kind",
        "enabled",
        "interval_seconds",
        "last_ok",
        "last_message",
        "last_run_at",
    ]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # probes are added on their own page, where the edit is audited


@admin.register(Service)
class ServiceAdmin(AuditedModelAdmin):
    list_display = [
        "display_name",
        "name",
        "kind",
        "status",
        "parent",
        "down_after_failures",
        "degraded_latency_ms",
        "fail_locations_k",
        "position",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["name", "display_name"]
    readonly_fields = ["status", "status_since", "status_reason"]
    fields = [
        "name",
        "display_name",
        "kind",
        "description",
        "parent",
        "down_after_failures",
        "degraded_latency_ms",
        "fail_locations_k",
        "position",
        "status",
        "status_since",
        "status_reason",
    ]
    inlines = [ProbeInline]


@admin.register(Probe)
class ProbeAdmin(AuditedModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "enabled",
        "interval_seconds",
        "timeout_seconds",
        "locations",
        "last_ok",
        "last_latency_ms",
        "last_message",
        "last_run_at",
    ]
    list_filter = ["kind", "enabled", "service"]
    search_fields = ["name", "service__name"]
    list_select_related = ["service"]
    readonly_fields = ["next_run_at", *Probe.SHOWN_RESULT_FIELDS, "results_by_location"]
    fields = [
        "service",
        "name",
        "kind",
        "config",
        "enabled",
        "interval_seconds",
        "timeout_seconds",
        "locations",
        "location_overrides",
        "fail_locations_k",
        *readonly_fields,
    ]

    @admin.display(description="Last result by location")
    def results_by_location(self, obj: Probe) -> str:
        # Read-only text rather than an inline: the rows are written by each location's worker.
        if obj.pk is None or not obj.multi_location:
            return "–"
        lines = []
        for location, r in obj.results_by_location().items():
            when = f"{r.last_run_at:%Y-%m-%d %H:%M:%S} UTC" if r.last_run_at else "never run"
            outcome = {True: "ok", False: "failed", None: "–"}[r.last_ok]
            lines.append(f"{location}: {outcome}, {r.last_message or '–'} ({when})")
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    actions = ["run_now", "enable", "disable"]

    @admin.action(description="Run the selected probes now")
    def run_now(self, request, queryset):
        for probe in queryset.select_related("service"):
            try:
                outcome = run_probe(probe=probe)
            except ProbeNotHere as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            level = messages.SUCCESS if outcome.result.ok else messages.ERROR
            self.message_user(request, f"{probe}: {outcome.result.message}", level)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        for probe in queryset.exclude(enabled=enabled):
            set_probe_enabled(probe=probe, enabled=enabled, actor=request.user)
        self.message_user(request, "Probes enabled." if enabled else "Probes disabled.")

    @admin.action(description="Enable the selected probes")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected probes")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)


@admin.register(StatusChange)
class StatusChangeAdmin(CollectedAdmin):
    list_display = ["at", "service", "old_status", "new_status", "reason"]
    list_filter = ["new_status", "service"]
    date_hierarchy = "at"


@admin.register(Host)
class HostAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "enabled",
        "has_worker",
        "last_sample_at",
        "cpu_percent",
        "memory_percent",
    ]
    list_filter = ["enabled", "has_worker"]
    readonly_fields = [
        "last_sample_at",
        "cpu_percent",
        "memory_percent",
        "process_count",
        "top_cpu",
        "top_memory",
        "disks",
    ]
