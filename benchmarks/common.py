"""Helpers shared by benchmarks: a real gunicorn server on the bench database, tokens, timing."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_dir() -> Path:
    """Where benchmarks keep what they build once and reuse (datasets, Prometheus blocks) and
    the results: var/bench, or under PENGUINMON_VAR_DIR."""
    return Path(os.environ.get("PENGUINMON_VAR_DIR", ROOT / "var")) / "bench"


PROMTOOL = "/usr/bin/promtool"


def promtool_backfill(openmetrics: Path, blocks: Path) -> float:
    """Write Prometheus TSDB blocks from an OpenMetrics file; returns the seconds it took. One
    block per 720 h instead of per 2 h: promtool re-reads the input for every block."""
    began = time.monotonic()
    subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            "--quiet",
            str(openmetrics),
            str(blocks),
        ],
        check=True,
    )
    return time.monotonic() - began


# Every table of the metric store that holds a series' points: raw samples, the rollups and
# the latency histograms. A benchmark removes its own series' points from all of them (the
# bench database is shared between benchmarks, so nothing is truncated).
STORE_TABLES = (
    "collectors_sample",
    "collectors_rollup_1m",
    "collectors_rollup_1h",
    "collectors_rollup_1d",
    "collectors_histogram_1m",
    "collectors_histogram_1h",
    "collectors_histogram_1d",
)


def delete_points(ids: list[int]) -> None:
    """Delete the points of series ``ids`` from every store table (the series rows stay)."""
    from django.db import connection

    with connection.cursor() as cur:
        for table in STORE_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", [ids])


def up(response) -> bool:
    """Our server is up once /api/health answers, healthy (200) or not (503)."""
    return response.status_code in (200, 503)


def wait_for_http(
    url: str,
    failure: str,
    *,
    ok: Callable[[Any], bool] = lambda response: True,
    seconds: float = 60,
    timeout: float = 10,
    every: float = 0.2,
) -> None:
    """Poll ``url`` until a response satisfies ``ok``; raise ``failure`` after ``seconds``."""
    import requests

    deadline = time.monotonic() + seconds
    while True:
        try:
            if ok(requests.get(url, timeout=timeout)):
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(every)


WEB_APP = "penguinmon.wsgi:application"


def procfile_command(name: str, *, port: int | None = None, app: str = WEB_APP) -> list[str]:
    """The Procfile's ``name`` line as `make run` runs it, as an argument list: the venv path
    made absolute, ``$(hostname)`` and ``${VAR:-default}`` expanded, and for ``web`` our
    ``port`` and no access log on the terminal (it is still formatted and written); ``app``
    serves another WSGI application with the same server settings."""
    line = next(
        ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith(f"{name}:")
    )
    command = (
        line.split(":", 1)[1]
        .replace("$(hostname)", socket.gethostname())
        .replace(
            "${PENGUINMON_LOCATION:-default}", os.environ.get("PENGUINMON_LOCATION") or "default"
        )
    )
    args = shlex.split(command)
    args[0] = str(ROOT / args[0])
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--bind" and port is not None:
            out += ["--bind", f"127.0.0.1:{port}"]
            skip = True
        elif arg == "--access-logfile":
            out += ["--access-logfile", "/dev/null"]
            skip = True
        elif arg == "--control-socket":
            skip = True  # one per checkout (var/gunicorn.ctl); make run's may be live
        elif arg == WEB_APP:
            out.append(app)
        else:
            out.append(arg)
    if app != WEB_APP and app not in out:
        raise RuntimeError(f"the Procfile's {name} line does not serve {WEB_APP}")
    return out


@contextmanager
def procfile_web(app: str = WEB_APP, env: dict[str, str] | None = None, ready: str = "/api/health"):
    """The Procfile's web server (gunicorn, its workers and threads, DEBUG off, static files
    through whitenoise) on a free port and the bench database; yields its base URL once
    ``ready`` answers (/api/health: healthy or not). ``app`` and ``env``: another WSGI
    application on the same server settings, with these variables added."""
    port = free_port()
    proc = subprocess.Popen(
        procfile_command("web", port=port, app=app),
        cwd=ROOT,
        env={**os.environ, "PENGUINMON_TESTING": "0", "DEBUG": "0", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + ready, "gunicorn did not start", ok=up, timeout=10, every=0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


@contextmanager
def worker_and_beat():
    """Run the Procfile's Celery worker and beat on the bench database for the duration, as
    `make run` does: probes, host sampling, rollups, rule evaluation and the outbox drain
    compete for the same 2 cores as the server being measured (the issues' goals are stated
    for that load)."""
    env = {**os.environ, "PENGUINMON_TESTING": "0", "DEBUG": "0"}
    procs = [
        subprocess.Popen(
            procfile_command(name),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("worker", "beat")
    ]
    try:
        time.sleep(5)  # the worker connects and beat sends its first round of tasks
        dead = [" ".join(p.args[:4]) for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"the Procfile's worker or beat exited at start: {dead}")
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@contextmanager
def gunicorn(*, workers: int = 1, threads: int = 1):
    """Start gunicorn (same settings and database as the benchmark) and yield its base URL."""
    port = free_port()
    env = {**os.environ, "PENGUINMON_TESTING": "0", "DEBUG": "0"}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "penguinmon.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", "gunicorn did not start", ok=up)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)


def bench_token(scopes: list[str]) -> str:
    from django.contrib.auth import get_user_model

    from penguinmon.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    _, raw = ApiToken.issue(user=user, scopes=scopes, name="benchmark")
    return raw


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def row(name, value, unit, *, reference="", reference_value=None, target="") -> dict:
    """One result line; ratio is always PenguinMon / reference."""
    ratio = value / reference_value if reference_value else None
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "reference": reference,
        "reference_value": reference_value,
        "ratio": ratio,
        "target": target,
    }
