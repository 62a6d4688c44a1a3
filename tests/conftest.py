"""Shared fixtures: users with roles, logged-in clients, API tokens.

Tests run against the real Postgres and Redis (embedded under ./var/ unless DATABASE_URL /
REDIS_URL are set); pytest-django creates a separate test database, and Redis uses its own
database number (see penguinmon.settings, TESTING).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from penguinmon.models import ApiToken


@pytest.fixture
def make_user(db, django_user_model):
    counter = {"n": 0}

    def make(
        *roles: str,
        username: str | None = None,
        staff: bool = False,
        password: str = "pw-for-tests-1",
    ):
        counter["n"] += 1
        user = django_user_model.objects.create_user(
            username=username or f"user{counter['n']}", password=password, is_staff=staff
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    user = make_user(username="boss", staff=True)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def login_client(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def make_token(make_user):
    def make(*scopes: str, user=None) -> str:
        _, raw = ApiToken.issue(user=user or make_user(staff=True), scopes=list(scopes) or ["read"])
        return raw

    return make


@pytest.fixture
def api(client, make_token):
    """A JSON client authenticated with a token holding read, ingest and write scopes."""
    token = make_token("read", "ingest", "write")

    class Api:
        headers = {"Authorization": f"Bearer {token}"}

        def get(self, path, **params):
            return client.get(path, params, headers=self.headers)

        def post(self, path, data=None, *, raw: bytes | str | None = None):
            import json

            body = raw if raw is not None else json.dumps(data)
            return client.post(path, body, content_type="application/json", headers=self.headers)

    return Api()


@pytest.fixture(autouse=True)
def _fresh_metric_store(request):
    """Start every test with empty store caches; after a transactional test (whose rows
    were committed) empty the store's SQL tables too, which Django's flush does not know."""
    from collectors.store import partitions, series

    series.forget_all()
    partitions._known.clear()
    partitions._day_weeks.clear()
    yield
    series.forget_all()
    partitions._known.clear()
    partitions._day_weeks.clear()
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        "transactional_db" in request.fixturenames or "live_server" in request.fixturenames
    )
    if transactional or (marker and marker.kwargs.get("transaction")):
        partitions.truncate_store()
