"""Fault tests on real servers of their own: an embedded Postgres and Redis started for this
module (free ports, a temporary PENGUINMON_VAR_DIR — never the shared 54329/63790), gunicorn and
a Celery worker against them. Postgres is restarted during an ingest loop; Redis is stopped
while an alert fires and started again; one channel hangs. Each test prints its counts."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from celery import Celery

from penguinmon import embedded
from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


@dataclass
class Stack:
    var: Path
    pg_port: int
    redis_port: int
    web_port: int
    env: dict
    dsn: str = ""
    token: str = ""
    procs: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            args, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def shell(self, code: str) -> str:
        return self.run(PYTHON, "manage.py", "shell", "-c", code)

    def start(self, *args: str, log: str) -> subprocess.Popen:
        out = open(self.var / log, "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def start_servers(self) -> list[str]:
        """Start (or find running) this stack's Postgres and Redis; their URLs."""
        return self.run(PYTHON, "-m", "penguinmon.embedded", timeout=180).split()

    def restart_postgres(self) -> None:
        # A log file and no captured output: the restarted server must not inherit a pipe
        # this call would then wait on for ever.
        subprocess.run(
            [embedded._pg_bin("pg_ctl"), "-D", str(self.var / "postgres"), "-m", "fast", "-w"]
            + ["-l", str(self.var / "postgres.log"), "restart"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            **embedded._pg_run_kwargs(),
        )

    def stop_redis(self) -> None:
        pid = int((self.var / "redis.pid").read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while embedded._port_open(self.redis_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not embedded._port_open(self.redis_port)


@pytest.fixture(scope="module")
def stack():
    # Not pytest's tmp_path: its base directory is shared with every pytest run on the
    # machine and pruned by them, which could delete this cluster's data directory.
    var = Path(tempfile.mkdtemp(prefix="penguinmon-faults-"))
    pg_port, redis_port, web_port = free_port(), free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PENGUINMON_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTEST"))
    }
    env.update(
        PENGUINMON_VAR_DIR=str(var),
        PENGUINMON_PG_PORT=str(pg_port),
        PENGUINMON_REDIS_PORT=str(redis_port),
        SECRET_KEY="fault-tests-only",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    s = Stack(var, pg_port, redis_port, web_port, env)
    try:
        pg_url, redis_url = s.start_servers()
        env.update(DATABASE_URL=pg_url, REDIS_URL=redis_url)
        s.dsn = pg_url.replace("postgres://", "postgresql://", 1)
        t0 = time.monotonic()
        # One Django start for both (each start costs seconds on a busy machine).
        s.token = s.shell(
            "from django.core.management import call_command\n"
            "call_command('migrate', interactive=False, verbosity=0)\n"
            "from django.contrib.auth.models import User\n"
            "from penguinmon.models import ApiToken\n"
            "u = User.objects.create_user('faults', is_staff=True, is_superuser=True)\n"
            "print(ApiToken.issue(user=u, scopes=['read', 'ingest', 'write'])[1])"
        ).split()[-1]
        s.start(
            str(BIN / "gunicorn"),
            "penguinmon.wsgi:application",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--control-socket",
            str(var / "gunicorn.ctl"),
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "60",
            log="gunicorn.log",
        )

        def serving() -> bool:
            try:
                return requests.get(f"{s.url}/api/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(serving, 120, "gunicorn on the fault stack")
        print(f"\nfault stack up: migrated and serving in {time.monotonic() - t0:.1f} s")
        yield s
    finally:
        for proc in s.procs:
            # Throwaway servers: the whole process group (gunicorn's or Celery's workers
            # too) at once, no graceful wait for a hanging delivery.
            os.killpg(proc.pid, signal.SIGKILL)
        for proc in s.procs:
            proc.wait(timeout=20)
        subprocess.run(
            [PYTHON, "-m", "penguinmon.embedded", "stop"], cwd=ROOT, env=env, capture_output=True
        )
        shutil.rmtree(var, ignore_errors=True)


def test_a_postgres_restart_during_ingest_loses_nothing_accepted(stack):
    statuses: list[int] = []
    bodies: list[tuple[int, str, str | None, str]] = []
    accepted = 0
    stop = threading.Event()
    base = time.time() - 3600
    per_batch = 100

    def loop() -> None:
        nonlocal accepted
        seq = 0
        with requests.Session() as http:
            while not stop.is_set():
                batch = [
                    {
                        "metric": "fault_ingest",
                        "labels": {"loop": "1"},
                        "value": seq + j,
                        "ts": base + (seq + j) * 0.01,
                    }
                    for j in range(per_batch)
                ]
                seq += per_batch
                try:
                    resp = http.post(
                        f"{stack.url}/api/v1/samples",
                        json=batch,
                        headers={"Authorization": f"Bearer {stack.token}"},
                        timeout=60,
                    )
                except requests.RequestException as exc:
                    statuses.append(-1)
                    bodies.append((-1, repr(exc)[:200], None, ""))
                    time.sleep(0.2)
                    continue
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    accepted += resp.json()["written"]
                else:
                    bodies.append(
                        (
                            resp.status_code,
                            resp.text[:200],
                            resp.headers.get("Retry-After"),
                            resp.headers.get("Content-Type", ""),
                        )
                    )
                    time.sleep(0.2)

    writer = threading.Thread(target=loop)
    writer.start()
    time.sleep(2)
    before = len(statuses)
    stack.restart_postgres()
    time.sleep(3)
    stop.set()
    writer.join(timeout=120)

    with psycopg.connect(stack.dsn) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM collectors_sample x JOIN collectors_series s "
            "ON s.id = x.series_id WHERE s.name = 'fault_ingest'"
        ).fetchone()[0]
    five = [s for s in statuses if s >= 500]
    print(
        f"\npostgres restart during ingest: {len(statuses)} batches ({before} before the "
        f"restart), {statuses.count(200)} accepted = {accepted} samples, {stored} rows stored, "
        f"{len(five)} 5xx (all JSON 503 + Retry-After: "
        f"{all(b[0] == 503 and b[2] == '5' and 'json' in b[3] for b in bodies)}), "
        f"{statuses.count(-1)} connection errors"
    )
    assert stored == accepted > 0, bodies[:3]
    assert all(s in (200, 503) for s in statuses), bodies[:5]
    for _, body, retry_after, content_type in bodies:
        assert content_type.startswith("application/json"), body
        assert json.loads(body)["error"].startswith("temporarily unavailable")
        assert retry_after == "5"
    assert statuses[-1] == 200  # ingest resumed by itself after the restart


def test_reads_after_a_postgres_restart_answer_on_the_first_try(stack):
    """Every gunicorn thread holds a persistent connection; after a restart each one is found
    closed before its next request's first query (the backend's health check), so no reader
    sees an error."""

    def reads(n: int) -> list[int]:
        def one(_) -> int:
            with requests.Session() as http:
                return http.get(
                    f"{stack.url}/api/v1/query",
                    params={"metric": "fault_reads", "step": "1m"},
                    headers={"Authorization": f"Bearer {stack.token}"},
                    timeout=60,
                ).status_code

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))

    assert set(reads(64)) == {200}  # 2 workers x 4 threads, each with its connection
    stack.restart_postgres()
    after = reads(64)
    assert after == [200] * 64, after


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _receiver(hang: bool):
    """A webhook receiver; ``got`` holds (arrival time, body) of each call. A hanging one
    answers after 15 s, longer than the channel's 10 s read timeout."""
    got: list[tuple[float, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append((time.monotonic(), json.loads(body or b"{}")))
            if hang:
                time.sleep(15)
            try:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")
            except BrokenPipeError:
                pass  # the channel gave up waiting (the point of the hanging receiver)

        def log_message(self, *args):
            pass

    server = _Receiver(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def test_an_alert_firing_while_redis_is_down_is_notified_when_it_returns(stack):
    ok_server, received = _receiver(hang=False)
    hang_server, hung_calls = _receiver(hang=True)
    try:
        stack.start(
            str(BIN / "celery"),
            "-A",
            "penguinmon",
            "worker",
            "-c",
            "2",
            "-Q",
            "celery",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            log="worker.log",
        )
        stack.stop_redis()
        # Redis fails between the state change and the enqueue: the evaluation fires the
        # alert and the group flush (ALERT_GROUPING is on by default) decides to send it.
        fired = stack.shell(
            "from alerts.models import AlertRule, Channel\n"
            f"for name, port in (('pager', {ok_server.server_port}), "
            f"('hung', {hang_server.server_port})):\n"
            "    Channel.objects.create(name=name, kind='webhook', on_call=True, config={"
            "'url': f'http://127.0.0.1:{port}/', 'secret': 'k'})\n"
            "AlertRule.objects.create(name='fault queue', metric='smtp_queue_size', "
            "aggregation='last', window_seconds=120, threshold=10000, severity='critical', "
            "label_filters={'service': 'fault'})\n"
            "from datetime import timedelta\n"
            "from django.utils import timezone\n"
            "from alerts import grouping\n"
            "from alerts.evaluation import evaluate_rules\n"
            "from alerts.models import Alert, AlertRule, OutboxMessage\n"
            "from collectors.store import write_samples\n"
            "write_samples([{'metric': 'smtp_queue_size', 'labels': {'service': 'fault'}, "
            "'value': 20000}])\n"
            "s = evaluate_rules(rules=[AlertRule.objects.get(name='fault queue')])\n"
            "f = grouping.flush(now=timezone.now() + timedelta(seconds=31))\n"
            "a = Alert.objects.get(rule__name='fault queue')\n"
            "print(s.fired, f.notifications, a.state, a.notified, "
            "OutboxMessage.objects.filter(done_at=None).count())"
        ).split()[-5:]
        assert fired == ["1", "2", "firing", "True", "2"]  # decided, kept in the outbox

        stack.start_servers()  # Redis is back
        back = time.monotonic()
        # What beat does every 15 s: one drain of the outbox.
        with Celery(broker=stack.env["REDIS_URL"]) as beat:
            beat.send_task("alerts.tasks.drain_outbox")
        wait_until(lambda: received, 60, "the notification after Redis returned", every=0.1)
        delay = received[0][0] - back
        assert received[0][1]["event"] == "trigger"
        assert received[0][1]["service"] == "fault"
        # The hanging channel times out and is recorded; the other was not held up by it.

        def deliveries_with_the_hung_one() -> list:
            with psycopg.connect(stack.dsn) as conn:
                rows = conn.execute(
                    "SELECT c.name, d.status, d.error FROM alerts_delivery d "
                    "JOIN alerts_channel c ON c.id = d.channel_id ORDER BY d.id"
                ).fetchall()
            return rows if any(d[0] == "hung" for d in rows) else []

        deliveries = wait_until(
            deliveries_with_the_hung_one, 60, "the hanging channel's delivery", every=0.5
        )
        sent = [d for d in deliveries if d[1] == "sent"]
        print(
            f"\nredis down while firing: 1 alert fired, 2 notifications kept in the outbox, "
            f"{len(received)} delivered to the working channel {delay:.1f} s after Redis "
            f"returned, hanging channel called {len(hung_calls)} time(s), deliveries: "
            f"{[(d[0], d[1]) for d in deliveries]}"
        )
        assert ("pager", "sent", "") in deliveries and len(sent) == 1
        assert len(received) == 1  # once, not again from a stale task
        hung = [d for d in deliveries if d[0] == "hung"]
        assert hung and hung[0][1] == "retrying" and "timed out" in hung[0][2].lower()
        # The working channel did not wait for the hanging one's 10 s timeout.
        assert hung_calls and received[0][0] < hung_calls[0][0] + 10
    finally:
        ok_server.shutdown()
        hang_server.shutdown()
