"""A full check run: results recorded, listings opened and closed, scores and metrics written."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from collectors.store import write_samples
from collectors.store.query import latest_values
from collectors.store.rollups import run_rollups
from reputation import services
from reputation.models import (
    BlocklistZone,
    Listing,
    ListingCheck,
    ReputationSnapshot,
    SendingDomain,
)
from tests.reputation.conftest import reversed_name


def test_default_zones_are_installed(db):
    zones = {z.zone: z for z in BlocklistZone.objects.all()}
    assert {
        "zen.spamhaus.org",
        "dbl.spamhaus.org",
        "b.barracudacentral.org",
        "bl.spamcop.net",
        "dnsbl-1.uceprotect.net",
        "psbl.surriel.com",
        "bl.mailspike.net",
        "multi.surbl.org",
        "multi.uribl.com",
    } <= set(zones)
    assert zones["zen.spamhaus.org"].major and zones["b.barracudacentral.org"].major
    assert zones["zen.spamhaus.org"].return_codes["127.0.0.3"].startswith("SBL CSS")
    assert zones["dbl.spamhaus.org"].kind == "domain"


def test_spamhaus_zones_go_through_dqs_when_a_key_is_set(db, settings):
    zen = BlocklistZone.objects.get(zone="zen.spamhaus.org")
    assert zen.query_zone() == "zen.spamhaus.org"
    settings.SPAMHAUS_DQS_KEY = "abc123key"
    assert zen.query_zone() == "abc123key.zen.dq.spamhaus.net"
    assert (
        BlocklistZone.objects.get(zone="dbl.spamhaus.org").query_zone()
        == "abc123key.dbl.dq.spamhaus.net"
    )
    assert BlocklistZone.objects.get(zone="bl.spamcop.net").query_zone() == "bl.spamcop.net"


def test_a_run_records_every_result_and_opens_a_listing(dns, make_ip):
    listed = make_ip("192.0.2.10")
    clean = make_ip("192.0.2.11")
    server = dns(
        {
            reversed_name("192.0.2.10", "zen.spamhaus.org"): {
                "A": ["127.0.0.2"],
                "TXT": ["SBL1 spam source"],
            }
        }
    )
    summary = services.run_reputation_check()

    ip_zones = BlocklistZone.objects.filter(kind="ip", enabled=True).count()
    assert ListingCheck.objects.filter(ip=clean).count() == ip_zones
    assert set(ListingCheck.objects.filter(ip=clean).values_list("result", flat=True)) == {"clean"}
    assert summary.listed == 1 and summary.newly_listed == ["192.0.2.10 on zen.spamhaus.org"]
    listing = Listing.objects.get(ip=listed)
    assert listing.zone.zone == "zen.spamhaus.org" and listing.is_open
    assert listing.reason == "SBL1 spam source" and listing.codes == ["127.0.0.2"]
    assert listing.meanings[0].startswith("SBL")

    listed.refresh_from_db()
    clean.refresh_from_db()
    assert (listed.last_score, listed.status) == (40, "critical")
    assert (clean.last_score, clean.status) == (100, "good")
    assert ReputationSnapshot.objects.get(ip=listed).listed_zones == ["zen.spamhaus.org"]
    assert len(server.queries) >= 2 * ip_zones


def test_a_run_writes_score_and_major_flag_to_the_metric_store(dns, make_ip):
    make_ip("192.0.2.20")
    dns({reversed_name("192.0.2.20", "b.barracudacentral.org"): {"A": ["127.0.0.2"]}})
    services.run_reputation_check()
    [score] = latest_values(metric="ip_reputation_score", labels={"ip": "192.0.2.20"})
    [major] = latest_values(metric="ip_listed_major", labels={"ip": "192.0.2.20"})
    assert score.value == 40 and major.value == 1.0


def test_a_clean_answer_closes_the_listing_but_unknown_keeps_it_open(dns, make_ip):
    ip = make_ip("192.0.2.30")
    name = reversed_name("192.0.2.30", "bl.spamcop.net")
    server = dns({name: {"A": ["127.0.0.2"]}})
    services.run_reputation_check()
    assert Listing.objects.get(ip=ip).is_open

    server.set(name, {"A": ["127.255.255.254"]})  # refused: we learn nothing
    services.run_reputation_check()
    assert Listing.objects.get(ip=ip).is_open
    assert (
        ListingCheck.objects.filter(ip=ip, zone__zone="bl.spamcop.net", result="unknown").count()
        == 1
    )

    server.remove(name)
    summary = services.run_reputation_check()
    assert summary.delisted == ["192.0.2.30 on bl.spamcop.net"]
    assert Listing.objects.get(ip=ip).delisted_at is not None
    ip.refresh_from_db()
    assert ip.last_score == 100


def test_bounce_and_complaint_rates_from_the_store_lower_the_score(dns, make_ip):
    ip = make_ip("192.0.2.40")
    dns({})
    now = timezone.now()
    labels = {"ip": "192.0.2.40"}
    write_samples(
        [
            {
                "metric": "emails_sent",
                "labels": labels,
                "value": 1000,
                "ts": now - timedelta(hours=1),
            },
            {
                "metric": "emails_bounced",
                "labels": labels,
                "value": 60,
                "ts": now - timedelta(hours=1),
            },
            {
                "metric": "emails_complained",
                "labels": labels,
                "value": 3,
                "ts": now - timedelta(hours=1),
            },
        ]
    )
    run_rollups()  # the beat task does this every 15 s; a 24-hour window reads the 1m rollups
    services.run_reputation_check()
    snap = ReputationSnapshot.objects.get(ip=ip)
    assert round(snap.bounce_rate_pct, 2) == 6.0 and round(snap.complaint_rate_pct, 2) == 0.3
    assert snap.score == 60  # 100 - 20 (bounces) - 20 (complaints)


def test_domains_are_checked_on_domain_zones(dns, db):
    domain = SendingDomain.objects.create(domain="spammy.example")
    dns({"spammy.example.dbl.spamhaus.org": {"A": ["127.0.1.2"]}})
    services.run_reputation_check()
    listing = Listing.objects.get(domain=domain)
    assert listing.zone.zone == "dbl.spamhaus.org" and listing.meanings == ["spam domain"]


def test_history_older_than_90_days_is_pruned(dns, make_ip):
    ip = make_ip("192.0.2.50")
    dns({})
    old = timezone.now() - timedelta(days=91)
    services.run_reputation_check(now=old)
    services.run_reputation_check()
    deleted = services.prune_history()
    assert deleted["checks"] > 0 and deleted["snapshots"] == 1
    assert (
        ListingCheck.objects.filter(
            ip=ip, checked_at__lt=timezone.now() - timedelta(days=90)
        ).count()
        == 0
    )
    assert ReputationSnapshot.objects.filter(ip=ip).count() == 1


def test_a_zone_whose_error_codes_is_a_list_is_skipped_and_the_others_still_run(dns, make_ip):
    broken = BlocklistZone.objects.get(zone="bl.spamcop.net")
    BlocklistZone.objects.filter(pk=broken.pk).update(error_codes=["127.255.255.254"])
    ip = make_ip("192.0.2.40")
    dns({reversed_name("192.0.2.40", "zen.spamhaus.org"): {"A": ["127.0.0.2"]}})

    summary = services.run_reputation_check()

    assert summary.skipped_zones == ["bl.spamcop.net"]
    assert summary.newly_listed == ["192.0.2.40 on zen.spamhaus.org"]
    assert not ListingCheck.objects.filter(zone=broken).exists()
    others = BlocklistZone.objects.filter(kind="ip", enabled=True).exclude(pk=broken.pk)
    assert ListingCheck.objects.filter(ip=ip).count() == others.count()


def test_admin_refuses_answer_tables_that_are_not_answer_to_meaning(admin_user, login_client):
    zone = BlocklistZone.objects.get(zone="bl.spamcop.net")
    url = f"/admin/reputation/blocklistzone/{zone.pk}/change/"
    form = {
        "name": zone.name,
        "zone": zone.zone,
        "kind": zone.kind,
        "weight": zone.weight,
        "return_codes": '{"127.0.0.2": "listed"}',
        "error_codes": '["127.255.255.254"]',
        "enabled": "on",
    }
    page = login_client(admin_user).post(url, form)
    assert page.status_code == 200
    assert "must be a JSON object of answer -&gt; meaning" in page.content.decode()
    zone.refresh_from_db()
    assert isinstance(zone.error_codes, dict)
    form["error_codes"] = '{"127.255.255.254": "refused"}'
    assert login_client(admin_user).post(url, form).status_code == 302
