"""OpenSLO v1 (https://github.com/OpenSLO/OpenSLO) import and export, so SLOs can live in a
repository.

Export writes, per SLO, an ``SLI`` document (a ``ratioMetric`` whose good/total sources are
``type: PenguinMon`` with the SLI kind, service, route and threshold) and an ``SLO`` document
referring to it (``indicatorRef``), with ``budgetingMethod`` Timeslices for availability and
Occurrences for request SLIs, a rolling 28d/30d or calendar 1M ``timeWindow`` and one
objective (``target`` as a ratio, 0.999). Import takes the same shapes, with the SLI inline
(``indicator``) or referenced, creates or updates SLOs by display name, and is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from collectors.sli import LATENCY
from incidents.slo.models import SLO
from incidents.slo.services import slo_create, slo_update

API_VERSION = "openslo/v1"
SOURCE_TYPE = "PenguinMon"
WINDOWS = {"28d": SLO.Window.DAYS_28, "30d": SLO.Window.DAYS_30}


class OpenSloError(ValueError):
    pass


def _name(slo: SLO) -> str:
    return slugify(slo.name) or f"slo-{slo.pk}"


def _source(slo: SLO, events: str) -> dict:
    spec: dict[str, Any] = {"sli": slo.sli_kind, "service": slo.service.name, "events": events}
    if slo.route:
        spec["route"] = slo.route
    if slo.threshold_ms is not None:
        spec["threshold_ms"] = slo.threshold_ms
    return {"metricSource": {"type": SOURCE_TYPE, "spec": spec}}


def documents(slo: SLO) -> list[dict]:
    sli_name = f"{_name(slo)}-sli"
    if slo.window == SLO.Window.CALENDAR_MONTH:
        window = {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2020-01-01 00:00:00", "timeZone": "UTC"},
        }
    else:
        window = {"duration": slo.window, "isRolling": True}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "SLI",
            "metadata": {"name": sli_name, "displayName": f"{slo.name} SLI"},
            "spec": {
                "description": slo.sli_text(),
                "ratioMetric": {
                    "counter": True,
                    "good": _source(slo, "good"),
                    "total": _source(slo, "total"),
                },
            },
        },
        {
            "apiVersion": API_VERSION,
            "kind": "SLO",
            "metadata": {"name": _name(slo), "displayName": slo.name},
            "spec": {
                "description": slo.description,
                "service": slo.service.name,
                "indicatorRef": sli_name,
                "budgetingMethod": "Timeslices"
                if slo.sli_kind == "availability"
                else "Occurrences",
                "timeWindow": [window],
                "objectives": [
                    {"displayName": slo.name, "target": round(slo.objective_pct / 100.0, 10)}
                ],
            },
        },
    ]


def dump(slos: Sequence[SLO]) -> str:
    docs = [d for slo in slos for d in documents(slo)]
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _get(doc: dict, path: str, where: str):
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise OpenSloError(f"{where}: {path} is missing")
        value = value[key]
    return value


def _sli_fields(sli_doc: dict, where: str) -> dict:
    ratio = _get(sli_doc, "spec.ratioMetric", where)
    source = _get(ratio, "total.metricSource", where + " ratioMetric")
    if source.get("type") != SOURCE_TYPE:
        raise OpenSloError(
            f"{where}: metricSource type {source.get('type')!r} is not supported; "
            f"use {SOURCE_TYPE} (kinds availability, success_ratio, latency)"
        )
    spec = source.get("spec") or {}
    fields = {"sli_kind": spec.get("sli"), "route": spec.get("route", "") or ""}
    if spec.get("sli") == LATENCY:
        fields["threshold_ms"] = spec.get("threshold_ms")
    fields["service"] = spec.get("service")
    return fields


def _slo_fields(doc: dict, slis: dict[str, dict], where: str) -> dict:
    spec = _get(doc, "spec", where)
    if "indicator" in spec:
        fields = _sli_fields(spec["indicator"], where + " indicator")
    else:
        ref = _get(doc, "spec.indicatorRef", where)
        if ref not in slis:
            raise OpenSloError(f"{where}: indicatorRef {ref!r} names no SLI document")
        fields = _sli_fields(slis[ref], f"SLI {ref}")
    if spec.get("service"):
        fields["service"] = spec["service"]
    windows = _get(doc, "spec.timeWindow", where)
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise OpenSloError(f"{where}: spec.timeWindow must hold exactly one window")
    window = windows[0]
    if window.get("isRolling", True) is False and window.get("duration") == "1M":
        fields["window"] = SLO.Window.CALENDAR_MONTH
    elif window.get("isRolling", True) and window.get("duration") in WINDOWS:
        fields["window"] = WINDOWS[window["duration"]]
    else:
        raise OpenSloError(
            f"{where}: timeWindow {window.get('duration')!r} is not supported; use a rolling "
            "28d or 30d, or a calendar 1M"
        )
    objectives = _get(doc, "spec.objectives", where)
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise OpenSloError(f"{where}: spec.objectives must hold exactly one objective")
    target = objectives[0].get("target") if isinstance(objectives[0], dict) else None
    if isinstance(target, bool) or not isinstance(target, (int, float)):
        raise OpenSloError(f"{where}: objectives[0].target must be a ratio such as 0.999")
    fields["objective_pct"] = round(float(target) * 100.0, 10)
    fields["description"] = spec.get("description", "") or ""
    meta = doc.get("metadata") or {}
    fields["name"] = meta.get("displayName") or meta.get("name")
    if not fields["name"]:
        raise OpenSloError(f"{where}: metadata.name is missing")
    return fields


def load(text: str) -> ImportResult:
    """Create or update the SLOs the YAML describes; nothing is written if any is invalid."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise OpenSloError(f"not valid YAML: {exc}") from exc
    slis: dict[str, dict] = {}
    slo_docs = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or doc.get("apiVersion") != API_VERSION:
            raise OpenSloError(f"document {i + 1}: apiVersion must be {API_VERSION}")
        kind = doc.get("kind")
        if kind == "SLI":
            slis[_get(doc, "metadata.name", f"document {i + 1}")] = doc
        elif kind == "SLO":
            slo_docs.append((i, doc))
        else:
            raise OpenSloError(f"document {i + 1}: kind {kind!r} is not supported (SLI, SLO)")
    if not slo_docs:
        raise OpenSloError("no SLO document")
    result = ImportResult()
    with transaction.atomic():
        for i, doc in slo_docs:
            where = f"document {i + 1} (SLO)"
            fields = _slo_fields(doc, slis, where)
            existing = SLO.objects.filter(name=fields["name"]).first()
            try:
                if existing is None:
                    slo_create(**fields)
                    result.created.append(fields["name"])
                else:
                    fields.setdefault("threshold_ms", None)
                    slo_update(slo=existing, **fields)
                    result.updated.append(fields["name"])
            except ValidationError as exc:
                detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
                raise OpenSloError(f"{where} {fields['name']!r}: {detail}") from exc
    return result
