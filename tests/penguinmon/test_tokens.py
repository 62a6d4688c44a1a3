from datetime import timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from penguinmon.models import ApiToken, AuditLog, hash_token


def test_create_api_token_prints_token_once_and_stores_only_its_hash(make_user, capsys):
    make_user(username="ci-bot")
    call_command("create_api_token", user="ci-bot", scopes="read,ingest")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert raw.startswith("pm_")
    assert token.token_hash == hash_token(raw)
    assert raw not in (token.token_hash, token.prefix)
    assert token.scope_set == {"read", "ingest"}


def test_unknown_scope_is_refused(make_user):
    make_user(username="ci-bot")
    with pytest.raises(Exception, match="scopes must be"):
        call_command("create_api_token", user="ci-bot", scopes="read,admin")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_health_needs_no_token_and_reports_database_and_redis(client):
    body = client.get("/api/health").json()
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.django_db(transaction=True)
def test_health_answers_ok_at_once_after_its_database_connection_died(client):
    # The probe's SELECT 1 stands in for Django's per-request connection check; a connection
    # the server dropped (a restart) must not make the next probe report the database down.
    assert client.get("/api/health").status_code == 200
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = client.get("/api/health")
    assert response.status_code == 200, response.content
    assert response.json()["database"] == "ok"
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db
def test_api_without_token_is_401_and_revoked_token_stops_working(client, make_token):
    assert client.get("/api/v1/series").status_code == 401
    raw = make_token("read")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/series", headers=headers).status_code == 200
    ApiToken.objects.get(token_hash=hash_token(raw)).revoke()
    assert client.get("/api/v1/series", headers=headers).status_code == 401


@pytest.mark.django_db
def test_token_without_scope_is_403(client, make_token):
    raw = make_token("read")
    resp = client.post(
        "/api/v1/samples",
        "[]",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert resp.status_code == 403
    assert (
        "ingest" in resp.json()["error"]
        if "error" in resp.json()
        else "ingest" in resp.json()["detail"]
    )


@pytest.mark.django_db
def test_expires_in_sets_the_expiry_and_an_expired_token_is_refused(make_user, client, capsys):
    make_user(username="ci-bot", staff=True)
    call_command("create_api_token", user="ci-bot", scopes="read", expires_in="90d")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    left = token.expires_at - timezone.now()
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/series", headers=headers).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/series", headers=headers).status_code == 401
    assert client.get("/metrics", headers=headers).status_code == 401


@pytest.mark.parametrize("bad", ["90", "0d", "3y", "-1d", "d"])
def test_expires_in_refuses_what_is_not_a_duration(make_user, bad):
    make_user(username="ci-bot")
    with pytest.raises(CommandError, match="--expires-in must look like"):
        call_command("create_api_token", user="ci-bot", expires_in=bad)
    assert not ApiToken.objects.exists()


def test_token_admin_shows_expiry_keeps_user_and_scopes_fixed_and_audits_edits(
    make_user, admin_user, login_client
):
    owner, other = make_user(username="ci-bot"), make_user(username="intruder")
    token, _ = ApiToken.issue(
        user=owner, scopes=["read"], expires_at=timezone.now() - timedelta(days=1)
    )
    client = login_client(admin_user)
    listing = client.get("/admin/penguinmon/apitoken/").content.decode()
    assert "expired" in listing
    url = f"/admin/penguinmon/apitoken/{token.pk}/change/"
    resp = client.post(
        url,
        {
            "user": other.pk,
            "scopes": "read,ingest,write",
            "name": "renamed",
            "expires_at_0": "2030-01-01",
            "expires_at_1": "00:00:00",
            "revoked_at_0": "",
            "revoked_at_1": "",
        },
    )
    assert resp.status_code == 302
    token.refresh_from_db()
    assert token.user == owner and token.scope_set == {"read"}
    assert token.name == "renamed" and token.expires_at.year == 2030
    entry = AuditLog.objects.get(action="admin.change")
    assert entry.actor == admin_user and entry.target_id == str(token.pk)
    assert set(entry.changes) == {"name", "expires_at"}


def test_revoking_from_admin_is_audited(make_user, admin_user, login_client):
    token, _ = ApiToken.issue(user=make_user(), scopes=["read"])
    login_client(admin_user).post(
        "/admin/penguinmon/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditLog.objects.filter(action="token.revoke", target_id=str(token.pk)).count() == 1
