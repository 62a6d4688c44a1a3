import pytest
from django.core.management import call_command

from penguinmon.models import ApiToken, hash_token


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
