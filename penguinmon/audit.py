"""Writing the audit log, and an admin base class that audits every change it saves."""

from __future__ import annotations

from django.contrib import admin
from django.db import models, transaction
from django.forms.models import model_to_dict

from penguinmon.models import AuditLog
from penguinmon.observability import capture_event
from penguinmon.redact import REDACTED, SECRET_KEY_RE, mask_headers


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
    entry = AuditLog.objects.create(
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "system"),
        action=action,
        target_type=target._meta.label,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        changes=changes or {},
        comment=comment,
    )
    # Product analytics see the same user actions (acks, edits, rotations), once committed.
    transaction.on_commit(
        lambda: capture_event(
            distinct_id=entry.actor_label,
            event=f"penguinmon {action}",
            properties={"target_type": entry.target_type, "target_id": entry.target_id},
        )
    )
    return entry


def field_diff(before: dict, after: dict) -> dict:
    """``{field: {"from": old, "to": new}}`` for each field of ``after`` whose value differs
    from the one ``before`` holds (fields ``before`` does not hold are not compared)."""
    return {
        k: {"from": before[k], "to": v} for k, v in after.items() if k in before and before[k] != v
    }


def save_audited(
    obj: models.Model,
    *,
    diff: dict,
    actor,
    action: str,
    update_fields: list[str] | None = None,
    comment: str = "",
    actor_label: str = "",
) -> None:
    """Save ``obj`` and record ``diff`` (when there is one) in the audit log, in one
    transaction: an edit is never saved unaudited, nor audited unsaved."""
    with transaction.atomic():
        obj.save(update_fields=update_fields)
        if diff:
            audit(
                actor=actor,
                action=action,
                target=obj,
                changes=diff,
                comment=comment,
                actor_label=actor_label,
            )


__all__ = ["REDACTED", "SECRET_KEY_RE", "AuditedModelAdmin", "audit", "field_diff", "save_audited"]


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {
            str(k): REDACTED
            if SECRET_KEY_RE.search(str(k)) and v not in (None, "")
            else _jsonable(mask_headers(v) if k == "headers" and isinstance(v, dict) else v)
            for k, v in value.items()
        }
    return str(value)


class AuditedModelAdmin(admin.ModelAdmin):
    """Records field-level before/after for every add, change and delete made in admin.

    Credentials inside JSON fields are stored as ``***`` (see SECRET_KEY_RE); a changed secret
    still shows up as a changed field. List other sensitive fields in ``audit_redact_fields``.
    """

    audit_redact_fields: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        before = {}
        if change and obj.pk:
            old = type(obj).objects.filter(pk=obj.pk).first()
            if old is not None:
                before = model_to_dict(old)
        super().save_model(request, obj, form, change)
        after = model_to_dict(obj)
        diff = {
            k: self._audit_value(k, before.get(k), v)
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

    def _audit_value(self, field: str, old, new) -> dict:
        if field in self.audit_redact_fields:
            return {"from": REDACTED, "to": REDACTED}
        return {"from": _jsonable(old), "to": _jsonable(new)}

    def delete_model(self, request, obj):
        audit(
            actor=request.user,
            action="admin.delete",
            target=obj,
            changes={
                k: REDACTED if k in self.audit_redact_fields else _jsonable(v)
                for k, v in model_to_dict(obj).items()
            },
        )
        super().delete_model(request, obj)
