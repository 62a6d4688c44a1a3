"""The public status page: HTML, Statuspage-shaped JSON and an Atom feed, no login.

Each representation is rendered once per cache period and served from Redis as bytes, so a
traffic spike during an outage costs one cache read per view, not Postgres queries."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.views.decorators.http import require_GET

from alerts.notify import base_url
from incidents.status_page import cache_seconds, cached_bodies, public_status

PAGE_ID = "penguinmon"


def _cached(
    request: HttpRequest, fmt: str, content_type: str, render: Callable[[dict], bytes]
) -> HttpResponse:
    plain, packed = cached_bodies(fmt, lambda: render(public_status()))
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(packed if zipped else plain, content_type=content_type)
    if zipped:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    # Shared caches (a CDN, a proxy) may keep it as long as we do.
    response["Cache-Control"] = f"public, max-age={cache_seconds()}"
    response["X-Robots-Tag"] = "noindex"
    return response


def _html(data: dict) -> bytes:
    return render_to_string("status/page.html", {"status": data}).encode()


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def summary_data(data: dict) -> dict:
    """Atlassian Statuspage's ``/api/v2/summary.json`` shape."""
    root = base_url()
    page = {
        "id": PAGE_ID,
        "name": data["name"],
        "url": f"{root}/status/",
        "time_zone": "Etc/UTC",
        "updated_at": _iso(data["updated_at"]),
    }
    components = [
        {
            "id": str(c["id"]),
            "name": c["name"],
            "status": c["status"],
            "created_at": None,
            "updated_at": _iso(data["updated_at"]),
            "position": c["position"],
            "description": c["description"] or None,
            "showcase": True,
            "start_date": None,
            "group_id": None,
            "page_id": PAGE_ID,
            "group": False,
            "only_show_if_degraded": False,
        }
        for c in data["components"]
    ]
    by_name = {c["name"]: c for c in components}

    def incident(i: dict) -> dict:
        return {
            "id": str(i["id"]),
            "name": i["name"],
            "status": i["status"],
            "created_at": _iso(i["created_at"]),
            "updated_at": _iso(i["updated_at"]),
            "monitoring_at": _iso(i["monitoring_at"]),
            "resolved_at": _iso(i["resolved_at"]),
            "impact": i["impact"],
            "shortlink": f"{root}/status/#incident-{i['id']}",
            "started_at": _iso(i["started_at"]),
            "page_id": PAGE_ID,
            "incident_updates": [
                {
                    "id": str(u["id"]),
                    "status": u["status"],
                    "body": u["body"],
                    "incident_id": str(i["id"]),
                    "created_at": _iso(u["created_at"]),
                    "updated_at": _iso(u["created_at"]),
                    "display_at": _iso(u["created_at"]),
                    "affected_components": None,
                }
                for u in i["updates"]
            ],
            "components": [by_name[n] for n in i["components"] if n in by_name],
        }

    def maintenance(m: dict) -> dict:
        return {
            "id": m["id"],
            "name": m["name"],
            "status": m["status"],
            "created_at": None,
            "updated_at": _iso(data["updated_at"]),
            "monitoring_at": None,
            "resolved_at": None,
            "impact": "maintenance",
            "shortlink": f"{root}/status/#maintenance",
            "started_at": _iso(m["scheduled_for"]),
            "page_id": PAGE_ID,
            "incident_updates": [],
            "components": [by_name[n] for n in m["components"] if n in by_name],
            "scheduled_for": _iso(m["scheduled_for"]),
            "scheduled_until": _iso(m["scheduled_until"]),
        }

    return {
        "page": page,
        "components": components,
        "incidents": [incident(i) for i in data["incidents"]],
        "scheduled_maintenances": [maintenance(m) for m in data["maintenance"]],
        "status": {"indicator": data["indicator"], "description": data["description"]},
    }


def _json(data: dict) -> bytes:
    return json.dumps(summary_data(data), separators=(",", ":")).encode()


STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}


def _atom(data: dict) -> bytes:
    """One entry per public update of the incidents on the page (open and history)."""
    root = base_url()
    feed = Atom1Feed(
        title=f"{data['name']} status",
        link=f"{root}/status/",
        description=data["description"],
        feed_url=f"{root}/status/feed.atom",
        language="en",
        feed_guid=f"{root}/status/feed.atom",
    )
    for i in [*data["incidents"], *data["history"]]:
        for u in i["updates"]:
            feed.add_item(
                title=f"{i['name']}: {STATUS_WORDS.get(u['status'], u['status'])}",
                link=f"{root}/status/#incident-{i['id']}",
                # Atom's summary is type="html": escape the text so readers show tags, not run them.
                description=linebreaksbr(escape(u["body"])),
                unique_id=f"{root}/status/#incident-{i['id']}-update-{u['id']}",
                pubdate=u["created_at"],
                updateddate=u["created_at"],
            )
    return feed.writeString("utf-8").encode()


@login_not_required
@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    return _cached(request, "html", "text/html; charset=utf-8", _html)


@login_not_required
@require_GET
def status_summary(request: HttpRequest) -> HttpResponse:
    response = _cached(request, "json", "application/json", _json)
    response["Access-Control-Allow-Origin"] = "*"  # widgets on other sites read it
    return response


@login_not_required
@require_GET
def status_feed(request: HttpRequest) -> HttpResponse:
    return _cached(request, "atom", "application/atom+xml; charset=utf-8", _atom)
