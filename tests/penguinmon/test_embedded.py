"""The embedded Postgres launcher recovers from what a crash leaves behind."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from penguinmon import embedded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    monkeypatch.setattr(embedded, "PG_PORT", _free_port())
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
