"""The default blocklist zones (installed by migration 0002; edited afterwards in admin).

Return codes are the lists' own documentation. Major lists are the ones the big mailbox
providers act on, so a listing there is an emergency (the seed: "Spamhaus, Barracuda").
"""

from __future__ import annotations

from reputation.dnsbl import SPAMHAUS_ERRORS

DEFAULT_ZONES: list[dict] = [
    {
        "name": "Spamhaus ZEN",
        "zone": "zen.spamhaus.org",
        "kind": "ip",
        "major": True,
        "weight": 60,
        "delisting_url": "https://check.spamhaus.org/",
        "delisting_instructions": (
            "Look the IP up at check.spamhaus.org: it shows which list (SBL, CSS, XBL, PBL) and why. "
            "SBL/CSS: stop the traffic that caused it (compromised account, bad list), then file a "
            "removal request from the lookup page. XBL: clean the infected host first; removal is "
            "self-service. PBL: the range is flagged as not meant to send directly; the owner of a "
            "static, properly configured mail server can remove it with a verified email address."
        ),
        "return_codes": {
            "127.0.0.2": "SBL — Spamhaus Block List (spam source)",
            "127.0.0.3": "SBL CSS — snowshoe / low-reputation sending",
            "127.0.0.4": "XBL — exploited host (CBL)",
            "127.0.0.5": "XBL — exploited host",
            "127.0.0.6": "XBL — exploited host",
            "127.0.0.7": "XBL — exploited host",
            "127.0.0.9": "SBL DROP — hijacked or criminal network",
            "127.0.0.10": "PBL — ISP-maintained policy block (dynamic range)",
            "127.0.0.11": "PBL — Spamhaus-maintained policy block",
        },
        "error_codes": SPAMHAUS_ERRORS,
    },
    {
        "name": "Barracuda",
        "zone": "b.barracudacentral.org",
        "kind": "ip",
        "major": True,
        "weight": 50,
        "delisting_url": "https://www.barracudacentral.org/rbl/removal-request",
        "delisting_instructions": (
            "Fix the cause first (open relay, compromised account, unsolicited mail). Then submit the "
            "removal form with the IP, a contact email and a short explanation; Barracuda reviews "
            "requests in about 12 hours."
        ),
        "return_codes": {"127.0.0.2": "listed on the Barracuda Reputation Block List"},
    },
    {
        "name": "SpamCop",
        "zone": "bl.spamcop.net",
        "kind": "ip",
        "weight": 20,
        "delisting_url": "https://www.spamcop.net/bl.shtml",
        "delisting_instructions": (
            "SpamCop listings expire on their own 24 hours after the last spam report. Find and stop "
            "the source of the reports; there is no manual removal."
        ),
        "return_codes": {"127.0.0.2": "reported by SpamCop users"},
    },
    {
        "name": "UCEPROTECT Level 1",
        "zone": "dnsbl-1.uceprotect.net",
        "kind": "ip",
        "weight": 10,
        "delisting_url": "https://www.uceprotect.net/en/rblcheck.php",
        "delisting_instructions": (
            "Level 1 listings expire automatically 7 days after the last spam trap hit. Stop the "
            "traffic hitting traps (old or purchased lists); express delisting is paid and optional."
        ),
        "return_codes": {"127.0.0.2": "hit UCEPROTECT spam traps"},
    },
    {
        "name": "PSBL",
        "zone": "psbl.surriel.com",
        "kind": "ip",
        "weight": 10,
        "delisting_url": "https://psbl.org/remove",
        "delisting_instructions": "Remove the IP yourself on psbl.org after fixing the spam source; listings also expire.",
        "return_codes": {"127.0.0.2": "listed on the Passive Spam Block List"},
    },
    {
        "name": "Mailspike",
        "zone": "bl.mailspike.net",
        "kind": "ip",
        "weight": 15,
        "delisting_url": "https://mailspike.org/iplookup.html",
        "delisting_instructions": "Look the IP up on mailspike.org and request removal there once the source is fixed.",
        "return_codes": {
            "127.0.0.2": "listed on Mailspike",
            "127.0.0.10": "Mailspike: worst reputation",
            "127.0.0.11": "Mailspike: very bad reputation",
            "127.0.0.12": "Mailspike: bad reputation",
        },
    },
    {
        "name": "NiX Spam",
        "zone": "ix.dnsbl.manitu.net",
        "kind": "ip",
        "weight": 10,
        "delisting_url": "https://www.nixspam.net/",
        "delisting_instructions": "NiX Spam listings expire after 12 hours without new spam; removal is self-service on the lookup page.",
        "return_codes": {"127.0.0.2": "listed on NiX Spam"},
    },
    {
        "name": "Spamhaus DBL",
        "zone": "dbl.spamhaus.org",
        "kind": "domain",
        "major": True,
        "weight": 60,
        "delisting_url": "https://check.spamhaus.org/",
        "delisting_instructions": "Look the domain up at check.spamhaus.org and file a removal request after cleaning up its use.",
        "return_codes": {
            "127.0.1.2": "spam domain",
            "127.0.1.4": "phishing domain",
            "127.0.1.5": "malware domain",
            "127.0.1.6": "botnet C&C domain",
            "127.0.1.102": "abused legit domain: spam",
            "127.0.1.103": "abused legit domain: spammed redirector",
            "127.0.1.104": "abused legit domain: phishing",
            "127.0.1.105": "abused legit domain: malware",
            "127.0.1.106": "abused legit domain: botnet C&C",
        },
        "error_codes": {**SPAMHAUS_ERRORS, "127.0.1.255": "IP queries are not allowed on the DBL"},
    },
    {
        "name": "SURBL multi",
        "zone": "multi.surbl.org",
        "kind": "domain",
        "weight": 25,
        "delisting_url": "https://surbl.org/surbl-analysis",
        "delisting_instructions": "Check the domain on surbl.org and use its removal form once the abuse is stopped.",
        "return_codes": {
            "8": "phishing",
            "16": "malware",
            "64": "abuse / spam",
            "128": "cracked site",
        },
        "bitmask_codes": True,
    },
    {
        "name": "URIBL multi",
        "zone": "multi.uribl.com",
        "kind": "domain",
        "weight": 25,
        "delisting_url": "https://admin.uribl.com/",
        "delisting_instructions": "Look the domain up at admin.uribl.com and request removal (an account is required).",
        "return_codes": {"2": "URIBL black", "4": "URIBL grey", "8": "URIBL red"},
        "bitmask_codes": True,
    },
]


def install_default_zones(zone_model=None) -> int:
    """Create the default zones when there are none at all; returns how many were created.

    Runs from migration 0002 and on post_migrate, so a flushed database (tests, a reset) gets
    them back; a zone an admin deleted while others remain stays deleted (disable, don't
    delete, is the advice in admin)."""
    if zone_model is None:
        from reputation.models import BlocklistZone as zone_model
    if zone_model.objects.exists():
        return 0
    zone_model.objects.bulk_create(zone_model(**spec) for spec in DEFAULT_ZONES)
    return len(DEFAULT_ZONES)
