"""Postmortems: impact from the store, a timeline pre-filled from what the system recorded,
saving with corrective actions (all or nothing), the Markdown export, and the reads the
postmortems page, the incident list, the operations dashboard and the reports use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from collectors.store.query import window_values
from incidents.models import (
    CorrectiveAction,
    Deployment,
    Incident,
    IncidentEvent,
    Postmortem,
)
from incidents.selectors import CAUSE_WINDOW
from incidents.services import _actor
from incidents.slo.selectors import budget_incidents, slo_list, slo_statuses
from penguinmon.audit import audit

BLAMELESS_NOTE = (
    "This postmortem is blameless: it describes what the systems and the people working on "
    "them saw and did, and why that made sense at the time, so that we can change the "
    "systems. It never asks who is at fault."
)
# Prompts the form shows beside each part of the blameless template.
PROMPTS = {
    "summary": "What happened, in two or three sentences a customer could follow.",
    "impact_notes": "Impact the figures above do not show (customers who wrote in, SLAs).",
    "timeline": "Pre-filled from alerts, acknowledgements, updates and deployments; add what "
    "people saw and decided.",
    "five_whys": "Start from the symptom; each answer is the next question's subject.",
    "root_cause": "The condition that, had it not been there, would have prevented it.",
    "contributing_factors": "Everything else that made it worse or slower to fix.",
    "what_went_well": "What helped, so we keep it.",
}
WHYS = 5


def postmortem_impact(incident: Incident) -> dict:
    """Duration, and from the store (requests to the incident's service between its start and
    resolution): requests, failed requests (5xx) and, when the series carry a ``tenant``
    label, the tenants that saw failures. A figure the data does not hold is None."""
    end = incident.resolved_at or timezone.now()
    impact: dict = {
        "duration_minutes": round((end - incident.started_at).total_seconds() / 60, 1),
        "requests_total": None,
        "requests_failed": None,
        "failed_pct": None,
        "tenants_affected": None,
        "error_budget": error_budget_consumed(incident),
        "computed_at": timezone.now().isoformat(),
    }
    if not incident.service:
        return impact
    rows = window_values(
        metric="http_requests",
        labels={"service": incident.service},
        start=incident.started_at,
        end=end,
        agg="sum",
    )
    if rows:
        total = sum(v for _, v in rows)
        failed = sum(v for labels, v in rows if labels.get("status_class") == "5xx")
        impact["requests_total"] = int(total)
        impact["requests_failed"] = int(failed)
        impact["failed_pct"] = round(100 * failed / total, 3) if total else None
        if any("tenant" in labels for labels, _ in rows):
            impact["tenants_affected"] = sorted(
                {
                    labels["tenant"]
                    for labels, v in rows
                    if labels.get("status_class") == "5xx" and v > 0 and "tenant" in labels
                }
            )
    return impact


def error_budget_consumed(incident: Incident) -> list[dict]:
    """For each enabled SLO of the incident's service, the share of its error budget the
    incident used (incidents.slo: bad events inside the incident over the budget), while the
    incident is inside the SLO's window; empty when the service has no SLO."""
    if not incident.service:
        return []
    slos = [s for s in slo_list(enabled_only=True) if s.service.name == incident.service]
    out = []
    for status in slo_statuses(slos).values():
        share = next((x for x in budget_incidents(status) if x.incident.pk == incident.pk), None)
        out.append(
            {
                "slo": status.slo.name,
                "objective_pct": status.slo.objective_pct,
                # None: the incident is older than the SLO's window, so it no longer counts.
                "consumed_pct": None
                if share is None or share.share_pct is None
                else round(share.share_pct, 2),
            }
        )
    return out


@dataclass(frozen=True)
class Entry:
    at: datetime
    text: str

    def line(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} — {self.text}"


