from django.contrib import admin, messages

from penguinmon.audit import AuditedModelAdmin, audit
from penguinmon.models import ApiToken, AuditLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system writes (history, results, deliveries): browsable, never added or edited
    by hand. Deleting stays possible unless ``allow_delete`` is False."""

    allow_delete = True

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and super().has_delete_permission(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = [
        "prefix",
        "name",
        "user",
        "scopes",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["prefix", "name", "user__username"]
    # Who a token acts as and what it may do are fixed when it is issued: widening a leaked
    # token's reach in place would be invisible to whoever holds it. Issue a new one instead.
    readonly_fields = ["user", "scopes", "prefix", "created_at", "last_used_at"]
    fields = [
        "user",
        "name",
        "scopes",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # The raw token must be shown once, so tokens are made by `manage.py create_api_token`.
        return False

    @admin.display(description="status")
    def status(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "active" if token.is_active else "expired"

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoke()
            audit(actor=request.user, action="token.revoke", target=token)
        messages.success(request, "Tokens revoked.")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_label", "action", "target_type", "target_repr"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_repr", "comment"]
    date_hierarchy = "at"
    allow_delete = False
