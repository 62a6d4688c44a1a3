"""Alert pages: the feed (with a partial the page polls), one alert, silences, calibration."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import selectors, services
from alerts.forms import FeedFilterForm, NoteForm, SilenceForm
from alerts.models import Alert, AlertRule, Silence
from alerts.now import on_call_now
from collectors.monitoring.selectors import service_names
from penguinmon.roles import capability_required, user_can

FEED_HOURS = 24
REFRESH_SECONDS = 15


def _back(request, default: str):
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
    return redirect(target)


def _feed_context(request) -> dict:
    form = FeedFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    since = timezone.now() - timedelta(hours=FEED_HOURS)
    severity, service = filters.get("severity") or None, filters.get("service") or None
    alerts = selectors.alerts_feed(
        since=since,
        severity=severity,
        service=service,
        state=filters.get("state") or None,
        order="severity",
    )
    counts = selectors.feed_state_counts(since=since, severity=severity, service=service)
    base_query = {k: v for k, v in (("severity", severity), ("service", service)) if v}
    return {
        "form": form,
        "alerts": alerts,
        "rows": selectors.feed_rows(
            alerts,
            known_services=set(service_names()),
            suppressing=selectors.suppressing_parents(),
        ),
        "state_counts": [
            (state, counts[state], urlencode({**base_query, "state": state}))
            for state in ("firing", "acknowledged", "pending", "resolved")
        ],
        "all_query": urlencode(base_query),
        "current_state": filters.get("state") or "",
        "services": selectors.feed_services(),
        "can_ack": user_can(request.user, "ack_alerts"),
        "can_incident": user_can(request.user, "manage_incidents"),
        "refreshed_at": timezone.now(),
        "query": request.GET.urlencode(),
        "refresh_seconds": REFRESH_SECONDS,
    }


@require_GET
@capability_required("view_alerts")
def feed(request):
    return render(request, "alerts/feed.html", _feed_context(request))


@require_GET
@capability_required("view_alerts")
def feed_rows(request):
    """The feed's table body alone; the page fetches it every few seconds and swaps it in."""
    return render(request, "alerts/_feed_rows.html", _feed_context(request))


@require_GET
@capability_required("view_alerts")
def now_partial(request):
    """The "now" strip's body; pages that show the strip fetch it every few seconds."""
    response = render(request, "alerts/_now_strip.html", {"now": on_call_now()})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@capability_required("view_alerts")
def detail(request, alert_id: int):
    alert = get_object_or_404(Alert.objects.select_related("rule", "acknowledged_by"), pk=alert_id)
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "events": alert.events.select_related("actor"),
            "deliveries": selectors.alert_deliveries(alert),
            "incidents": alert.incidents.all(),
            "note_form": NoteForm(),
            "can_ack": user_can(request.user, "ack_alerts"),
            "can_incident": user_can(request.user, "manage_incidents"),
        },
    )


@require_POST
@capability_required("ack_alerts")
def acknowledge(request, alert_id: int):
    alert = get_object_or_404(Alert.objects.select_related("rule", "acknowledged_by"), pk=alert_id)
    try:
        services.alert_acknowledge(
            alert=alert, user=request.user, comment=request.POST.get("comment", "")[:500]
        )
        messages.success(request, f"Alert #{alert.pk} acknowledged.")
    except services.AlertActionError as exc:
        messages.error(request, f"Alert #{alert.pk}: {exc}")
    return _back(request, f"/alerts/{alert.pk}/")


@require_POST
@capability_required("ack_alerts")
def add_note(request, alert_id: int):
    alert = get_object_or_404(Alert.objects.select_related("rule"), pk=alert_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.alert_add_note(alert=alert, user=request.user, text=form.cleaned_data["text"])
        messages.success(request, "Note added.")
        return _back(request, f"/alerts/{alert.pk}/")
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "events": alert.events.all(),
            "deliveries": selectors.alert_deliveries(alert),
            "incidents": alert.incidents.all(),
            "note_form": form,
            "can_ack": True,
            "can_incident": user_can(request.user, "manage_incidents"),
        },
        status=400,
    )


@require_POST
@capability_required("ack_alerts")
def false_positive(request, alert_id: int):
    alert = get_object_or_404(Alert.objects.select_related("rule"), pk=alert_id)
    mark = request.POST.get("false_positive", "1") == "1"
    try:
        services.alert_mark_false_positive(alert=alert, user=request.user, false_positive=mark)
        messages.success(
            request, "Marked a false positive." if mark else "False-positive mark removed."
        )
    except services.AlertActionError as exc:
        messages.error(request, str(exc))
    return _back(request, f"/alerts/{alert.pk}/")


