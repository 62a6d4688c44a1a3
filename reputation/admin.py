"""Admin: IPs, zones and domains are configuration (audited); history is read-only."""

from django.contrib import admin

from penguinmon.admin import ReadOnlyAdmin
from penguinmon.audit import AuditedModelAdmin
from reputation.models import (
    BlocklistZone,
    CheckRun,
    Listing,
    ListingCheck,
    ReputationSnapshot,
    RotationEvent,
    SendingDomain,
    SendingIP,
)


@admin.register(SendingIP)
class SendingIPAdmin(AuditedModelAdmin):
    list_display = (
        "address",
        "provider",
        "pool",
        "active",
        "status",
        "last_score",
        "daily_volume",
        "last_checked_at",
    )
    list_filter = ("provider", "pool", "active", "status")
    search_fields = ("address", "provider")
    readonly_fields = ("last_score", "last_checked_at", "created_at")


@admin.register(BlocklistZone)
class BlocklistZoneAdmin(AuditedModelAdmin):
    list_display = ("name", "zone", "kind", "major", "weight", "enabled")
    list_filter = ("kind", "major", "enabled")
    list_editable = ("weight", "enabled")
    search_fields = ("name", "zone")


@admin.register(SendingDomain)
class SendingDomainAdmin(AuditedModelAdmin):
    list_display = (
        "domain",
        "dkim_selectors",
        "spf_status",
        "dkim_status",
        "dmarc_status",
        "checked_at",
    )
    search_fields = ("domain",)
    readonly_fields = (
        "spf_status",
        "spf_record",
        "spf_findings",
        "dkim_status",
        "dkim_results",
        "dmarc_status",
        "dmarc_record",
        "dmarc_findings",
        "checked_at",
    )


# History written by check runs and rotations (ReadOnlyAdmin): viewable, never edited by hand.


@admin.register(ListingCheck)
class ListingCheckAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "ip", "domain", "zone", "result", "detail")
    list_filter = ("result", "zone")
    date_hierarchy = "checked_at"
    list_select_related = ("ip", "domain", "zone")


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = ("ip", "domain", "zone", "listed_at", "delisted_at", "reason")
    list_filter = ("zone",)
    list_select_related = ("ip", "domain", "zone")


@admin.register(ReputationSnapshot)
class ReputationSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "ip", "score", "status", "major_listed")
    list_select_related = ("ip",)


@admin.register(RotationEvent)
class RotationEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "from_address",
        "to_address",
        "actor_label",
        "reason",
        "webhook_status",
        "webhook_error",
    )


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = ("requested_at", "requested_by", "status", "started_at", "finished_at", "error")
    list_filter = ("status",)
