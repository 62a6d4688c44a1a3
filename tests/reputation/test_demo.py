"""The demo data: the seed's story (a Spamhaus listing detected ~2 hours ago) and idempotence."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from collectors.store.query import latest_values
from reputation import demo, selectors
from reputation.models import ListingCheck, SendingDomain, SendingIP


def test_demo_loads_the_seed_story_and_can_be_reloaded(db):
    now = timezone.now()
    summary = demo.load(days=3, now=now, rng=random.Random(4))
    assert "20 IPs" in summary
    demo.load(days=3, now=now, rng=random.Random(4))  # idempotent: replaces its own rows
    assert SendingIP.objects.count() == 20
    assert set(SendingIP.objects.values_list("provider", flat=True)) == {
        "AWS",
        "SendGrid",
        "Hostwind",
    }
    assert set(SendingIP.objects.values_list("pool", flat=True)) == {"primary", "backup", "warm-up"}

    rows = {r["ip"]: r for r in selectors.ip_reputation_table()}
    spamhaus = rows["54.240.10.11"]
    assert spamhaus["blocklists"] == ["Spamhaus ZEN"] and spamhaus["status"] == "critical"
    assert spamhaus["score"] <= 40
    ip = SendingIP.objects.get(address="54.240.10.11")
    [listing] = ip.open_listings()
    assert 1.9 * 3600 <= (now - listing.listed_at).total_seconds() <= 2.1 * 3600
    assert ListingCheck.objects.filter(result="unknown").exists()
    assert SendingDomain.objects.filter(spf_status="permissive").exists()
    assert SendingDomain.objects.filter(dmarc_status="valid").exists()
    [score] = latest_values(
        metric="ip_reputation_score", labels={"ip": "54.240.10.11"}, max_age=timedelta(hours=3)
    )
    assert score.value <= 40