def timeline_entries(incident: Incident) -> list[Entry]:
    """What the system recorded, in time order: deployments of the incident's service in the
    14 days before it, its alerts firing, acknowledged and resolved, the incident's own
    status changes and notes, and every update (public or internal)."""
    entries: list[Entry] = []
    if incident.service:
        for d in Deployment.objects.filter(
            service=incident.service,
            started_at__gte=incident.started_at - CAUSE_WINDOW,
            started_at__lte=incident.resolved_at or timezone.now(),
        ).order_by("started_at"):
            entries.append(
                Entry(
                    d.started_at,
                    f"deployment #{d.pk} of {d.service} {d.version or d.commit_sha[:12]} to "
                    f"{d.environment}: {d.get_status_display().lower()}",
                )
            )
    for a in incident.alerts.select_related("acknowledged_by", "rule"):
        if a.fired_at:
            entries.append(Entry(a.fired_at, f"alert #{a.pk} fired: {a.message}"))
        if a.acknowledged_at:
            who = a.acknowledged_by.get_username() if a.acknowledged_by else "someone"
            entries.append(Entry(a.acknowledged_at, f"alert #{a.pk} acknowledged by {who}"))
        if a.resolved_at:
            entries.append(Entry(a.resolved_at, f"alert #{a.pk} resolved"))
    for e in incident.events.exclude(kind=IncidentEvent.Kind.UPDATE):
        if e.kind == IncidentEvent.Kind.NOTE and e.actor_label == "system":
            continue  # delivery and reminder records
        entries.append(Entry(e.at, f"incident {e.get_kind_display().lower()}: {e.message}"))
    for u in incident.updates.all():
        visibility = "public" if u.public else "internal"
        entries.append(
            Entry(
                u.created_at, f"{visibility} update ({u.status}) by {u.author_label}: {u.message}"
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


def _clean_actions(
    actions: list[dict], existing: dict[int, CorrectiveAction], today: date
) -> tuple[list[dict], dict]:
    """Check every action; a due date in the past is refused for a new action or a changed
    date (an existing action that became overdue can still be edited)."""
    errors: dict[str, list[str]] = {}
    cleaned = []
    url = URLValidator(schemes=["http", "https"])
    for n, raw in enumerate(actions):
        where = f"actions[{n}]"
        action_id = raw.get("id")
        if action_id is not None and action_id not in existing:
            errors.setdefault(where, []).append(f"no action #{action_id} in this postmortem")
            continue
        title = (raw.get("title") or "").strip()
        owner = (raw.get("owner") or "").strip()
        status = raw.get("status") or CorrectiveAction.Status.OPEN
        link = (raw.get("link") or "").strip()
        due_on = raw.get("due_on")
        if isinstance(due_on, str):
            try:
                due_on = date.fromisoformat(due_on)
            except ValueError:
                errors.setdefault(f"{where}.due_on", []).append("a date as YYYY-MM-DD")
                continue
        if not title:
            errors.setdefault(f"{where}.title", []).append("an action needs a title")
        elif len(title) > 300:
            errors.setdefault(f"{where}.title", []).append("at most 300 characters")
        if not owner:
            errors.setdefault(f"{where}.owner", []).append("an action needs an owner")
        elif len(owner) > 150:
            errors.setdefault(f"{where}.owner", []).append("at most 150 characters")
        if status not in CorrectiveAction.Status.values:
            errors.setdefault(f"{where}.status", []).append(
                f"unknown status {status!r}; use one of {', '.join(CorrectiveAction.Status.values)}"
            )
        if due_on is None:
            errors.setdefault(f"{where}.due_on", []).append("an action needs a due date")
        else:
            old = existing.get(action_id)
            if due_on < today and (old is None or old.due_on != due_on):
                errors.setdefault(f"{where}.due_on", []).append(
                    f"the due date {due_on} is in the past"
                )
        if link:
            try:
                url(link)
            except ValidationError:
                errors.setdefault(f"{where}.link", []).append("an http(s) URL")
        cleaned.append(
            {
                "id": action_id,
                "title": title,
                "owner": owner,
                "due_on": due_on,
                "status": status,
                "link": link,
            }
        )
    return cleaned, errors


TEXT_FIELDS = (
    "summary",
    "impact_notes",
    "timeline",
    "root_cause",
    "contributing_factors",
    "what_went_well",
)


def postmortem_save(
    *,
    incident: Incident,
    user,
    summary: str,
    actions: list[dict] | None = None,
    five_whys: list[str] | None = None,
    review_meeting_on: date | None = None,
    actor_label: str = "",
    **text: str,
) -> Postmortem:
    """Create or change the postmortem of a resolved incident with its corrective actions.
    ``actions`` (when given) is the whole list: rows with an ``id`` are changed, rows without
    one are added, missing ones are deleted. Text fields not given are left alone (on create:
    the timeline is pre-filled). Raises ValidationError naming each wrong field; then nothing
    is written."""
    unknown = set(text) - set(TEXT_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if incident.is_open:
        errors["incident"] = [
            f"incident #{incident.pk} is {incident.status}; a postmortem follows its resolution"
        ]
    summary = (summary or "").strip()
    if not summary:
        errors["summary"] = ["a postmortem needs a summary"]
    elif len(summary) > 20000:
        errors["summary"] = ["at most 20,000 characters"]
    whys = None
    if five_whys is not None:
        whys = [(w or "").strip() for w in five_whys]
        if len(whys) > WHYS:
            errors["five_whys"] = [f"at most {WHYS} answers"]
        elif any(len(w) > 2000 for w in whys):
            errors["five_whys"] = ["each answer at most 2,000 characters"]
        while whys and not whys[-1]:
            whys.pop()
    existing_pm = Postmortem.objects.filter(incident=incident).first()
    existing = {a.pk: a for a in existing_pm.actions.all()} if existing_pm else {}
    cleaned: list[dict] | None = None
    if actions is not None:
        cleaned, action_errors = _clean_actions(actions, existing, timezone.localdate())
        errors.update(action_errors)
    if errors:
        raise ValidationError(errors)
    actor, label = _actor(user, actor_label)
    with transaction.atomic():
        created = existing_pm is None
        pm = existing_pm or Postmortem(
            incident=incident,
            created_by=actor,
            impact=postmortem_impact(incident),
            timeline="\n".join(e.line() for e in timeline_entries(incident)),
        )
        pm.summary = summary
        for name, value in text.items():
            setattr(pm, name, (value or "").strip())
        if whys is not None:
            pm.five_whys = whys
        if review_meeting_on is not None or not created:
            pm.review_meeting_on = review_meeting_on
        pm.save()
        if cleaned is not None:
            keep = {row["id"] for row in cleaned if row["id"]}
            CorrectiveAction.objects.filter(postmortem=pm).exclude(pk__in=keep).delete()
            now = timezone.now()
            for row in cleaned:
                action = existing.get(row["id"]) or CorrectiveAction(postmortem=pm)
                was_open = action.pk is None or action.is_open
                for name in ("title", "owner", "due_on", "status", "link"):
                    setattr(action, name, row[name])
                if was_open and not action.is_open:
                    action.done_at = now
                elif action.is_open:
                    action.done_at = None
                action.save()
        incident.log(
            IncidentEvent.Kind.NOTE,
            "postmortem written" if created else "postmortem changed",
            actor=actor,
            actor_label=label,
        )
        audit(
            actor=user,
            action="postmortem.create" if created else "postmortem.update",
            target=pm,
            actor_label=label,
            changes={"actions": len(cleaned) if cleaned is not None else None},
        )
    return pm


def postmortem_refresh_impact(*, postmortem: Postmortem) -> Postmortem:
    postmortem.impact = postmortem_impact(postmortem.incident)
    postmortem.save(update_fields=["impact", "updated_at"])
    return postmortem


# --- reads ---------------------------------------------------------------------------------


def postmortem_list() -> QuerySet[Postmortem]:
    """Every postmortem with its incident and counts of open and overdue actions."""
    today = timezone.localdate()
    is_open = Q(actions__status__in=list(CorrectiveAction.OPEN_STATUSES))
    return (
        Postmortem.objects.select_related("incident")
        .annotate(
            actions_total=Count("actions", distinct=True),
            actions_open=Count("actions", filter=is_open, distinct=True),
            actions_overdue=Count(
                "actions", filter=is_open & Q(actions__due_on__lt=today), distinct=True
            ),
        )
        .order_by("-incident__started_at", "-id")
    )


def overdue_actions(*, today: date | None = None) -> list[CorrectiveAction]:
    """Open corrective actions past their due date, most overdue first."""
    today = today or timezone.localdate()
    return list(
        CorrectiveAction.objects.filter(
            status__in=list(CorrectiveAction.OPEN_STATUSES), due_on__lt=today
        )
        .select_related("postmortem__incident")
        .order_by("due_on", "id")
    )


def open_actions() -> list[CorrectiveAction]:
    return list(
        CorrectiveAction.objects.filter(status__in=list(CorrectiveAction.OPEN_STATUSES))
        .select_related("postmortem__incident")
        .order_by("due_on", "id")
    )


def missing_postmortem_ids() -> set[int]:
    """Resolved critical incidents without a postmortem (one is required for those)."""
    return set(
        Incident.objects.filter(
            severity=Incident.Severity.CRITICAL,
            status=Incident.Status.RESOLVED,
            postmortem__isnull=True,
        ).values_list("pk", flat=True)
    )


# --- Markdown --------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Plain text inside Markdown: HTML is shown as text, not rendered by a Markdown viewer."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def postmortem_markdown(pm: Postmortem) -> str:
    i = pm.incident
    imp = pm.impact or {}

    def figure(value, unit: str = "") -> str:
        return "not in the data" if value is None else f"{value:,}{unit}"

    lines = [
        f"# Postmortem: incident #{i.pk} {_md_escape(i.title)}",
        "",
        f"_{BLAMELESS_NOTE}_",
        "",
        f"- Severity: {i.severity}",
        f"- Service: {_md_escape(i.service) or '—'}",
        f"- Started: {i.started_at:%Y-%m-%d %H:%M} UTC",
        f"- Resolved: {i.resolved_at:%Y-%m-%d %H:%M} UTC" if i.resolved_at else "- Resolved: —",
        f"- Review meeting: {pm.review_meeting_on or 'not scheduled'}",
        "",
        "## Summary",
        "",
        _md_escape(pm.summary),
        "",
        "## Impact",
        "",
        f"- Duration: {figure(imp.get('duration_minutes'), ' min')}",
        f"- Requests: {figure(imp.get('requests_total'))}",
        f"- Failed requests (5xx): {figure(imp.get('requests_failed'))}"
        + (f" ({imp['failed_pct']}%)" if imp.get("failed_pct") is not None else ""),
        "- Tenants affected: "
        + (
            "not in the data"
            if imp.get("tenants_affected") is None
            else (", ".join(_md_escape(t) for t in imp["tenants_affected"]) or "none")
        ),
    ]
    for b in imp.get("error_budget") or []:
        used = "outside the SLO window" if b["consumed_pct"] is None else f"{b['consumed_pct']}%"
        lines.append(
            f"- Error budget of SLO {_md_escape(b['slo'])} ({b['objective_pct']}%): {used}"
        )
    if pm.impact_notes:
        lines += ["", _md_escape(pm.impact_notes)]
    lines += ["", "## Timeline (UTC)", ""]
    lines += [f"- {_md_escape(t)}" for t in pm.timeline.splitlines() if t.strip()] or ["—"]
    lines += ["", "## Five whys", ""]
    lines += [f"{n}. {_md_escape(w)}" for n, w in enumerate(pm.five_whys or [], 1)] or ["—"]
    for title, value in (
        ("Root cause", pm.root_cause),
        ("Contributing factors", pm.contributing_factors),
        ("What went well", pm.what_went_well),
    ):
        lines += ["", f"## {title}", "", _md_escape(value) or "—"]
    lines += ["", "## Corrective actions", ""]
    actions = list(pm.actions.all())
    if actions:
        lines += ["| Action | Owner | Due | Status | Link |", "| --- | --- | --- | --- | --- |"]
        for a in actions:
            cells = [
                _md_escape(a.title),
                _md_escape(a.owner),
                f"{a.due_on}" + (" (overdue)" if a.is_overdue() else ""),
                a.get_status_display(),
                a.link or "—",
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    else:
        lines.append("—")
    return "\n".join(lines) + "\n"


def review_period_postmortems(*, start: datetime, end: datetime) -> list[Postmortem]:
    """Postmortems of incidents started in [start, end), for the review pack."""
    return list(
        postmortem_list().filter(incident__started_at__gte=start, incident__started_at__lt=end)
    )


__all__ = [
    "BLAMELESS_NOTE",
    "PROMPTS",
    "missing_postmortem_ids",
    "open_actions",
    "overdue_actions",
    "postmortem_impact",
    "postmortem_list",
    "postmortem_markdown",
    "postmortem_refresh_impact",
    "postmortem_save",
    "review_period_postmortems",
    "timeline_entries",
]
