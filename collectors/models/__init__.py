"""Collectors models: the metric store's series catalogue, plus (in sibling modules) what is
measured. The sample, rollup and histogram tables are plain partitioned SQL tables owned by
collectors/store/ and created in migration 0001; they have no Django model on purpose."""

from collectors.models.monitoring import (
    Health,
    Host,
    Probe,
    ProbeLocation,
    RunResult,
    Service,
    Status,
    StatusChange,
)
from collectors.models.series import ExponentialState, Series

__all__ = [
    "ExponentialState",
    "Series",
    "Health",
    "Host",
    "Probe",
    "ProbeLocation",
    "RunResult",
    "Service",
    "Status",
    "StatusChange",
]