def _silence_prefill(request) -> tuple[SilenceForm, dict | None, Alert | None]:
    """The new-silence form for a GET: matchers from ``?alert=<id>`` (Silence on an alert) or
    from ``?matchers=`` (a link), and the matchers to preview, if valid."""
    from_alert = None
    initial: dict = {}
    raw = request.GET.get("matchers", "").strip()
    if not raw and request.GET.get("alert", "").isdigit():
        from_alert = Alert.objects.select_related("rule").filter(pk=request.GET["alert"]).first()
        if from_alert is not None:
            raw = ", ".join(
                f"{k}={v}" for k, v in selectors.silence_matchers_for(from_alert).items()
            )
            initial["comment"] = f"Silenced from alert #{from_alert.pk}: {from_alert.message}"[:500]
    if not raw:
        return SilenceForm(), None, None
    data = {
        "matchers": raw,
        "duration_minutes": request.GET.get("duration_minutes") or 60,
        "comment": request.GET.get("comment") or initial.get("comment") or "",
        "repeat": "once",
    }
    probe = SilenceForm(data)
    probe.is_valid()
    matchers = probe.cleaned_data.get("matchers") if "matchers" not in probe.errors else None
    form = SilenceForm(initial=data)
    if matchers is None:
        form = probe  # show the matcher error beside the field
    return form, matchers, from_alert


@require_GET
@capability_required("view_alerts")
def silence_preview(request):
    """The alerts a silence with ``?matchers=`` would match; the form fetches it as you type."""
    _, matchers, _ = _silence_prefill(request)
    return render(request, "alerts/_silence_preview.html", _preview_context(matchers))


def _preview_context(matchers: dict | None) -> dict:
    if matchers is None:
        return {"preview": None}
    found, total = selectors.alerts_matching(
        matchers, since=timezone.now() - timedelta(hours=FEED_HOURS)
    )
    return {"preview": found, "preview_total": total, "preview_hours": FEED_HOURS}


@require_http_methods(["GET", "POST"])
@capability_required("view_alerts")
def silences(request):
    form, preview_matchers, from_alert = _silence_prefill(request)
    status = 200
    if request.method == "POST":
        if not user_can(request.user, "ack_alerts"):
            messages.error(request, "Your role does not allow creating silences.")
            return redirect("/alerts/silences/")
        form = SilenceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            now = timezone.now()
            if data.get("repeat") == "weekly":
                when = {
                    "starts_at": now,
                    "repeat": "weekly",
                    "weekdays": data["weekdays"],
                    "local_start": data["local_start"],
                    "duration_minutes": data["duration_minutes"],
                    "timezone": data.get("timezone") or "UTC",
                }
            else:
                when = {
                    "starts_at": now,
                    "ends_at": now + timedelta(minutes=data["duration_minutes"]),
                }
            try:
                services.silence_create(
                    matchers=data["matchers"], comment=data["comment"], user=request.user, **when
                )
                messages.success(request, "Silence created.")
                return redirect("/alerts/silences/")
            except ValidationError as exc:
                for field, errs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
        status = 400
    now = timezone.now()
    upcoming_days = 7
    windows = selectors.silences_between(start=now, end=now + timedelta(days=upcoming_days))
    return render(
        request,
        "alerts/silences.html",
        {
            "form": form,
            "active": [w for w in windows if w.starts_at <= now],
            "upcoming": [w for w in windows if w.starts_at > now],
            "upcoming_days": upcoming_days,
            "recurring": Silence.objects.filter(repeat=Silence.Repeat.WEEKLY)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .select_related("created_by"),
            "recent": Silence.objects.filter(
                repeat=Silence.Repeat.ONCE, ends_at__lte=now, ends_at__gte=now - timedelta(days=7)
            ).select_related("created_by"),
            "can_ack": user_can(request.user, "ack_alerts"),
            "from_alert": from_alert,
            **_preview_context(preview_matchers),
        },
        status=status,
    )


@require_POST
@capability_required("ack_alerts")
def expire_silence(request, silence_id: int):
    silence = get_object_or_404(Silence, pk=silence_id)
    try:
        services.silence_expire(silence=silence, user=request.user)
        messages.success(request, "Silence ended.")
    except services.AlertActionError as exc:
        messages.error(request, str(exc))
    return redirect("/alerts/silences/")


@require_GET
@capability_required("view_alerts")
def rules(request):
    return render(
        request, "alerts/rules.html", {"calibrations": selectors.rule_calibrations(days=14)}
    )


@require_GET
@capability_required("view_alerts")
def rule_detail(request, rule_id: int):
    rule = get_object_or_404(AlertRule, pk=rule_id)
    return render(
        request,
        "alerts/rule_detail.html",
        {
            "cal": selectors.rule_calibration(rule, days=14),
            "rule": rule,
            "recent": rule.alerts.exclude(state=Alert.State.PENDING).order_by("-started_at")[:50],
        },
    )
