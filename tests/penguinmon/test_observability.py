import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from penguinmon import observability


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    accepted = []
    stop = threading.Event()

    def loop():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def test_posthog_is_off_without_a_key(settings):
    settings.POSTHOG_API_KEY = ""
    assert observability.posthog_client() is None
    observability.capture_event(distinct_id="u1", event="page_viewed")  # no error, no client


def test_posthog_never_blocks_the_caller_when_its_server_hangs(settings, silent_server):
    port, accepted = silent_server
    settings.POSTHOG_API_KEY = "phc_test"
    settings.POSTHOG_HOST = f"http://127.0.0.1:{port}"
    observability._posthog_client = None
    try:
        began = time.monotonic()
        for _ in range(20):
            observability.capture_event(
                distinct_id="u1", event="alert_acknowledged", properties={"id": 1}
            )
        assert time.monotonic() - began < 1.0  # events are queued; sending happens off-thread
        observability.posthog_client().flush()  # bounded by the client's timeout, not forever
        assert accepted, "the client really tried to send to the configured host"
    finally:
        observability.posthog_client().shutdown()
        observability._posthog_client = None


@pytest.mark.skipif(
    not shutil.which("docker-compose"), reason="docker-compose is installed by `make test`"
)
def test_docker_compose_file_is_valid():
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["docker-compose", "-f", str(root / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        env={"POSTGRES_PASSWORD": "x", "SECRET_KEY": "y", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"postgres", "redis", "web", "worker", "beat"}


@pytest.mark.django_db(transaction=True)
def test_audited_actions_and_logins_reach_posthog(settings, httpserver, make_user, client):
    """Audited user actions and logins are sent as product-analytics events once committed."""
    import gzip
    import json

    from penguinmon.audit import audit

    received = []

    def capture(request):
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        received.extend(json.loads(body).get("batch", []))
        return "ok"

    httpserver.expect_request("/batch/", method="POST").respond_with_handler(capture)
    settings.POSTHOG_API_KEY = "phc_test"
    settings.POSTHOG_HOST = httpserver.url_for("").rstrip("/")
    observability._posthog_client = None
    try:
        user = make_user("operations", username="olga", password="a-long-pass-phrase")
        client.post("/accounts/login/", {"username": "olga", "password": "a-long-pass-phrase"})
        audit(actor=user, action="alert.acknowledge", target=user, comment="test")
        observability.posthog_client().flush()
    finally:
        observability.posthog_client().shutdown()
        observability._posthog_client = None
    events = {(e["event"], e["distinct_id"]) for e in received}
    assert ("penguinmon user logged in", "olga") in events
    assert ("penguinmon alert.acknowledge", "olga") in events
