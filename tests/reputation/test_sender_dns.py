"""SPF, DKIM and DMARC of sending domains, fetched from a real DNS server and explained."""

from __future__ import annotations

import base64
import subprocess

import pytest

from reputation import services
from reputation.models import SendingDomain
from reputation.sender_dns import check_dkim, check_dmarc, check_spf


def _rsa_key(bits: int) -> str:
    """A real RSA public key (SubjectPublicKeyInfo, base64) made by openssl."""
    pem = subprocess.run(
        f"openssl genrsa {bits} 2>/dev/null | openssl rsa -pubout 2>/dev/null",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    base64.b64decode(body)
    return body


@pytest.fixture(scope="module")
def key_2048():
    return _rsa_key(2048)


def test_a_well_configured_domain_is_valid_everywhere(dns, db, key_2048):
    dns(
        {
            "good.example": {
                "TXT": [
                    "google-site-verification=abc",
                    "v=spf1 ip4:192.0.2.0/24 include:_spf.good.example -all",
                ]
            },
            "_dmarc.good.example": {"TXT": ["v=DMARC1; p=reject; rua=mailto:dmarc@good.example"]},
            # a 2048-bit key does not fit one 255-byte string: one TXT record of several strings
            "s1._domainkey.good.example": {
                "TXT": [[f"v=DKIM1; k=rsa; p={key_2048[:200]}", key_2048[200:]]]
            },
        }
    )
    domain = SendingDomain.objects.create(domain="good.example", dkim_selectors="s1")
    assert services.check_sender_dns() == 1
    domain.refresh_from_db()
    assert (domain.spf_status, domain.dkim_status, domain.dmarc_status) == (
        "valid",
        "valid",
        "valid",
    )
    assert domain.spf_record.startswith("v=spf1 ip4:192.0.2.0/24")
    assert "fail" in domain.spf_findings[0]
    assert domain.dmarc_findings[0] == "DMARC policy reject is enforced."


def test_plus_all_and_p_none_are_too_permissive(dns, db):
    dns(
        {
            "loose.example": {"TXT": ["v=spf1 include:sendgrid.net +all"]},
            "_dmarc.loose.example": {"TXT": ["v=DMARC1; p=none"]},
        }
    )
    domain = SendingDomain.objects.create(domain="loose.example", dkim_selectors="s1")
    services.check_sender_dns()
    domain.refresh_from_db()
    assert domain.spf_status == "permissive" and "+all" in domain.spf_findings[0]
    assert domain.dmarc_status == "permissive" and "p=none" in domain.dmarc_findings[0]
    assert domain.dkim_status == "missing"  # no key at s1._domainkey


def test_missing_records_are_reported_as_missing(dns, db):
    dns({})
    domain = SendingDomain.objects.create(domain="bare.example")
    services.check_sender_dns()
    domain.refresh_from_db()
    assert (domain.spf_status, domain.dmarc_status, domain.dkim_status) == (
        "missing",
        "missing",
        "missing",
    )
    assert "No DKIM selectors configured" in domain.dkim_results[0]["findings"][0]


def test_a_refused_lookup_is_unknown_not_missing(dns, db):
    dns({}, refuse={"flaky.example", "_dmarc.flaky.example"})
    domain = SendingDomain.objects.create(domain="flaky.example")
    services.check_sender_dns()
    domain.refresh_from_db()
    assert domain.spf_status == "unknown" and domain.dmarc_status == "unknown"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("v=spf1 ip4:999.1.1.1 -all", "ip4: needs an IPv4"),
        ("v=spf1 include -all", "include: needs a domain"),
        ("v=spf1 foo:bar -all", "Unknown mechanism"),
        (
            "v=spf1 " + " ".join(f"include:d{i}.example" for i in range(11)) + " -all",
            "the limit is 10",
        ),
    ],
)
def test_spf_syntax_errors_are_explained(record, message):
    result = check_spf("ok", [record])
    assert result.status == "invalid"
    assert any(message in f for f in result.findings), result.findings


def test_two_spf_records_are_an_error():
    assert check_spf("ok", ["v=spf1 -all", "v=spf1 ~all"]).status == "invalid"


def test_dmarc_syntax_errors_are_explained():
    result = check_dmarc("ok", ["v=DMARC1; p=block; rua=dmarc@example.com"])
    assert result.status == "invalid"
    assert any("p='block'" in f for f in result.findings)
    assert any("mailto:" in f for f in result.findings)


def test_dkim_revoked_and_weak_keys(key_2048):
    assert check_dkim("s1", "ok", ["v=DKIM1; p="]).status == "invalid"
    assert check_dkim("s1", "ok", ["v=DKIM1; p=not*base64"]).status == "invalid"
    assert check_dkim("s1", "ok", [f"v=DKIM1; k=rsa; p={_rsa_key(512)}"]).status == "permissive"
    assert check_dkim("s1", "ok", [f"v=DKIM1; k=rsa; p={key_2048}"]).status == "valid"
