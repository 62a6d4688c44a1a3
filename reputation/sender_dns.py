"""SPF, DKIM and DMARC records of a sending domain: fetched, checked and explained.

Each check returns (status, record, findings). Status is one of valid / permissive / missing /
invalid / unknown (the look-up itself failed: never reported as missing); findings are short
sentences a deliverability specialist can act on.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
from dataclasses import dataclass, field

from reputation.dnsbl import lookup_txt_async

VALID, PERMISSIVE, MISSING, INVALID, UNKNOWN = (
    "valid",
    "permissive",
    "missing",
    "invalid",
    "unknown",
)
SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4
_SPF_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_SPF_LOOKUP_TERMS = {"include", "a", "mx", "ptr", "exists", "redirect"}
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_%{}.\-]+)$")


@dataclass
class RecordCheck:
    status: str
    record: str = ""
    findings: list[str] = field(default_factory=list)


def _strictest(statuses: list[str]) -> str:
    for status in (INVALID, UNKNOWN, MISSING, PERMISSIVE):
        if status in statuses:
            return status
    return VALID


def check_spf(status: str, texts: list[str]) -> RecordCheck:
    if status not in ("ok", "nxdomain"):
        return RecordCheck(UNKNOWN, findings=[f"TXT look-up failed: {status}"])
    records = [t for t in texts if t.lower().startswith("v=spf1") and (len(t) == 6 or t[6] == " ")]
    if not records:
        return RecordCheck(
            MISSING,
            findings=["No SPF record (TXT starting with v=spf1): receivers cannot verify senders."],
        )
    if len(records) > 1:
        return RecordCheck(
            INVALID,
            " ⏎ ".join(records),
            ["More than one SPF record: receivers treat this as a permanent error."],
        )
    record = records[0]
    findings: list[str] = []
    errors: list[str] = []
    lookups = 0
    all_qualifier = None
    has_redirect = False
    for term in record.split()[1:]:
        if "=" in term and ":" not in term.split("=", 1)[0]:
            name, _, value = term.partition("=")
            name = name.lower()
            if name == "redirect":
                has_redirect = True
                lookups += 1
                if not _DOMAIN_RE.match(value):
                    errors.append(f"redirect= needs a domain: {term!r}")
            elif name == "exp":
                if not _DOMAIN_RE.match(value):
                    errors.append(f"exp= needs a domain: {term!r}")
            else:
                findings.append(f"Unknown modifier {name!r} is ignored.")
            continue
        qualifier = "+"
        if term[0] in "+-~?":
            qualifier, term = term[0], term[1:]
        mech, sep, arg = term.partition(":")
        if "/" in mech and mech.split("/")[0].lower() in ("a", "mx"):
            mech = mech.split("/")[0]
        mech = mech.lower()
        if mech not in _SPF_MECHANISMS:
            errors.append(f"Unknown mechanism {term!r}.")
            continue
        if mech in _SPF_LOOKUP_TERMS:
            lookups += 1
        if mech == "all":
            all_qualifier = qualifier
        elif mech in ("ip4", "ip6"):
            try:
                network = ipaddress.ip_network(arg, strict=False)
                if network.version != int(mech[2]):
                    raise ValueError
            except ValueError:
                errors.append(f"{mech}: needs an IPv{mech[2]} address or network, got {arg!r}.")
        elif mech in ("include", "exists") and not (sep and _DOMAIN_RE.match(arg)):
            errors.append(f"{mech}: needs a domain, got {term!r}.")
        elif mech == "ptr":
            findings.append("ptr is deprecated (RFC 7208 5.5) and ignored by many receivers.")
    if lookups > SPF_LOOKUP_LIMIT:
        errors.append(
            f"{lookups} DNS-querying terms at the top level alone; the limit is {SPF_LOOKUP_LIMIT} (permerror)."
        )
    if errors:
        return RecordCheck(INVALID, record, errors + findings)
    if all_qualifier == "+":
        return RecordCheck(
            PERMISSIVE,
            record,
            ["+all lets any server on the internet send as this domain."] + findings,
        )
    if all_qualifier == "?":
        return RecordCheck(
            PERMISSIVE,
            record,
            ["?all (neutral) gives receivers no guidance for unlisted senders; use ~all or -all."]
            + findings,
        )
    if all_qualifier is None and not has_redirect:
        return RecordCheck(
            PERMISSIVE,
            record,
            ["No all mechanism: unlisted senders get a neutral result; end with ~all or -all."]
            + findings,
        )
    findings.insert(
        0,
        f"SPF is valid; unlisted senders get {'fail' if all_qualifier == '-' else 'softfail' if all_qualifier == '~' else 'the redirect domain policy'}.",
    )
    return RecordCheck(VALID, record, findings)


def _tags(record: str) -> tuple[dict[str, str], list[str]]:
    tags, errors = {}, []
    for part in record.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            errors.append(f"Tag without a value: {part!r}.")
            continue
        name = name.strip().lower()
        if name in tags:
            errors.append(f"Tag {name!r} appears twice.")
        tags[name] = value.strip()
    return tags, errors


def check_dmarc(status: str, texts: list[str]) -> RecordCheck:
    if status not in ("ok", "nxdomain"):
        return RecordCheck(UNKNOWN, findings=[f"TXT look-up failed: {status}"])
    records = [t for t in texts if t.replace(" ", "").lower().startswith("v=dmarc1")]
    if not records:
        return RecordCheck(
            MISSING,
            findings=["No DMARC record at _dmarc: receivers apply no policy and send no reports."],
        )
    if len(records) > 1:
        return RecordCheck(
            INVALID,
            " ⏎ ".join(records),
            ["More than one DMARC record: receivers ignore DMARC entirely."],
        )
    record = records[0]
    tags, errors = _tags(record)
    if tags.get("v") != "DMARC1":
        errors.append("The record must start with v=DMARC1 (exact case).")
    policy = tags.get("p", "").lower()
    if "p" not in tags:
        errors.append("Required tag p= (none, quarantine or reject) is missing.")
    elif policy not in ("none", "quarantine", "reject"):
        errors.append(f"p={tags['p']!r} is not none, quarantine or reject.")
    if "sp" in tags and tags["sp"].lower() not in ("none", "quarantine", "reject"):
        errors.append(f"sp={tags['sp']!r} is not none, quarantine or reject.")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            errors.append(f"{tag}= must be r or s, got {tags[tag]!r}.")
    findings: list[str] = []
    if "pct" in tags:
        if not tags["pct"].isdigit() or not 0 <= int(tags["pct"]) <= 100:
            errors.append(f"pct= must be 0-100, got {tags['pct']!r}.")
        elif int(tags["pct"]) < 100:
            findings.append(
                f"pct={tags['pct']}: the policy applies to only part of the failing mail."
            )
    for tag in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(tag, "").split(","))):
            if not uri.lower().startswith(("mailto:", "https:")):
                errors.append(f"{tag}= URIs must be mailto: addresses, got {uri!r}.")
    if "rua" not in tags:
        findings.append("No rua= address: you will get no aggregate reports.")
    if errors:
        return RecordCheck(INVALID, record, errors + findings)
    if policy == "none":
        return RecordCheck(
            PERMISSIVE,
            record,
            ["p=none only monitors: spoofed mail is still delivered. Move to quarantine or reject."]
            + findings,
        )
    if tags.get("sp", "").lower() == "none":
        return RecordCheck(
            PERMISSIVE, record, ["sp=none leaves subdomains unprotected."] + findings
        )
    return RecordCheck(VALID, record, [f"DMARC policy {policy} is enforced."] + findings)


def check_dkim(selector: str, status: str, texts: list[str]) -> RecordCheck:
    if status == "nxdomain" or (status == "ok" and not texts):
        return RecordCheck(MISSING, findings=[f"No DKIM key at {selector}._domainkey."])
    if status != "ok":
        return RecordCheck(UNKNOWN, findings=[f"TXT look-up failed: {status}"])
    record = (
        " ".join(texts) if len(texts) > 1 and not any("p=" in t for t in texts[1:]) else texts[0]
    )
    tags, errors = _tags(record)
    findings: list[str] = []
    if "v" in tags and tags["v"] != "DKIM1":
        errors.append(f"v= must be DKIM1, got {tags['v']!r}.")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        errors.append(f"k={key_type!r}: only rsa and ed25519 keys are defined.")
    if "p" not in tags:
        errors.append("Required tag p= (the public key) is missing.")
    elif tags["p"] == "":
        errors.append("p= is empty: the key has been revoked.")
    else:
        try:
            key = base64.b64decode(re.sub(r"\s+", "", tags["p"]), validate=True)
        except ValueError:
            errors.append("p= is not valid base64.")
        else:
            if key_type == "rsa":
                bits = _rsa_bits(key)
                if bits is None:
                    errors.append("p= does not hold an RSA public key.")
                elif bits < 1024:
                    return RecordCheck(
                        PERMISSIVE, record, [f"RSA key of {bits} bits is too weak; use 2048."]
                    )
                elif bits < 2048:
                    findings.append(f"RSA key of {bits} bits; 2048 is recommended.")
    if "y" in tags.get("t", "").lower().split(":"):
        findings.append("t=y: the domain is in DKIM testing mode; receivers may ignore failures.")
    if errors:
        return RecordCheck(INVALID, record, errors)
    return RecordCheck(VALID, record, [f"DKIM key for selector {selector} is valid."] + findings)


def _der_length(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    return int.from_bytes(data[i + 1 : i + 1 + n], "big"), i + 1 + n


def _rsa_bits(der: bytes) -> int | None:
    """Modulus size of a SubjectPublicKeyInfo (or bare RSAPublicKey) DER blob."""
    try:
        if der[0] != 0x30:
            return None
        _, pos = _der_length(der, 1)
        if der[pos] == 0x30:  # SubjectPublicKeyInfo: skip the algorithm, enter the BIT STRING
            length, body = _der_length(der, pos + 1)
            pos = body + length
            if der[pos] != 0x03:
                return None
            _, pos = _der_length(der, pos + 1)
            pos += 1  # the unused-bits byte
            if der[pos] != 0x30:
                return None
            _, pos = _der_length(der, pos + 1)
        if der[pos] != 0x02:
            return None
        length, body = _der_length(der, pos + 1)
        modulus = der[body : body + length].lstrip(b"\x00")
        return (len(modulus) - 1) * 8 + modulus[0].bit_length() if modulus else None
    except IndexError:
        return None


@dataclass
class DomainReport:
    spf: RecordCheck
    dmarc: RecordCheck
    dkim: dict[str, RecordCheck]

    @property
    def dkim_status(self) -> str:
        if not self.dkim:
            return MISSING
        return _strictest([c.status for c in self.dkim.values()])


async def check_domain_async(
    domain: str, selectors: list[str], *, resolver: tuple[str, int], timeout: float
) -> DomainReport:
    names = [domain, f"_dmarc.{domain}"] + [f"{s}._domainkey.{domain}" for s in selectors]
    answers = await lookup_txt_async(names, resolver=resolver, timeout=timeout)
    return DomainReport(
        spf=check_spf(*answers[domain]),
        dmarc=check_dmarc(*answers[f"_dmarc.{domain}"]),
        dkim={s: check_dkim(s, *answers[f"{s}._domainkey.{domain}"]) for s in selectors},
    )


def check_domain(
    domain: str, selectors: list[str], *, resolver: tuple[str, int], timeout: float = 3.0
) -> DomainReport:
    return asyncio.run(check_domain_async(domain, selectors, resolver=resolver, timeout=timeout))
