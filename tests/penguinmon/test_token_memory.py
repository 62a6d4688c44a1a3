"""Checked API tokens kept in memory (penguinmon.api_auth): a known token costs no statement,
and every change a check reads, made by any process, takes effect on the next use."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from penguinmon.api_auth import active_token, forget_tokens
from penguinmon.models import ApiToken, hash_token
from penguinmon.roles import user_roles

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_process():
    """SQL run and committed on a connection of its own, as an admin's or a script's."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield lambda sql, args=(): conn.execute(sql, args)


@pytest.fixture
def token(make_user):
    forget_tokens()
    user = make_user("development")
    row, raw = ApiToken.issue(user=user, scopes=["read"])
    h = hash_token(raw)
    assert active_token(h) is not None  # read once, kept
    with CaptureQueriesContext(connection) as ctx:
        kept = active_token(h)
    assert kept is not None and kept.user == user
    assert len(ctx.captured_queries) == 0  # answered from memory
    return row, h


def _until(check: Callable[[], bool]) -> None:
    """The notification travels asynchronously: within a moment of the commit."""
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "the change never took effect"
        time.sleep(0.01)


def test_a_revocation_elsewhere_takes_effect_on_the_next_use(token, other_process):
    row, h = token
    other_process("UPDATE penguinmon_apitoken SET revoked_at = now() WHERE id = %s", [row.pk])
    _until(lambda: active_token(h) is None)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE auth_user SET is_active = false WHERE id = {user}",
        "UPDATE penguinmon_apitoken SET expires_at = now() - interval '1 second' WHERE id = {token}",
        "DELETE FROM penguinmon_apitoken WHERE id = {token}",
        "UPDATE penguinmon_apitoken SET token_hash = md5(token_hash) WHERE id = {token}",
    ],
)
def test_changes_that_refuse_the_token(token, other_process, change):
    row, h = token
    other_process(change.format(user=row.user_id, token=row.pk))
    _until(lambda: active_token(h) is None)


def test_a_scope_or_role_change_is_seen_on_the_next_use(token, other_process):
    row, h = token
    other_process("UPDATE penguinmon_apitoken SET scopes = 'ingest' WHERE id = %s", [row.pk])
    _until(lambda: not active_token(h).has_scope("read"))
    group = Group.objects.get_or_create(name="executive")[0]
    other_process(
        "INSERT INTO auth_user_groups (user_id, group_id) VALUES (%s, %s)", [row.user_id, group.pk]
    )
    _until(lambda: "executive" in user_roles(active_token(h).user))


def test_the_last_used_stamp_does_not_empty_the_memory(token, other_process):
    row, h = token
    other_process("UPDATE penguinmon_apitoken SET last_used_at = now() WHERE id = %s", [row.pk])
    time.sleep(0.2)
    with CaptureQueriesContext(connection) as ctx:
        assert active_token(h) is not None
    assert len(ctx.captured_queries) == 0


def test_an_expiry_passing_needs_no_notification(make_user):
    row, raw = ApiToken.issue(user=make_user(), scopes=["read"])
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() + timedelta(seconds=1))
    h = hash_token(raw)
    assert active_token(h) is not None
    with CaptureQueriesContext(connection) as ctx:
        assert active_token(h) is not None
    assert len(ctx.captured_queries) == 0
    time.sleep(1.1)
    assert active_token(h) is None


def test_inside_a_transaction_the_token_is_read_with_its_changes(token):
    row, h = token
    with transaction.atomic():
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
        assert active_token(h) is None
        transaction.set_rollback(True)
    assert active_token(h) is not None


def test_a_new_connection_forgets_what_the_old_one_could_not_see(token, other_process):
    row, h = token
    connection.close()
    other_process(
        "UPDATE penguinmon_apitoken SET revoked_at = now() WHERE id = %s", [row.pk]
    )  # committed while this worker had no connection listening
    assert active_token(h) is None


def test_behind_a_transaction_pooler_every_check_reads_the_database(token, settings):
    settings.DB_TRANSACTION_POOLER = True
    _, h = token
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert active_token(h) is not None
        assert len(ctx.captured_queries) == 1
