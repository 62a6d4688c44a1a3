"""The embedded Postgres launcher recovers from what a crash leaves behind."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from penguinmon import embedded
from tests.support.net import free_port


def test_a_postmaster_pid_naming_another_process_is_removed(tmp_path):
    pidfile = tmp_path / "postmaster.pid"
    pidfile.write_text(f"{os.getpid()}\n{tmp_path}\n")  # alive, but not a postgres
    assert embedded.clear_stale_postmaster_pid(tmp_path)
    assert not pidfile.exists()
    pidfile.write_text("garbage")
    assert embedded.clear_stale_postmaster_pid(tmp_path)
    assert not embedded.clear_stale_postmaster_pid(tmp_path)  # nothing left to clear


def test_the_pid_of_a_running_postmaster_is_kept(tmp_path):
    running = embedded.VAR_DIR / "postgres" / "postmaster.pid"
    if not running.exists():
        pytest.skip("the suite runs against an external Postgres")
    (tmp_path / "postmaster.pid").write_text(running.read_text())
    assert not embedded.clear_stale_postmaster_pid(tmp_path)
    assert (tmp_path / "postmaster.pid").exists()


def test_a_cluster_starts_after_a_crash_left_a_reused_pid(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "VAR_DIR", tmp_path)
    monkeypatch.setattr(embedded, "PG_PORT", free_port())
    embedded.ensure_postgres()
    pgdata = tmp_path / "postgres"
    try:
        # A crash: the server dies without removing its lock file, and its PID is reused by
        # another process of the same user (Postgres itself only ignores dead PIDs).
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 9)
        while embedded._port_open(embedded.PG_PORT):
            time.sleep(0.05)
        other = subprocess.Popen(["sleep", "60"], **embedded._pg_run_kwargs())
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        (pgdata / "postmaster.pid").write_text("\n".join([str(other.pid), *lines[1:]]) + "\n")
        try:
            url = embedded.ensure_postgres()
        finally:
            other.kill()
            other.wait()
        psql = [embedded._pg_bin("psql"), url, "-tAc", "SELECT current_user"]
        assert subprocess.run(psql, capture_output=True, text=True).stdout.strip() == "penguinmon"
    finally:
        subprocess.run(
            [embedded._pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            **embedded._pg_run_kwargs(),
        )


def _stop(pgdata) -> None:
    subprocess.run(
        [embedded._pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
        capture_output=True,
        **embedded._pg_run_kwargs(),
    )


def _psql_as(url: str, sql: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(
        [embedded._pg_bin("psql"), url, "-tAc", sql], capture_output=True, text=True, env=env
    )


@pytest.fixture
def own_var(tmp_path, monkeypatch):
    """A var dir and port of our own: the shared servers are never touched."""
    monkeypatch.setattr(embedded, "VAR_DIR", tmp_path)
    monkeypatch.setattr(embedded, "PG_PORT", free_port())
    yield tmp_path
    _stop(tmp_path / "postgres")


def test_a_new_cluster_needs_a_password_and_the_app_role_is_no_superuser(own_var):
    url = embedded.ensure_postgres()
    port = embedded.PG_PORT
    assert embedded.app_password() in url
    assert oct((own_var / "postgres_password").stat().st_mode & 0o777) == "0o600"
    who = _psql_as(url, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    assert who.stdout.strip() == "penguinmon|f"
    for user in ("penguinmon", "postgres"):
        refused = _psql_as(f"postgres://{user}@127.0.0.1:{port}/postgres", "SELECT 1")
        assert refused.returncode != 0 and "password" in refused.stderr
        wrong = _psql_as(f"postgres://{user}:wrong@127.0.0.1:{port}/postgres", "SELECT 1")
        assert "password authentication failed" in wrong.stderr
    # What the app and its tests need without a superuser: its own database, test databases,
    # and pg_stat_statements (created by the launcher, also in template1 for test databases).
    assert _psql_as(url, "CREATE TABLE t (id int); DROP TABLE t").returncode == 0
    assert _psql_as(url, "CREATE DATABASE test_x").returncode == 0
    test_db = url.rsplit("/", 1)[0] + "/test_x"
    assert _psql_as(test_db, "SELECT count(*) >= 0 FROM pg_stat_statements").stdout.strip() == "t"
    assert _psql_as(url, "SELECT 1 FROM pg_stat_statements LIMIT 1").returncode == 0


def test_a_trust_cluster_from_an_older_version_is_migrated_on_start_with_its_data(own_var):
    pgdata, port = own_var / "postgres", embedded.PG_PORT
    pgdata.mkdir()
    kwargs = embedded._pg_run_kwargs()
    if kwargs:
        embedded._open_for_others(own_var)
        os.chown(pgdata, kwargs["user"], kwargs["group"])
    # What the earlier launcher made: trust logins and a superuser app role.
    initdb = [embedded._pg_bin("initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust"]
    subprocess.run(initdb, check=True, capture_output=True, **kwargs)
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write(
            "unix_socket_directories = ''\nshared_preload_libraries = 'pg_stat_statements'\n"
        )
    log = own_var / "postgres.log"
    log.touch()
    if kwargs:
        os.chown(log, kwargs["user"], kwargs["group"])
    ctl = [embedded._pg_bin("pg_ctl"), "-D", str(pgdata), "-w", "-o", f"-p {port} -h 127.0.0.1"]
    subprocess.run([*ctl, "-l", str(log), "start"], check=True, capture_output=True, **kwargs)
    old_url = f"postgres://penguinmon@127.0.0.1:{port}/penguinmon"
    admin = f"postgres://postgres@127.0.0.1:{port}/postgres"
    assert _psql_as(admin, "CREATE ROLE penguinmon LOGIN SUPERUSER").returncode == 0
    assert _psql_as(admin, "CREATE DATABASE penguinmon OWNER penguinmon").returncode == 0
    assert (
        _psql_as(old_url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')").returncode
        == 0
    )
    # A running old cluster is left alone: reached without a password as before.
    assert embedded.ensure_postgres() == old_url
    subprocess.run([*ctl, "stop"], check=True, capture_output=True, **kwargs)

    url = embedded.ensure_postgres()

    assert url != old_url and embedded.app_password() in url
    assert _psql_as(url, "SELECT v FROM kept").stdout.strip() == "x"
    assert _psql_as(url, "INSERT INTO kept VALUES ('y')").returncode == 0
    assert (
        _psql_as(url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").stdout.strip()
        == "f"
    )
    assert _psql_as(old_url, "SELECT 1").returncode != 0
    assert _psql_as(admin, "SELECT 1").returncode != 0
