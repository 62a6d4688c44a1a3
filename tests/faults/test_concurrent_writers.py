"""8 writers post request timings for the same minute, routes in different orders, to a
live (threaded) server at once: no batch fails (rows are upserted in one order and a
deadlock victim is retried), and every accepted request is stored exactly once."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest
import requests
from django.db import connection

from penguinmon.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS, BATCHES, ROUTES = 8, 12, 40


def test_eight_writers_on_one_minute_all_succeed_and_nothing_is_lost(live_server, make_user):
    _, token = ApiToken.issue(user=make_user(staff=True), scopes=["ingest"])
    minute = datetime.now(UTC).replace(second=0, microsecond=0).timestamp()
    statuses: list[int] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as http:
            for _ in range(BATCHES):
                routes = [f"/v1/r{i}" for i in range(ROUTES)]
                rng.shuffle(routes)
                batch = [
                    {
                        "service": "api",
                        "route": r,
                        "method": "GET",
                        "status": 200,
                        "duration_ms": 50,
                        "ts": minute + 1,
                    }
                    for r in routes
                ]
                resp = http.post(
                    f"{live_server.url}/api/v1/requests",
                    json=batch,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=120,
                )
                with lock:
                    statuses.append(resp.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    accepted = statuses.count(200)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT sum(h.count) FROM collectors_histogram_1m h JOIN collectors_series s "
            "ON s.id = h.series_id WHERE s.name = 'http_request_duration_ms'"
        )
        stored = cur.fetchone()[0]
        cur.execute(
            "SELECT sum(x.value) FROM collectors_sample x JOIN collectors_series s "
            "ON s.id = x.series_id WHERE s.name = 'http_requests'"
        )
        counted = cur.fetchone()[0]
    print(
        f"\nconcurrent writers: {len(statuses)} batches, {accepted} accepted, "
        f"{sum(1 for s in statuses if s >= 500)} 5xx, {stored} requests stored in histograms, "
        f"{counted:.0f} in counters"
    )
    assert statuses == [200] * WRITERS * BATCHES
    assert stored == counted == WRITERS * BATCHES * ROUTES
