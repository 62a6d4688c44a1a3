"""Writes of the monitoring configuration: services' thresholds and probes' settings (the API,
the admin's actions and the views call these), and the services PenguinMon starts with.

Every edit is saved and audited in one transaction (``penguinmon.audit.save_audited``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict

from collectors.models import Probe, Service
from collectors.monitoring.defaults import create_defaults
from collectors.monitoring.locations import location_errors
from collectors.monitoring.probes import config_errors
from penguinmon.audit import field_diff, save_audited


class ConfigError(ValueError):
    """An edit that would leave a service or probe invalid; nothing was written."""


def _by(actor, action: str, comment: str, actor_label: str) -> dict:
    # Who made an edit and why, as the audit log records it.
    return {"actor": actor, "action": action, "comment": comment, "actor_label": actor_label}


def update_service_thresholds(
    *, service: Service, changes: dict, actor, comment: str = "", actor_label: str = ""
) -> Service:
    """Set thresholds (down after N failures, degraded latency, k of n locations) or the
    description; audited as ``service.thresholds``."""
    before = {k: getattr(service, k) for k in changes}
    for key, value in changes.items():
        setattr(service, key, value)
    save_audited(
        service,
        diff=field_diff(before, changes),
        update_fields=list(changes),
        **_by(actor, "service.thresholds", comment, actor_label),
    )
    return service


def update_probe(
    *, probe: Probe, changes: dict, actor, comment: str = "", actor_label: str = ""
) -> Probe:
    """Enable/disable a probe or change its interval, timeout, locations (with their config
    overrides and k of n) or config; validated first (``ConfigError``, nothing written), then
    saved and audited as ``probe.change``. A probe whose interval changed or that was enabled
    runs at the next tick."""
    if "config" in changes and (errors := config_errors(probe.kind, changes["config"])):
        raise ConfigError("; ".join(errors))
    if "locations" in changes and (errors := location_errors(changes["locations"])):
        raise ConfigError("; ".join(errors))
    changes = dict(changes)
    before = model_to_dict(probe, fields=list(changes))
    for key, value in changes.items():
        setattr(probe, key, value)
    try:
        probe.full_clean()
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        ) from exc
    if "interval_seconds" in changes or changes.get("enabled"):
        probe.next_run_at = None  # run at the next tick with the new settings
        changes["next_run_at"] = None
    save_audited(
        probe,
        diff=field_diff(before, changes),
        update_fields=list(changes),
        **_by(actor, "probe.change", comment, actor_label),
    )
    return probe


def set_probe_enabled(*, probe: Probe, enabled: bool, actor) -> None:
    """The admin's enable/disable actions: the probe's schedule restarts either way."""
    before = {"enabled": probe.enabled}
    probe.enabled = enabled
    probe.next_run_at = None
    save_audited(
        probe,
        diff=field_diff(before, {"enabled": enabled}),
        update_fields=["enabled", "next_run_at"],
        actor=actor,
        action="admin.change",
    )


def ensure_default_services() -> int:
    return create_defaults(Service, Probe)
