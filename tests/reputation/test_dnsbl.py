"""The look-up engine against a real DNS server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from reputation.dnsbl import CLEAN, LISTED, UNKNOWN, ZoneSpec, check, parse_resolver, reverse_ip
from tests.support.dns_server import DNSTestServer
from tests.support.net import free_port

ZEN = ZoneSpec(
    key="zen.spamhaus.org",
    query_zone="zen.spamhaus.org",
    return_codes={"127.0.0.2": "SBL", "127.0.0.4": "XBL", "127.0.0.10": "PBL"},
    error_codes={"127.255.255.254": "public resolver"},
)
SURBL = ZoneSpec(
    key="multi.surbl.org",
    query_zone="multi.surbl.org",
    kind="domain",
    return_codes={"8": "phishing", "16": "malware", "64": "abuse"},
    bitmask=True,
)


def run(server: DNSTestServer, pairs, timeout: float = 1.0):
    return check(pairs, resolver=("127.0.0.1", server.port), timeout=timeout, concurrency=8)


def test_it_reverses_octets_and_ipv6_nibbles():
    assert reverse_ip("192.0.2.99") == "99.2.0.192"
    assert reverse_ip("2001:db8::1") == ".".join("1000000000000000000000008bd01002")
    # an IPv4-mapped IPv6 address is checked as the IPv4 address it is
    assert reverse_ip("::ffff:192.0.2.1") == "1.2.0.192"


def test_a_listed_ip_has_its_code_decoded_and_the_txt_reason():
    zone = {
        "2.2.0.192.zen.spamhaus.org": {
            "A": ["127.0.0.2", "127.0.0.4"],
            "TXT": ["https://check.spamhaus.org/sbl/query/SBL1"],
        }
    }
    with DNSTestServer(zone) as server:
        [result] = run(server, [("192.0.2.2", ZEN)])
    assert result.result == LISTED
    assert result.codes == ["127.0.0.2", "127.0.0.4"]
    assert result.meanings == ["SBL", "XBL"]
    assert result.reason == "https://check.spamhaus.org/sbl/query/SBL1"


def test_nxdomain_is_clean_and_no_txt_is_asked():
    with DNSTestServer({}) as server:
        [result] = run(server, [("192.0.2.1", ZEN)])
        assert result.result == CLEAN
        assert server.queries == [("1.2.0.192.zen.spamhaus.org.", "A")]


@pytest.mark.parametrize(
    "answer", ["127.255.255.254", "127.255.255.255", "127.255.255.252", "127.0.0.1"]
)
def test_refusal_codes_are_unknown_never_listed(answer):
    with DNSTestServer({"3.2.0.192.zen.spamhaus.org": {"A": [answer]}}) as server:
        [result] = run(server, [("192.0.2.3", ZEN)])
    assert result.result == UNKNOWN
    assert result.codes == []
    assert answer in result.detail


def test_public_resolver_refusal_is_explained():
    with DNSTestServer({"3.2.0.192.zen.spamhaus.org": {"A": ["127.255.255.254"]}}) as server:
        [result] = run(server, [("192.0.2.3", ZEN)])
    assert "public resolver" in result.detail


def test_an_answer_outside_loopback_is_unknown():
    # ISP resolvers that rewrite NXDOMAIN to an ad server must not make every IP "listed"
    with DNSTestServer({"4.2.0.192.zen.spamhaus.org": {"A": ["203.0.113.7"]}}) as server:
        [result] = run(server, [("192.0.2.4", ZEN)])
    assert result.result == UNKNOWN


def test_refused_and_timeout_are_unknown_and_do_not_hold_up_the_others():
    hang, refuse = "5.2.0.192.zen.spamhaus.org", "6.2.0.192.zen.spamhaus.org"
    zone = {"7.2.0.192.zen.spamhaus.org": {"A": ["127.0.0.10"]}}
    with DNSTestServer(zone, hang={hang}, refuse={refuse}) as server:
        results = run(
            server,
            [("192.0.2.5", ZEN), ("192.0.2.6", ZEN), ("192.0.2.7", ZEN), ("192.0.2.8", ZEN)],
            timeout=0.5,
        )
    by_ip = {r.target: r for r in results}
    assert by_ip["192.0.2.5"].result == UNKNOWN and "timeout" in by_ip["192.0.2.5"].detail
    assert by_ip["192.0.2.6"].result == UNKNOWN and by_ip["192.0.2.6"].detail == "REFUSED"
    assert by_ip["192.0.2.7"].result == LISTED and by_ip["192.0.2.7"].meanings == ["PBL"]
    assert by_ip["192.0.2.8"].result == CLEAN


def test_ipv6_is_queried_by_nibbles():
    ip = "2001:db8::25"
    name = ".".join(reversed("20010db8000000000000000000000025")) + ".zen.spamhaus.org"
    with DNSTestServer({name: {"A": ["127.0.0.2"], "TXT": ["v6 listed"]}}) as server:
        [result] = run(server, [(ip, ZEN)])
        assert (name + ".", "A") in server.queries
    assert result.result == LISTED and result.reason == "v6 listed"


def test_domain_zones_decode_bitmask_codes():
    with DNSTestServer({"bad.example.multi.surbl.org": {"A": ["127.0.0.24"]}}) as server:
        listed, clean = run(server, [("bad.example", SURBL), ("good.example", SURBL)])
    assert listed.result == LISTED and listed.meanings == ["phishing, malware"]
    assert clean.result == CLEAN


def test_an_invalid_target_is_unknown_without_a_query():
    with DNSTestServer({}) as server:
        [result] = run(server, [("not-an-ip", ZEN)])
        assert server.queries == []
    assert result.result == UNKNOWN and "not an IP address" in result.detail


def test_a_resolver_that_is_not_listening_gives_unknown():
    results = check(
        [("192.0.2.1", ZEN)], resolver=("127.0.0.1", free_port(socket.SOCK_DGRAM)), timeout=0.5
    )
    assert results[0].result == UNKNOWN


def test_many_lookups_all_come_back_in_order():
    zone = {f"{i}.2.0.192.zen.spamhaus.org": {"A": ["127.0.0.2"]} for i in range(0, 200, 7)}
    with DNSTestServer(zone) as server:
        results = check(
            [(f"192.0.2.{i}", ZEN) for i in range(200)],
            resolver=("127.0.0.1", server.port),
            timeout=2,
            concurrency=50,
        )
    assert [r.target for r in results] == [f"192.0.2.{i}" for i in range(200)]
    assert [r.result == LISTED for r in results] == [i % 7 == 0 for i in range(200)]


def test_resolver_setting_accepts_address_and_port():
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("10.0.0.2") == ("10.0.0.2", 53)
    assert parse_resolver("[::1]:5300") == ("::1", 5300)
    assert parse_resolver("::1") == ("::1", 53)
    with pytest.raises(ValueError):
        parse_resolver("resolver.example:53")


def test_a_truncated_answer_is_fetched_again_over_tcp():
    name = "9.2.0.192.zen.spamhaus.org"
    zone = {name: {"A": ["127.0.0.2"], "TXT": ["a" * 250, "b" * 250, "c" * 250]}}
    with DNSTestServer(zone, truncate={name}) as server:
        [result] = run(server, [("192.0.2.9", ZEN)])
    assert result.result == LISTED
    assert result.reason == " | ".join(["a" * 250, "b" * 250, "c" * 250])


def test_a_name_too_long_with_the_zone_appended_is_unknown_and_the_run_goes_on():
    # 240 characters of domain fit the model's field, but not with ".multi.surbl.org" after it
    long_domain = ".".join(["a" * 59] * 4)
    with DNSTestServer({"bad.example.multi.surbl.org": {"A": ["127.0.0.8"]}}) as server:
        too_long, listed = run(server, [(long_domain, SURBL), ("bad.example", SURBL)])
        assert all(long_domain not in name for name, _ in server.queries)
    assert too_long.result == UNKNOWN and "too long" in too_long.detail
    assert listed.result == LISTED
