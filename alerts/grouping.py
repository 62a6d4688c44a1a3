"""Notification grouping as Alertmanager does it (dispatch/dispatch.go, notify/dedup_stage.go).

Firing alerts are not sent one by one. Each flush (beat, every few seconds, and after each
evaluation cycle) reads every firing, unacknowledged critical and warning alert at once and:

1. holds back those whose parent service is down (the rule's ``parent_service``, or the
   collectors service's parent) — an outage of a parent is one notification, which names how
   many alerts on how many child services it suppresses — and the silenced ones (each alert
   records the silence in ``group_key``);
2. puts the rest into groups: same severity route (critical → on-call channels, warning →
   chat channels) and the same values of the policy's ``group_by`` labels (default service
   and severity);
3. sends a group when its ``group_wait`` (30 s) has passed since it appeared, then again at
   most every ``group_interval`` (5 min) when alerts joined it, and every ``repeat_interval``
   (4 h) while it still fires — one message per channel listing the group's alerts. The
   group row is the notification log (what was sent, when).

Resolutions, acknowledgements, escalation steps and the info digest stay per alert
(alerts.notify). The flush is a handful of set-based queries however many alerts fire, so an
outage of 10,000 alerts is one cycle well under a second (benchmarks/bench_grouping.py).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEvent,
    Channel,
    GroupingPolicy,
    NotificationGroup,
    Silence,
)
from collectors.models import Service

log = logging.getLogger(__name__)

SERVICE_DOWN_METRIC = "probe_up"
ROUTES = ("critical", "warning")


def enabled() -> bool:
    """Grouping is on unless ``ALERT_GROUPING=0`` (then every alert notifies on its own)."""
    return getattr(settings, "ALERT_GROUPING", True)


@dataclass
class Member:
    id: int
    service: str
    notified: bool


@dataclass
class FlushResult:
    groups: int = 0
    notifications: int = 0  # messages queued (one per channel per group sent)
    sent_groups: list[str] = field(default_factory=list)
    suppressed: int = 0
    silenced: int = 0


def group_key(route: str, labels: dict, group_by: tuple[str, ...]) -> tuple[str, dict]:
    values = {name: str(labels.get(name, "")) for name in group_by}
    return f"{route}|" + ",".join(f"{k}={v}" for k, v in values.items()), values


def _channels() -> dict[str, list[Channel]]:
    enabled_channels = list(Channel.objects.filter(enabled=True))
    return {
        "critical": [c for c in enabled_channels if c.on_call],
        "warning": [c for c in enabled_channels if c.chat],
    }


def flush(*, now: datetime | None = None) -> FlushResult:
    """One dispatch cycle: group the firing alerts and send the groups that are due."""
    now = now or timezone.now()
    policy = GroupingPolicy.current()
    result = FlushResult()
    # Labels come as text and are parsed only for alerts that reach silences and grouping:
    # in an outage most alerts stop at the parent check, and parsing 10,000 JSON label sets
    # (and timestamps: the fired time comes as epoch seconds) was most of a cycle.
    rows = (
        Alert.objects.filter(state=Alert.State.FIRING, severity__in=ROUTES)
        .annotate(
            labels_text=Cast("labels", TextField()),
            fired_epoch=RawSQL("floor(extract(epoch from fired_at))::bigint", []),
        )
        .values_list(
            "id",
            "labels_text",
            "severity",
            "service",
            "notified",
            "group_key",
            "rule__name",
            "rule__parent_service",
            "fired_epoch",
        )
    )
    silences = [
        s
        for s in Silence.objects.overlapping(now, now + timedelta(microseconds=1))
        if s.is_active(now)
    ]
    parent_of = dict(
        Service.objects.filter(parent__isnull=False).values_list("name", "parent__name")
    )
    down = dict(
        Alert.objects.active()
        .filter(rule__metric=SERVICE_DOWN_METRIC)
        .order_by("id")
        .values_list("service", "id")
    )
    groups: dict[str, list[Member]] = defaultdict(list)
    group_labels: dict[str, tuple[str, dict]] = {}
    # A group starts when its first alert fired (as in Alertmanager, where the group is made
    # when that alert arrives), not when a flush first happened to see it.
    started: dict[str, float] = {}
    held: dict[str, list[int]] = defaultdict(list)  # reason → alert ids
    children: dict[str, list[str]] = defaultdict(list)  # parent → child services (one per alert)
    old_keys: dict[int, str] = {}
    now_epoch = now.timestamp()
    for aid, labels_text, severity, service, notified, old_key, rule, parent, fired in rows:
        # Parent first: a child of a down parent is named in the parent's group, whatever
        # else would hold it (Alertmanager's inhibition).
        parent = parent or parent_of.get(service, "")
        if parent and parent in down and down[parent] != aid:
            children[parent].append(service)
            result.suppressed += 1
            continue
        old_keys[aid] = old_key
        match = {**json.loads(labels_text), "alertname": rule, "severity": severity}
        match["service"] = service
        silence = next((s for s in silences if s.matches(match)), None)
        if silence is not None:
            held[f"silenced by silence #{silence.pk}"].append(aid)
            result.silenced += 1
            continue
        key, values = group_key(severity, match, policy.labels)
        group_labels[key] = (severity, values)
        started[key] = min(started.get(key, now_epoch), fired if fired is not None else now_epoch)
        groups[key].append(Member(aid, service, notified))
    result.groups = len(groups)
    with transaction.atomic():
        _mark(held, old_keys)
        # A group with nothing firing is over (as in Alertmanager): the next alert with its
        # labels starts a new group, which waits group_wait again.
        NotificationGroup.objects.exclude(key__in=list(groups)).delete()
        existing = {g.key: g for g in NotificationGroup.objects.filter(key__in=list(groups))}
        fresh = [
            NotificationGroup(
                key=key,
                route=group_labels[key][0],
                labels=group_labels[key][1],
                first_seen_at=_at(started[key]),
                next_flush_at=_at(started[key]) + policy.group_wait,
            )
            for key in groups
            if key not in existing
        ]
        for g in NotificationGroup.objects.bulk_create(fresh):
            existing[g.key] = g
        channels = _channels()
        for key, members in groups.items():
            group = existing[key]
            _mark({key: [m.id for m in members]}, old_keys)
            sent = _maybe_send(group, members, channels[group.route], policy, now, children)
            if sent:
                result.notifications += sent
                result.sent_groups.append(key)
    return result


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _mark(by_key: dict[str, list[int]], old_keys: dict[int, str]) -> None:
    """Record on each alert where it went, one UPDATE per distinct key, only where it changed."""
    for key, ids in by_key.items():
        changed = [i for i in ids if old_keys.get(i) != key]
        if changed:
            Alert.objects.filter(pk__in=changed).update(group_key=key[:300])


def _maybe_send(
    group: NotificationGroup,
    members: list[Member],
    channels: list[Channel],
    policy: GroupingPolicy,
    now: datetime,
    children: dict[str, list[str]],
) -> int:
    if now < group.next_flush_at:
        return 0  # still collecting (group_wait) or paced (group_interval)
    ids = sorted(m.id for m in members)
    new = [m for m in members if m.id not in set(group.notified_ids)]
    repeat_due = (
        group.last_flushed_at is not None
        and policy.repeat_interval_minutes > 0
        and now - group.last_flushed_at >= policy.repeat_interval
    )
    if not new and not repeat_due:
        return 0
    # Parent-down suppression is named in the group of the parent's own alert.
    suppressed = {}
    for m in members:
        if m.service in children:
            services_ = children[m.service]
            suppressed = {
                "parent": m.service,
                "alerts": len(services_),
                "services": len(set(services_)),
            }
    event = "group" if (len(members) > 1 or suppressed or group.last_flushed_at) else "trigger"
    NotificationGroup.objects.filter(pk=group.pk).update(
        last_flushed_at=now,
        next_flush_at=now + policy.group_interval,
        notified_ids=ids,
        suppressed=suppressed,
    )
    group.last_flushed_at, group.notified_ids, group.suppressed = now, ids, suppressed
    Alert.objects.filter(pk__in=ids).update(notified=True, last_notified_at=now)
    names = ", ".join(c.name for c in channels) or "no enabled channel"
    text = (
        f"{'repeat' if not new else 'trigger'} → {names} in group {group.key} "
        f"({len(members)} alert{'s' if len(members) != 1 else ''})"
    )
    AlertEvent.objects.bulk_create(
        [AlertEvent(alert_id=m.id, at=now, kind=AlertEvent.Kind.NOTIFY, message=text) for m in new]
    )
    if not channels:
        return 0
    from alerts.notify import queue_deliveries

    if event == "trigger":
        queue_deliveries([c.pk for c in channels], "trigger", alert_id=ids[0])
    else:
        queue_deliveries([c.pk for c in channels], "group", alert_ids=ids, group_id=group.pk)
    return len(channels)
