"""Writes of the monitoring configuration: the services and probes PenguinMon starts with."""

from __future__ import annotations

from collectors.models import Probe, Service
from collectors.monitoring.defaults import create_defaults


def ensure_default_services() -> int:
    return create_defaults(Service, Probe)
