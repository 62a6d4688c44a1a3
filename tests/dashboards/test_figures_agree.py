"""One truth per figure: every page, report and API that shows a figure shows the same one.

The same data (status history, incidents, deployments) is rendered by every page that shows
uptime, MTTR, the DORA figures or a service's status, and the figures are read back from the
HTML (and JSON) as a user would read them; each figure shown in two places must agree at the
precision both show.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import Service, Status, StatusChange
from collectors.store import write_samples
from collectors.store.query import latest_values
from collectors.store.rollups import run_rollups
from incidents.models import Deployment, Incident
from reputation.models import BlocklistZone, ReputationSnapshot, SendingIP
from reputation.services import run_reputation_check
from tests.support.dns_server import DNSTestServer

pytestmark = pytest.mark.django_db


def _agree(*shown: tuple[str, float | None]) -> None:
    """Each (text as shown, value) pair: equal at the coarsest precision among them."""
    decimals = min(len(t.split(".")[1]) if "." in t else 0 for t, _ in shown)
    values = {round(v, decimals) if v is not None else None for _, v in shown}
    assert len(values) == 1, shown


def _num(text: str) -> tuple[str, float]:
    text = text.replace(",", "").strip()
    return text, float(text)


def _one(pattern: str, body: str) -> str:
    found = re.search(pattern, body, re.S)
    assert found, pattern
    return html.unescape(found.group(1))


@pytest.fixture
def staff_reads(make_user, login_client, make_token, client):
    """Makes a staff user and returns ``page(path)`` (its HTML, logged in) and
    ``api(path, **params)`` (the JSON, with its read token); both assert a 200."""

    def make():
        staff = make_user(staff=True)
        token = make_token("read", user=staff)
        web = login_client(staff)

        def page(path: str) -> str:
            resp = web.get(path)
            assert resp.status_code == 200, path
            return resp.content.decode()

        def api(path: str, **params):
            resp = client.get(path, params, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200, path
            return resp.json()

        return page, api

    return make


@pytest.fixture
def world():
    now = timezone.now()
    api = Service.objects.get(name="api")
    redis = Service.objects.get(name="redis")

    def flip(service, ago, old, new):
        StatusChange.objects.create(service=service, at=now - ago, old_status=old, new_status=new)

    flip(api, timedelta(days=20), Status.UNKNOWN, Status.HEALTHY)
    flip(api, timedelta(days=6), Status.HEALTHY, Status.DOWN)
    flip(api, timedelta(days=6) - timedelta(minutes=45), Status.DOWN, Status.HEALTHY)
    flip(api, timedelta(days=1), Status.HEALTHY, Status.DOWN)
    flip(api, timedelta(days=1) - timedelta(minutes=30), Status.DOWN, Status.HEALTHY)
    flip(redis, timedelta(days=10), Status.UNKNOWN, Status.HEALTHY)
    Service.objects.filter(name__in=["api", "redis"]).update(status=Status.HEALTHY)
    Service.objects.filter(name="smtp").update(
        status=Status.NOT_MONITORED, status_reason="not monitored: no enabled probe"
    )
    for ago, hours, severity, service in [
        (timedelta(days=6), 1.5, "critical", "api"),
        (timedelta(days=1), 1.1, "critical", "api"),
        (timedelta(days=3), 2.25, "warning", "smtp"),
    ]:
        Incident.objects.create(
            title=f"{service} is down",
            severity=severity,
            service=service,
            status=Incident.Status.RESOLVED,
            started_at=now - ago,
            resolved_at=now - ago + timedelta(hours=hours),
        )
    for i in range(10):
        started = now - timedelta(days=2 + 2.5 * i)
        Deployment.objects.create(
            service="api",
            version=f"v1.{i}",
            commit_sha=f"{i:040x}",
            commit_at=started - timedelta(hours=3 + i),
            started_at=started,
            finished_at=started + timedelta(minutes=6),
            status=Deployment.Status.FAILED if i == 4 else Deployment.Status.SUCCEEDED,
        )
    return now


def test_every_figure_shown_twice_is_the_same(world, staff_reads):
    page, api = staff_reads()

    operations = page("/dashboard/operations/?range=30d")
    infrastructure = page("/dashboard/system/infrastructure/?range=30d")
    executive = page("/dashboard/executive/?range=30d")
    development = page("/dashboard/development/?range=30d")
    reports = page("/dashboard/reports/?range=30d")
    services_page = page("/services/")
    incidents_page = page("/incidents/")
    deployments_page = page("/incidents/deployments/")
    services_api = {s["name"]: s for s in api("/api/v1/services")}
    dora_api = api("/api/v1/deployments/dora", since=(world - timedelta(days=30)).isoformat())

    def card(body: str, name: str) -> str:
        return _one(
            rf'<article class="health-card[^"]*" data-service="{name}">(.*?)</article>', body
        )

    def sla_row(name: str) -> list[str]:
        display = str(Service.objects.get(name=name))
        row = _one(rf"<tr>\s*<td>{re.escape(display)}</td>(.*?)</tr>", reports)
        return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]

    # Uptime of a service: cards (operations, infrastructure), the SLA table, the services
    # page's 30-day column and the API.
    api_uptime = services_api["api"]["uptime_pct"]["30d"]
    assert api_uptime is not None and api_uptime < 100
    shown = [
        _num(_one(r"<dt>Uptime</dt><dd>([\d.,]+)%</dd>", card(operations, "api"))),
        _num(_one(r"<dt>Uptime</dt><dd>([\d.,]+)%</dd>", card(infrastructure, "api"))),
        _num(sla_row("api")[0].rstrip("%")),
        (repr(api_uptime), api_uptime),
    ]
    services_card = _one(r'data-service="api">(.*?)</article>', services_page)
    shown.append(_num(re.findall(r"<td>([\d.]+) %</td>", services_card)[2]))  # 24h, 7d, 30d
    _agree(*shown)
    # Down minutes in the SLA table are the 75 minutes the api was down.
    assert float(sla_row("api")[2]) == 75.0

    # Platform uptime: the executive tile is the services' status history, not probe_up.
    tile = _one(r'data-kpi="uptime">.*?<div class="kpi">([^<]+)</div>', executive)
    assert tile.strip() != "—"
    # api (20 days known, 75 min down) and redis (10 days known, never down).
    expected = 100 * (1 - 75 / ((20 + 10) * 1440))
    _agree(_num(tile.strip().rstrip("%")), (f"{expected:.3f}", expected))

    # MTTR over 30 days: executive tile, incidents page, development DORA tile, the API.
    mttr_tile = _one(r'data-kpi="mttr">.*?<div class="kpi">([^<]+)</div>', executive)
    mttr_page = _one(r'<div class="kpi">([\d.]+) h</div><div class="muted">MTTR', incidents_page)
    mttr_dev = _one(r"all severities ([\d.]+) h", development)
    _agree(
        _num(mttr_tile.strip().removesuffix("h").strip()),
        _num(mttr_page),
        _num(mttr_dev),
        (repr(dora_api["mttr_hours"]), dora_api["mttr_hours"]),
    )
    # The api's MTTR in the SLA table is its own incidents' (1.5 h and 1.1 h).
    _agree(_num(sla_row("api")[4].removesuffix("h").strip()), ("1.30", 1.3))

    # DORA over 30 days: development tiles, deployments page, API.
    def dev_tile(key: str) -> str:
        return _one(rf'data-kpi="{key}">.*?<div class="kpi">([^<]+)</div>', development).strip()

    freq_page = _one(r'<div class="kpi">([\d.]+)/week', deployments_page)
    _agree(
        _num(dev_tile("deploy_frequency").removesuffix("/week")),
        _num(freq_page),
        (repr(dora_api["deploy_frequency_per_week"]), dora_api["deploy_frequency_per_week"]),
    )
    cfr_page = _one(r'<div class="kpi">([\d.]+)%', deployments_page)
    _agree(
        _num(dev_tile("change_failure_rate").removesuffix("%")),
        _num(cfr_page),
        (repr(dora_api["change_failure_rate_pct"]), dora_api["change_failure_rate_pct"]),
    )
    # 1 failure of 10 is 10%: both pages say it misses "< 5%", in the same words.
    assert not dora_api["meets"]["change_failure_rate_pct"]
    assert "misses target" in _one(
        r'data-kpi="change_failure_rate">(.*?)</div>\s*</div>', development + "</div>"
    )
    assert "misses target" in deployments_page

    # A service's status: the same label on the services page, the cards and the API.
    for name, label in [("smtp", "Not monitored"), ("api", "Healthy")]:
        assert f">{label}</span>" in card(operations, name)
        assert f">{label}</span>" in _one(rf'data-service="{name}">(.*?)</article>', services_page)
    assert services_api["smtp"]["status"] == "unmonitored"


def test_an_ip_score_is_the_same_everywhere_it_is_shown(settings, staff_reads):
    """One check scores the IP (listed on SpamCop, 4% bounces, 0.2% complaints: 100 - 20 -
    10 - 10 = 60); then the zone's weight and the IP's rates change. Every place showing the
    score shows that check's 60, and the breakdown beside it adds up to it."""
    address = "192.0.2.77"
    ip = SendingIP.objects.create(address=address, provider="AWS", daily_volume=10_000)
    now = timezone.now()

    def traffic(sent: float, bounced: float, complained: float) -> None:
        write_samples(
            [
                {"metric": m, "labels": {"ip": address}, "value": v, "ts": now}
                for m, v in [
                    ("emails_sent", sent),
                    ("emails_bounced", bounced),
                    ("emails_complained", complained),
                ]
            ]
        )
        run_rollups()

    traffic(1000, 40, 2)
    listed = ".".join(reversed(address.split("."))) + ".bl.spamcop.net"
    with DNSTestServer({listed: {"A": ["127.0.0.2"]}}) as dns:
        settings.REPUTATION_RESOLVER = f"127.0.0.1:{dns.port}"
        run_reputation_check(ip_ids=[ip.pk])
    # After the check: SpamCop made heavier and a burst of bounces. A page that scored the IP
    # again from today's inputs would now say 30, not the checked 60.
    BlocklistZone.objects.filter(zone="bl.spamcop.net").update(weight=40)
    traffic(1000, 200, 2)

    page, api = staff_reads()

    ip.refresh_from_db()
    detail = page(f"/reputation/ips/{ip.pk}/")
    kpi = int(_one(r'<div class="kpi" data-score>(\d+)</div>', detail))
    penalties = [
        float(p)
        for p in re.findall(
            r"−([\d.]+)",
            _one(r"at the last check: (.*?) · <a", detail),
        )
    ]
    listing_row = _one(rf">{re.escape(address)}</a>(.*?)</tr>", page("/reputation/"))
    infra = page("/dashboard/system/infrastructure/")
    panel_row = _one(rf"<td[^>]*>{re.escape(address)}</td>(.*?)</tr>", infra)
    [api_row] = [r for r in api("/api/v1/reputation/ips") if r["ip"] == address]
    history = api(f"/api/v1/reputation/ips/{address}/history", days=1)
    csv_rows = list(csv.reader(io.StringIO(page(f"/reputation/ips/{ip.pk}/history.csv"))))
    [stored] = latest_values(metric="ip_reputation_score", labels={"ip": address})
    snapshot = ReputationSnapshot.objects.get(ip=ip)

    shown = {
        "detail page": kpi,
        "detail breakdown": round(100 - sum(penalties)),
        "reputation table": int(_one(r'<td class="rep-score">(\d+)</td>', listing_row)),
        "infrastructure panel": int(re.findall(r"<td[^>]*>(.*?)</td>", panel_row)[2]),
        "API list": api_row["score"],
        "API history": history["score"],
        "API history snapshot": history["snapshots"][-1]["score"],
        "CSV export": int(csv_rows[1][2]),
        "metric store": int(stored.value),
        "stored": ip.last_score,
        "recomputed from the stored inputs": snapshot.breakdown().score,
    }
    assert set(shown.values()) == {60}, shown
    assert penalties == [20.0, 10.0, 10.0]  # listings, bounces, complaints as checked
