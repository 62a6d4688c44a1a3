"""JSON API: list, history, trigger a check, rotate — authentication, roles and bad input."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reputation.models import BlocklistZone, Listing, ReputationSnapshot
from tests.reputation.conftest import reversed_name


@pytest.fixture
def listed_ip(make_ip):
    ip = make_ip("192.0.2.1", provider="AWS", daily_volume=50_000, last_score=40, status="critical")
    now = timezone.now()
    zen = BlocklistZone.objects.get(zone="zen.spamhaus.org")
    Listing.objects.create(
        ip=ip, zone=zen, listed_at=now, last_seen_at=now, codes=["127.0.0.2"], reason="SBL1"
    )
    ReputationSnapshot.objects.create(
        ip=ip, taken_at=now, score=40, status="critical", listed_zones=[zen.zone], major_listed=True
    )
    make_ip("192.0.2.2", provider="SendGrid", last_score=95)
    return ip


def test_listing_ips_needs_a_token(client, db):
    resp = client.get("/api/v1/reputation/ips")
    assert resp.status_code == 401
    assert "Bearer" in resp.json()["error"]


def test_ips_are_listed_worst_first_with_their_blocklists(api, listed_ip):
    resp = api.get("/api/v1/reputation/ips")
    assert resp.status_code == 200
    rows = resp.json()
    assert [r["ip"] for r in rows] == ["192.0.2.1", "192.0.2.2"]
    assert rows[0]["blocklists"] == ["Spamhaus ZEN"] and rows[0]["major_listed"] is True
    assert rows[0]["score"] == 40 and rows[0]["daily_volume"] == 50_000


def test_ips_can_be_filtered_and_sorted(api, listed_ip):
    assert [r["ip"] for r in api.get("/api/v1/reputation/ips", provider="sendgrid").json()] == [
        "192.0.2.2"
    ]
    assert [r["ip"] for r in api.get("/api/v1/reputation/ips", sort="-score").json()] == [
        "192.0.2.2",
        "192.0.2.1",
    ]
    assert api.get("/api/v1/reputation/ips", sort="colour").status_code == 422
    assert api.get("/api/v1/reputation/ips", pool="spare").status_code == 422


def test_a_token_of_a_user_without_the_reputation_role_is_refused(
    client, make_token, make_user, listed_ip
):
    token = make_token("read", user=make_user("development"))
    resp = client.get("/api/v1/reputation/ips", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403


def test_history_of_one_ip(api, listed_ip):
    data = api.get("/api/v1/reputation/ips/192.0.2.1/history", days=7).json()
    assert data["ip"] == "192.0.2.1" and data["score"] == 40
    assert data["snapshots"][0]["score"] == 40
    assert (
        data["listings"][0]["zone"] == "zen.spamhaus.org"
        and data["listings"][0]["reason"] == "SBL1"
    )
    assert data["listings"][0]["delisting_url"].startswith("https://")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/reputation/ips/not-an-ip/history", 400),
        ("/api/v1/reputation/ips/203.0.113.1/history", 404),
        ("/api/v1/reputation/ips/192.0.2.1/history?days=500", 422),
    ],
)
def test_history_rejects_bad_input(api, listed_ip, path, status):
    resp = api.get(path)
    assert resp.status_code == status
    assert resp.json()


def test_trigger_a_check_of_one_ip(api, dns, make_ip):
    make_ip("192.0.2.77")
    dns({reversed_name("192.0.2.77", "bl.spamcop.net"): {"A": ["127.0.0.2"]}})
    resp = api.post("/api/v1/reputation/checks", {"ips": ["192.0.2.77"]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["listed"] == 1 and body["newly_listed"] == ["192.0.2.77 on bl.spamcop.net"]


def test_trigger_rejects_bad_input_and_read_only_tokens(api, client, make_token, listed_ip):
    assert api.post("/api/v1/reputation/checks", {"ips": []}).status_code == 400
    assert api.post("/api/v1/reputation/checks", {"ips": ["nope"]}).status_code == 400
    assert api.post("/api/v1/reputation/checks", raw="{not json").status_code in (400, 422)
    token = make_token("read")
    resp = client.post(
        "/api/v1/reputation/checks",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403


def test_rotate_through_the_api(api, listed_ip, make_ip):
    make_ip("192.0.2.50", provider="AWS", pool="backup", active=False)
    resp = api.post("/api/v1/reputation/ips/192.0.2.1/rotate", {"reason": "SBL listing"})
    assert resp.status_code == 200
    body = resp.json()
    assert (body["from_ip"], body["to_ip"], body["reason"]) == (
        "192.0.2.1",
        "192.0.2.50",
        "SBL listing",
    )
    assert (
        body["webhook"]["ok"] is False
        and "no rotation webhook configured" in body["webhook"]["error"]
    )
    assert "token" in body["by"]


def test_rotate_refusals_are_clear(api, listed_ip):
    resp = api.post("/api/v1/reputation/ips/192.0.2.1/rotate", {"reason": "SBL listing"})
    assert resp.status_code == 409
    assert "No backup IP available for AWS" in resp.json()["error"]
    assert api.post("/api/v1/reputation/ips/192.0.2.1/rotate", {"reason": ""}).status_code == 422
    assert api.post("/api/v1/reputation/ips/192.0.2.1/rotate", {"reason": "  "}).status_code == 400
    assert api.post("/api/v1/reputation/ips/192.0.2.1/rotate", {}).status_code == 422


def test_customer_success_may_read_but_not_rotate(client, make_token, make_user, listed_ip):
    token = make_token("read", "write", user=make_user("customer-success"))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/reputation/ips", headers=headers).status_code == 200
    resp = client.post(
        "/api/v1/reputation/ips/192.0.2.1/rotate",
        '{"reason": "x"}',
        content_type="application/json",
        headers=headers,
    )
    assert resp.status_code == 403
