"""Pages: the IP reputation table, one IP's detail (chart, listings, delisting, rotation),
the CSV history export, and the POST actions "check now" and "rotate to backup pool"."""

from __future__ import annotations

from urllib.parse import urlencode

import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from penguinmon.api_auth import actor_label
from penguinmon.roles import capability_required, user_can
from reputation import scoring, selectors, services
from reputation.dnsbl import LISTED
from reputation.models import SendingIP

COLUMNS = [
    ("ip", "IP address"),
    ("provider", "Provider"),
    ("pool", "Pool"),
    ("score", "Score"),
    ("blocklists", "Blocklists"),
    ("daily_volume", "Daily volume"),
    ("status", "Status"),
    ("last_checked", "Last checked"),
]


class RotateForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "e.g. listed on Spamhaus SBL, open rates down 20%"}
        ),
        help_text="Recorded with your name and sent to the sending infrastructure.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason for the rotation.")
        return reason


@require_GET
@capability_required("view_reputation")
def index(request):
    return _index(request)


def _index(request, *, status: int = 200):
    sort = request.GET.get("sort", "score")
    if sort not in selectors.SORT_KEYS:
        sort = "score"
    descending = request.GET.get("dir") == "desc"
    filters = {
        "provider": request.GET.get("provider", "").strip(),
        "pool": request.GET.get("pool", "")
        if request.GET.get("pool") in SendingIP.Pool.values
        else "",
        "status": request.GET.get("status", "")
        if request.GET.get("status") in SendingIP.Status.values
        else "",
        "q": request.GET.get("q", "").strip(),
    }
    rows = selectors.ip_reputation_table(
        sort=sort, descending=descending, **{k: v or None for k, v in filters.items()}
    )
    base_query = urlencode({k: v for k, v in filters.items() if v})
    columns = [
        {
            "key": key,
            "label": label,
            "sorted": key == sort,
            "dir": "desc" if key == sort and not descending else "asc",
            "arrow": ("▼" if descending else "▲") if key == sort else "",
        }
        for key, label in COLUMNS
    ]
    return render(
        request,
        "reputation/index.html",
        {
            "rows": rows,
            "columns": columns,
            "filters": filters,
            "base_query": base_query,
            "providers": selectors.providers(),
            "pools": SendingIP.Pool.choices,
            "statuses": SendingIP.Status.choices,
            "domains": selectors.sending_domains(),
            "check_runs": selectors.recent_check_runs(),
            "formula": scoring.FORMULA,
            "can_manage": user_can(request.user, "manage_reputation"),
        },
        status=status,
    )


def _score_figure(snapshots) -> str:
    fig = go.Figure(
        go.Scatter(
            x=[s.taken_at for s in snapshots],
            y=[s.score for s in snapshots],
            mode="lines+markers",
            marker={"size": 4},
            line={"shape": "hv", "color": "#2f6fd6"},
            name="score",
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>score %{y}<extra></extra>",
        )
    )
    fig.add_hline(
        y=scoring.WARNING_BELOW,
        line={"dash": "dot", "color": "#d9a400"},
        annotation_text="warning < 70",
    )
    fig.add_hline(
        y=scoring.MAJOR_CAP,
        line={"dash": "dot", "color": "#d33a2c"},
        annotation_text="major listing cap 40",
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        height=300,
        yaxis={"range": [0, 102], "title": "score"},
        showlegend=False,
        template="plotly_white",
    )
    return fig.to_json()


def _detail_context(request, ip: SendingIP, form: RotateForm | None = None) -> dict:
    snapshots = selectors.score_history(ip, days=30)
    return {
        "ip": ip,
        "figure": _score_figure(snapshots),
        "has_history": bool(snapshots),
        "listings": selectors.listings_for(ip),
        "checks": selectors.latest_checks(ip),
        "rotations": selectors.rotations_for(ip),
        "breakdown": ip.score(),
        "form": form or RotateForm(),
        "backup_available": services.backup_candidates(ip).exists(),
        "can_manage": user_can(request.user, "manage_reputation"),
        "LISTED": LISTED,
    }


@require_GET
@capability_required("view_reputation")
def ip_detail(request, pk: int):
    ip = get_object_or_404(SendingIP, pk=pk)
    return render(request, "reputation/ip_detail.html", _detail_context(request, ip))


@require_GET
@capability_required("view_reputation")
def ip_by_address(request, address: str):
    """An IP's page by its address: what alert labels (``ip=203.0.113.31``) link to."""
    ip = SendingIP.objects.filter(address=address.strip()).first()
    if ip is None:
        raise Http404(f"{address} is not one of our sending IPs")
    return redirect(f"/reputation/ips/{ip.pk}/")


@require_GET
@capability_required("view_reputation")
def ip_history_csv(request, pk: int):
    ip = get_object_or_404(SendingIP, pk=pk)
    response = HttpResponse(selectors.history_csv(ip), content_type="text/csv; charset=utf-8")
    filename = ip.address.replace(":", "-")
    response["Content-Disposition"] = f'attachment; filename="reputation-{filename}.csv"'
    return response


@require_POST
@capability_required("manage_reputation")
def ip_check(request, pk: int):
    ip = get_object_or_404(SendingIP, pk=pk)
    summary = services.run_reputation_check(ip_ids=[ip.pk])
    ip.refresh_from_db()
    text = f"Checked {ip.address} on {summary.lookups} lists: score {ip.last_score}"
    if summary.listed:
        text += f", listed on {summary.listed}"
    if summary.unknown:
        text += f", {summary.unknown} unknown (refused or timed out)"
    messages.success(request, text + ".")
    return redirect("reputation:ip", pk=ip.pk)


@require_POST
@capability_required("manage_reputation")
def check_all(request):
    # Thousands of look-ups outlast a web request: a worker runs them.
    try:
        run = services.queue_check(requested_by=actor_label(request))
    except services.QueueUnavailable as exc:
        messages.error(request, f"Check not started: {exc}. Try again when Redis is back.")
        return _index(request, status=503)
    messages.success(
        request, f"Check #{run.pk} queued; results appear on this page when it finishes."
    )
    return redirect("reputation:index")


@require_POST
@capability_required("manage_reputation")
def ip_rotate(request, pk: int):
    ip = get_object_or_404(SendingIP, pk=pk)
    form = RotateForm(request.POST)
    if form.is_valid():
        try:
            event = services.rotate_to_backup(
                ip=ip,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                actor_label=actor_label(request),
            )
        except services.RotationRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Rotated traffic from {event.from_address} to {event.to_address}."
            )
            if event.webhook_ok:
                messages.success(request, f"Rotation webhook answered HTTP {event.webhook_status}.")
            else:
                messages.error(
                    request,
                    f"Rotation webhook did not confirm ({event.webhook_error}); the sending "
                    "infrastructure may still use the old IP.",
                )
            return redirect("reputation:ip", pk=event.to_ip_id)
    ip.refresh_from_db()
    return render(
        request, "reputation/ip_detail.html", _detail_context(request, ip, form), status=400
    )


@require_POST
@capability_required("manage_reputation")
def domains_check(request):
    count = services.check_sender_dns()
    messages.success(request, f"Checked SPF, DKIM and DMARC of {count} sending domains.")
    return redirect("/reputation/#sender-dns")
