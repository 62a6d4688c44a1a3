"""The /reputation/ pages: who may see and do what, and what they show."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from reputation.models import BlocklistZone, Listing, ReputationSnapshot, RotationEvent
from tests.reputation.conftest import reversed_name


@pytest.fixture
def fleet(make_ip):
    now = timezone.now()
    zen = BlocklistZone.objects.get(zone="zen.spamhaus.org")
    spamcop = BlocklistZone.objects.get(zone="bl.spamcop.net")
    bad = make_ip("192.0.2.1", provider="AWS", daily_volume=62_000)
    Listing.objects.create(
        ip=bad,
        zone=zen,
        listed_at=now - timedelta(hours=2),
        last_seen_at=now,
        codes=["127.0.0.2"],
        meanings=["SBL — Spamhaus Block List (spam source)"],
        reason="https://check.spamhaus.org/sbl/query/SBL612345",
    )
    Listing.objects.create(
        ip=bad,
        zone=spamcop,
        listed_at=now - timedelta(hours=5),
        last_seen_at=now,
        codes=["127.0.0.2"],
    )
    # Scores 80, 60, then 40 (on Spamhaus ZEN, a major list) at the last check.
    for hours, listings, bounce_pct in [
        (6, [("bl.spamcop.net", 20, False)], 1.0),
        (4, [("bl.spamcop.net", 20, False)], 6.0),
        (2, [("bl.spamcop.net", 20, False), ("zen.spamhaus.org", 30, True)], 1.0),
    ]:
        ReputationSnapshot.scored(
            ip=bad,
            taken_at=now - timedelta(hours=hours),
            listings=listings,
            bounce_rate_pct=bounce_pct,
            complaint_rate_pct=0.05,
        ).save()
    bad.save()
    make_ip("192.0.2.2", provider="SendGrid", daily_volume=1_500, last_score=97, status="good")
    make_ip("192.0.2.3", provider="AWS", pool="backup", active=False, last_score=100)
    return bad


def test_pages_need_login(client, fleet):
    for path in [
        "/reputation/",
        f"/reputation/ips/{fleet.pk}/",
        f"/reputation/ips/{fleet.pk}/history.csv",
    ]:
        resp = client.get(path)
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


def test_roles_without_reputation_access_get_403(login_client, make_user, fleet):
    client = login_client(make_user("development"))
    assert client.get("/reputation/").status_code == 403
    assert client.get(f"/reputation/ips/{fleet.pk}/").status_code == 403


def test_the_table_shows_each_ip_with_its_blocklists(login_client, make_user, fleet):
    html = login_client(make_user("operations")).get("/reputation/").content.decode()
    for header in ["IP address", "Provider", "Score", "Blocklists", "Daily volume", "Status"]:
        assert header in html
    assert "Spamhaus ZEN, SpamCop" in html
    assert "62,000" in html
    assert 'class="badge status-critical">Critical' in html
    assert "How the score is computed" in html and "capped at 40" in html


def test_the_table_sorts_and_filters(login_client, make_user, fleet):
    client = login_client(make_user("operations"))
    html = client.get("/reputation/", {"sort": "daily_volume", "dir": "desc"}).content.decode()
    assert html.index("192.0.2.1") < html.index("192.0.2.2") < html.index("192.0.2.3")
    html = client.get("/reputation/", {"sort": "score", "dir": "desc"}).content.decode()
    assert html.index("192.0.2.3") < html.index("192.0.2.2") < html.index("192.0.2.1")
    html = client.get("/reputation/", {"provider": "SendGrid"}).content.decode()
    assert "192.0.2.2" in html and "192.0.2.1<" not in html
    html = client.get("/reputation/", {"status": "critical"}).content.decode()
    assert "192.0.2.1" in html and "192.0.2.2" not in html


def test_detail_shows_reason_delisting_and_a_local_plotly_chart(login_client, make_user, fleet):
    html = (
        login_client(make_user("operations")).get(f"/reputation/ips/{fleet.pk}/").content.decode()
    )
    assert "SBL — Spamhaus Block List (spam source)" in html
    assert "https://check.spamhaus.org/sbl/query/SBL612345" in html
    assert "check.spamhaus.org" in html and "removal request" in html  # delisting instructions
    assert 'href="https://check.spamhaus.org/"' in html
    assert "/static/plotly/plotly.min.js" in html
    # Nothing loads from another host (searching for "cdn" would hit random CSRF tokens).
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html)
    assert 'id="score-figure"' in html
    assert "Check now" in html and "Rotate to backup pool" in html


def test_customer_success_sees_the_detail_but_cannot_act(login_client, make_user, fleet):
    client = login_client(make_user("customer-success"))
    html = client.get(f"/reputation/ips/{fleet.pk}/").content.decode()
    assert "Check now" not in html and "can view but not rotate" in html
    assert client.post(f"/reputation/ips/{fleet.pk}/rotate/", {"reason": "x"}).status_code == 403
    assert client.post(f"/reputation/ips/{fleet.pk}/check/").status_code == 403


def test_csv_export_holds_the_score_history_and_listings(login_client, make_user, fleet):
    resp = login_client(make_user("customer-success")).get(
        f"/reputation/ips/{fleet.pk}/history.csv"
    )
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert 'filename="reputation-192.0.2.1.csv"' in resp["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.content.decode())))
    assert rows[0][:4] == ["ip", "taken_at", "score", "status"]
    assert [r[2] for r in rows[1:4]] == ["80", "60", "40"]
    listing_header = rows.index(
        ["ip", "zone", "listed_at", "delisted_at", "codes", "meaning", "reason"]
    )
    zones = {r[1]: r for r in rows[listing_header + 1 :]}
    assert zones["zen.spamhaus.org"][6] == "https://check.spamhaus.org/sbl/query/SBL612345"
    assert zones["zen.spamhaus.org"][3] == ""  # still listed


def test_check_now_runs_the_lookups_and_reports(login_client, make_user, dns, fleet):
    dns(
        {
            reversed_name("192.0.2.1", "zen.spamhaus.org"): {
                "A": ["127.0.0.2"],
                "TXT": ["still listed"],
            }
        }
    )
    client = login_client(make_user("on-call"))
    resp = client.post(f"/reputation/ips/{fleet.pk}/check/", follow=True)
    html = resp.content.decode()
    assert "Checked 192.0.2.1 on" in html and "score 40" in html
    assert not Listing.objects.get(ip=fleet, zone__zone="bl.spamcop.net").is_open  # NXDOMAIN now


def test_rotate_form_needs_a_reason(login_client, make_user, fleet):
    resp = login_client(make_user("operations")).post(
        f"/reputation/ips/{fleet.pk}/rotate/", {"reason": " "}
    )
    assert resp.status_code == 400
    assert (
        "This field is required." in resp.content.decode()
        or "Give a reason" in resp.content.decode()
    )
    assert RotationEvent.objects.count() == 0


def test_rotate_form_refuses_when_no_backup(login_client, make_user, make_ip):
    ip = make_ip("192.0.2.9", provider="Hostwind")
    resp = login_client(make_user("operations")).post(
        f"/reputation/ips/{ip.pk}/rotate/", {"reason": "SBL"}
    )
    assert resp.status_code == 400
    assert "No backup IP available for Hostwind" in resp.content.decode()


def test_rotate_form_moves_traffic_and_logs_who_and_why(login_client, make_user, fleet):
    client = login_client(make_user("operations", username="olga"))
    resp = client.post(
        f"/reputation/ips/{fleet.pk}/rotate/",
        {"reason": "SBL listing, opens down 20%"},
        follow=True,
    )
    html = resp.content.decode()
    assert "Rotated traffic from 192.0.2.1 to 192.0.2.3" in html
    assert "no rotation webhook configured" in html
    event = RotationEvent.objects.get()
    assert (event.actor_label, event.reason) == ("olga", "SBL listing, opens down 20%")
    assert resp.request["PATH_INFO"] == f"/reputation/ips/{event.to_ip_id}/"
    assert "SBL listing, opens down 20%" in html  # the rotation log on the new IP's page


def test_the_page_costs_the_same_queries_for_one_domain_or_many(login_client, make_user, fleet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reputation.models import SendingDomain

    client = login_client(make_user("operations"))
    dbl = BlocklistZone.objects.get(zone="dbl.spamhaus.org")

    def add_listed_domain(name: str) -> None:
        domain = SendingDomain.objects.create(domain=name)
        Listing.objects.create(
            domain=domain, zone=dbl, listed_at=timezone.now(), last_seen_at=timezone.now()
        )

    add_listed_domain("mail0.example")
    with CaptureQueriesContext(connection) as one:
        client.get("/reputation/")
    for i in range(1, 6):
        add_listed_domain(f"mail{i}.example")
    with CaptureQueriesContext(connection) as six:
        html = client.get("/reputation/").content.decode()
    assert len(six.captured_queries) == len(one.captured_queries)
    assert html.count(">Listed</span>") == 6


def test_sort_links_keep_the_filters_url_encoded(login_client, make_user, make_ip):
    make_ip("192.0.2.9", provider="AT&T Mail")
    client = login_client(make_user("operations"))
    html = client.get("/reputation/", {"provider": "AT&T Mail"}).content.decode()
    assert "provider=AT%26T+Mail" in html
    assert "192.0.2.9" in html


def test_csv_export_quotes_a_reason_that_would_run_as_a_formula(login_client, make_user, make_ip):
    ip = make_ip("192.0.2.50")
    Listing.objects.create(
        ip=ip,
        zone=BlocklistZone.objects.get(zone="bl.spamcop.net"),
        listed_at=timezone.now(),
        last_seen_at=timezone.now(),
        reason='=HYPERLINK("http://evil.example","delist here")',
    )
    resp = login_client(make_user("operations")).get(f"/reputation/ips/{ip.pk}/history.csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode())))
    [listing] = [r for r in rows if len(r) > 1 and r[1] == "bl.spamcop.net"]
    assert listing[6] == '\'=HYPERLINK("http://evil.example","delist here")'


def test_recent_checks_show_queued_running_and_finished_runs(login_client, make_user):
    from reputation.models import CheckRun

    now = timezone.now()

    def run(minutes_ago: int, **fields) -> CheckRun:
        made = CheckRun.objects.create(**fields)
        # requested_at is set on insert; move it back to order the runs.
        CheckRun.objects.filter(pk=made.pk).update(
            requested_at=now - timedelta(minutes=minutes_ago)
        )
        return made

    oldest = run(60, requested_by="nobody-sees-me", status="done")
    done = run(
        40,
        requested_by="carol",
        status="done",
        started_at=now - timedelta(minutes=40),
        finished_at=now - timedelta(minutes=39),
        summary={
            "ips": 3,
            "domains": 1,
            "lookups": 24,
            "listed": 1,
            "unknown": 0,
            "newly_listed": ["192.0.2.1"],
            "delisted": [],
            "duration_s": 1.4,
        },
    )
    failed = run(30, requested_by="token ci", status="failed", error="OSError: no resolver")
    run(20, requested_by="dave", status="skipped", error="another full check was already running")
    running = run(10, requested_by="alice", status="running", ip_ids=[7], started_at=now)
    queued = run(1, requested_by="bob", status="queued")

    html = login_client(make_user("customer-success")).get("/reputation/").content.decode()
    section = html.split('id="recent-checks"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]  # after the header
    ids = [int(re.search(r"#(\d+)", r).group(1)) for r in rows]
    # The newest five, newest first: the oldest run drops off.
    assert ids[0] == queued.pk and ids[1] == running.pk and len(ids) == 5
    assert oldest.pk not in ids and "nobody-sees-me" not in section
    text = {
        i: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)) for i, r in zip(ids, rows, strict=True)
    }
    assert "bob" in text[queued.pk] and "Queued" in text[queued.pk]
    assert "waiting for a worker" in text[queued.pk] and "all IPs and domains" in text[queued.pk]
    assert "alice" in text[running.pk] and "Running" in text[running.pk]
    assert "1 IP " in text[running.pk] and "started" in text[running.pk]
    assert "Failed" in text[failed.pk] and "OSError: no resolver" in text[failed.pk]
    assert "carol" in text[done.pk] and "Done" in text[done.pk]
    assert "24 look-ups for 3 IPs and 1 domain in 1.4 s: 1 listed" in text[done.pk]
    assert "newly listed: 192.0.2.1" in text[done.pk]
    assert 'class="badge status-critical">Failed' in section


def test_recent_checks_say_when_there_are_none(login_client, make_user):
    html = login_client(make_user("operations")).get("/reputation/").content.decode()
    assert "Recent checks" in html and "No checks asked for yet." in html
