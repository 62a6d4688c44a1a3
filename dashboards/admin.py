"""Scheduled reports in Django admin: edits are audited; "send now" sends at once (audited)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from dashboards import reports
from dashboards.models import ScheduledReport
from penguinmon.audit import AuditedModelAdmin, audit


@admin.register(ScheduledReport)
class ScheduledReportAdmin(AuditedModelAdmin):
    list_display = (
        "name",
        "page",
        "range",
        "schedule",
        "format",
        "enabled",
        "last_sent_at",
        "has_error",
    )
    list_filter = ("page", "frequency", "enabled", "format")
    search_fields = ("name", "recipients")
    readonly_fields = ("last_sent_at", "last_attempt_at", "last_error", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "page", "range", "format", "recipients", "enabled")}),
        ("Schedule", {"fields": ("frequency", "weekday", "hour_utc")}),
        ("Last run", {"fields": ("last_sent_at", "last_attempt_at", "last_error", "created_at")}),
    )
    actions = ["send_now"]

    @admin.display(description="schedule")
    def schedule(self, obj: ScheduledReport) -> str:
        return obj.schedule_text

    @admin.display(description="error", boolean=True)
    def has_error(self, obj: ScheduledReport) -> bool:
        return bool(obj.last_error)

    @admin.action(description="Send now (whether due or not)")
    def send_now(self, request, queryset) -> None:
        now = timezone.now()
        for report in queryset:
            error = reports.send_now(report, now=now)
            audit(
                actor=request.user,
                action="report.send_now",
                target=report,
                changes={"recipients": report.recipient_list, "error": error},
            )
            if error:
                self.message_user(request, f"{report}: not sent: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{report}: sent to {', '.join(report.recipient_list)}.")
