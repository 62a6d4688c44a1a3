"""Writing the audit log, and an admin base class that audits every change it saves."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.forms.models import model_to_dict

from penguinmon.models import AuditLog


def audit(
    *,
    actor,
    action: str,
    target: models.Model,
    changes: dict | None = None,
    comment: str = "",
    actor_label: str = "",
) -> AuditLog:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "system"),
        action=action,
        target_type=target._meta.label,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        changes=changes or {},
        comment=comment,
    )


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


class AuditedModelAdmin(admin.ModelAdmin):
    """Records field-level before/after for every add, change and delete made in admin."""

    def save_model(self, request, obj, form, change):
        before = {}
        if change and obj.pk:
            old = type(obj).objects.filter(pk=obj.pk).first()
            if old is not None:
                before = model_to_dict(old)
        super().save_model(request, obj, form, change)
        after = model_to_dict(obj)
        diff = {
            k: {"from": _jsonable(before.get(k)), "to": _jsonable(v)}
            for k, v in after.items()
            if not change or before.get(k) != v
        }
        if diff:
            audit(
                actor=request.user,
                action="admin.change" if change else "admin.add",
                target=obj,
                changes=diff,
            )

    def delete_model(self, request, obj):
        audit(
            actor=request.user,
            action="admin.delete",
            target=obj,
            changes={k: _jsonable(v) for k, v in model_to_dict(obj).items()},
        )
        super().delete_model(request, obj)
