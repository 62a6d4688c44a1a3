"""Demo data: 20 sending IPs in three providers' pools, ``days`` of check history and scores,
a fresh Spamhaus listing (seed 004: "Identify IP listed on Spamhaus (detected 2 hours ago)"),
and sending domains with explained SPF/DKIM/DMARC results."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction

from collectors.store import write_samples
from reputation import sender_dns
from reputation.models import (
    BlocklistZone,
    Listing,
    ListingCheck,
    ReputationSnapshot,
    RotationEvent,
    SendingDomain,
    SendingIP,
)

P, B, W = SendingIP.Pool.PRIMARY, SendingIP.Pool.BACKUP, SendingIP.Pool.WARMUP
DEMO_IPS = [
    ("54.240.10.11", "AWS", P, 62_000),
    ("54.240.10.12", "AWS", P, 58_500),
    ("54.240.10.13", "AWS", P, 55_000),
    ("54.240.10.14", "AWS", P, 49_000),
    ("54.240.10.15", "AWS", P, 47_500),
    ("2600:1f18:4a3:6902::25", "AWS", P, 21_000),
    ("54.240.11.20", "AWS", B, 0),
    ("54.240.11.21", "AWS", B, 0),
    ("54.240.12.30", "AWS", W, 2_500),
    ("167.89.20.5", "SendGrid", P, 38_000),
    ("167.89.20.6", "SendGrid", P, 36_500),
    ("167.89.20.7", "SendGrid", P, 33_000),
    ("167.89.20.8", "SendGrid", P, 31_000),
    ("167.89.21.40", "SendGrid", B, 0),
    ("167.89.22.50", "SendGrid", W, 1_200),
    ("142.11.30.7", "Hostwind", P, 18_000),
    ("142.11.30.8", "Hostwind", P, 17_500),
    ("142.11.30.9", "Hostwind", P, 16_000),
    ("142.11.31.60", "Hostwind", B, 0),
    ("142.11.32.70", "Hostwind", W, 800),
]
# (address, zone, listed hours ago, delisted hours ago or None, code, reason)
DEMO_LISTINGS = [
    (
        "54.240.10.11",
        "zen.spamhaus.org",
        2,
        None,
        "127.0.0.2",
        "https://check.spamhaus.org/sbl/query/SBL612345",
    ),
    (
        "167.89.20.5",
        "bl.spamcop.net",
        70,
        None,
        "127.0.0.2",
        "Blocked - see https://www.spamcop.net/bl.shtml?167.89.20.5",
    ),
    (
        "142.11.30.7",
        "dnsbl-1.uceprotect.net",
        290,
        120,
        "127.0.0.2",
        "IP 142.11.30.7 is UCEPROTECT-Level1 listed because of spamtrap hits",
    ),
    (
        "54.240.10.14",
        "b.barracudacentral.org",
        400,
        330,
        "127.0.0.2",
        "Client host blocked using Barracuda Reputation, see http://www.barracudanetworks.com/reputation/?r=1&ip=54.240.10.14",
    ),
]
# The last check of this IP on ZEN came back refused, to show that "unknown" is neither
# listed nor clean.
DEMO_REFUSED = ("142.11.30.9", "zen.spamhaus.org")
DEMO_DOMAINS = [
    (
        "penguinmails.com",
        "s1, s2",
        "v=spf1 include:amazonses.com include:sendgrid.net ip4:142.11.30.0/24 -all",
        "v=DMARC1; p=reject; rua=mailto:dmarc@penguinmails.com; adkim=s",
        {"s1": "rsa2048", "s2": "rsa1024"},
    ),
    (
        "send.penguinmails.com",
        "s1",
        "v=spf1 include:amazonses.com ~all",
        "v=DMARC1; p=none; rua=mailto:dmarc@penguinmails.com",
        {"s1": "rsa2048"},
    ),
    (
        "outreach-mail.io",
        "default",
        "v=spf1 ip4:167.89.20.0/24 include:sendgrid.net +all",
        "v=DMARC1; p=quarantine; pct=50; rua=dmarc@outreach-mail.io",
        {},
    ),
]
# DER-encoded RSA public keys of 2048 and 1024 bits (SubjectPublicKeyInfo), for DKIM demo rows.
_KEY_HEADERS = {
    "rsa2048": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "rsa1024": "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ",
}


def _fake_key(kind: str, rng: random.Random) -> str:
    import base64

    bits = 2048 if kind == "rsa2048" else 1024
    modulus = bytes([0xC0 | rng.getrandbits(6)]) + rng.randbytes(bits // 8 - 1)
    exponent = b"\x02\x03\x01\x00\x01"
    n = b"\x02" + _der_len(len(modulus) + 1) + b"\x00" + modulus
    rsa = b"\x30" + _der_len(len(n) + len(exponent)) + n + exponent
    bitstring = b"\x03" + _der_len(len(rsa) + 1) + b"\x00" + rsa
    algo = bytes.fromhex("300d06092a864886f70d0101010500")
    spki = b"\x30" + _der_len(len(algo) + len(bitstring)) + algo + bitstring
    return base64.b64encode(spki).decode()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _clear() -> None:
    addresses = [a for a, *_ in DEMO_IPS]
    RotationEvent.objects.filter(from_address__in=addresses).delete()
    RotationEvent.objects.filter(to_address__in=addresses).delete()
    SendingIP.objects.filter(address__in=addresses).delete()  # cascades checks, listings, snapshots
    SendingDomain.objects.filter(domain__in=[d for d, *_ in DEMO_DOMAINS]).delete()


@transaction.atomic
def load(*, days: int, now: datetime, rng: random.Random) -> str:
    _clear()
    zones = {
        z.zone: z for z in BlocklistZone.objects.filter(kind=BlocklistZone.Kind.IP, enabled=True)
    }
    ips = SendingIP.objects.bulk_create(
        SendingIP(
            address=a, provider=p, pool=pool, daily_volume=vol, active=pool != B, notes="demo"
        )
        for a, p, pool, vol in DEMO_IPS
    )
    by_address = {ip.address: ip for ip in ips}
    step = timedelta(hours=2)
    runs = [now - step * i for i in range(int(days * 12), -1, -1)]
    # The newest run is the one that detected the Spamhaus listing "2 hours ago".
    runs = [t - timedelta(hours=2) for t in runs]

    listings = []
    windows: dict[tuple[str, str], tuple[datetime, datetime | None, str, str]] = {}
    for address, zone_name, listed_h, delisted_h, code, reason in DEMO_LISTINGS:
        if zone_name not in zones:
            continue
        listed_at = now - timedelta(hours=listed_h)
        delisted_at = now - timedelta(hours=delisted_h) if delisted_h is not None else None
        windows[(address, zone_name)] = (listed_at, delisted_at, code, reason)
        zone = zones[zone_name]
        listings.append(
            Listing(
                ip=by_address[address],
                zone=zone,
                listed_at=listed_at,
                delisted_at=delisted_at,
                last_seen_at=delisted_at - step if delisted_at else runs[-1],
                codes=[code],
                meanings=[zone.return_codes.get(code, f"listed ({code})")],
                reason=reason,
            )
        )
    Listing.objects.bulk_create(listings)

    checks, snapshots = [], []
    for ip in ips:
        base_bounce = rng.uniform(0.6, 2.2)
        base_complaint = rng.uniform(0.01, 0.08)
        for t in runs:
            on = []
            for zone in zones.values():
                window = windows.get((ip.address, zone.zone))
                listed = (
                    window is not None and window[0] <= t and (window[1] is None or t < window[1])
                )
                result, detail, codes, meanings, reason = "clean", "", [], [], ""
                if listed:
                    result, codes = "listed", [window[2]]
                    meanings, reason = [zone.return_codes.get(window[2], "listed")], window[3]
                    on.append((zone.zone, zone.weight, zone.major))
                elif (ip.address, zone.zone) == DEMO_REFUSED and t == runs[-1]:
                    result = "unknown"
                    detail = "127.255.255.254: query via a public/open resolver (use DQS or your own resolver)"
                checks.append(
                    ListingCheck(
                        checked_at=t,
                        ip=ip,
                        zone=zone,
                        result=result,
                        codes=codes,
                        meanings=meanings,
                        reason=reason,
                        detail=detail,
                        duration_ms=rng.uniform(2, 40),
                    )
                )
            bounce = max(0.0, base_bounce + rng.gauss(0, 0.35)) if ip.active else None
            complaint = max(0.0, base_complaint + rng.gauss(0, 0.02)) if ip.active else None
            snapshots.append(
                ReputationSnapshot.scored(
                    ip=ip,
                    taken_at=t,
                    listings=on,
                    bounce_rate_pct=bounce,
                    complaint_rate_pct=complaint,
                )
            )
    ListingCheck.objects.bulk_create(checks, batch_size=5000)
    ReputationSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    SendingIP.objects.bulk_update(ips, ["last_score", "status", "last_checked_at"])

    for domain, selectors, spf, dmarc, keys in DEMO_DOMAINS:
        spf_check = sender_dns.check_spf("ok", [spf])
        dmarc_check = sender_dns.check_dmarc("ok", [dmarc])
        dkim = {}
        for selector in [s.strip() for s in selectors.split(",")]:
            if selector in keys:
                record = f"v=DKIM1; k=rsa; p={_fake_key(keys[selector], rng)}"
                dkim[selector] = sender_dns.check_dkim(selector, "ok", [record])
            else:
                dkim[selector] = sender_dns.check_dkim(selector, "nxdomain", [])
        report = sender_dns.DomainReport(spf=spf_check, dmarc=dmarc_check, dkim=dkim)
        SendingDomain.objects.create(
            domain=domain,
            dkim_selectors=selectors,
            spf_status=spf_check.status,
            spf_record=spf_check.record,
            spf_findings=spf_check.findings,
            dmarc_status=dmarc_check.status,
            dmarc_record=dmarc_check.record,
            dmarc_findings=dmarc_check.findings,
            dkim_status=report.dkim_status,
            dkim_results=[
                {"selector": s, "status": c.status, "record": c.record, "findings": c.findings}
                for s, c in dkim.items()
            ],
            checked_at=runs[-1],
        )

    _write_metrics(ips, snapshots, since=now - timedelta(hours=24))
    return (
        f"reputation: {len(ips)} IPs, {len(checks)} look-ups and {len(snapshots)} scores over "
        f"{days} days, {len(listings)} listings, {len(DEMO_DOMAINS)} sending domains"
    )


def _write_metrics(ips, snapshots, *, since: datetime) -> None:
    """The last day of scores into the metric store, so alert rules and dashboards see them."""
    items = []
    for snap in snapshots:
        if snap.taken_at < since:
            continue
        labels = {"ip": snap.ip.address}
        items.append(
            {
                "metric": "ip_reputation_score",
                "labels": labels,
                "value": snap.score,
                "ts": snap.taken_at,
            }
        )
        items.append(
            {
                "metric": "ip_listed_major",
                "labels": labels,
                "value": float(snap.major_listed),
                "ts": snap.taken_at,
            }
        )
    if items:
        write_samples(items, source="demo")
