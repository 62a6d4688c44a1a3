"""Fixtures for the alerts tests: rules, channels pointing at real servers on 127.0.0.1, and
Celery run in-process (eager) so queued deliveries really execute, retries included."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import AlertRule, Channel
from collectors.store import write_samples
from penguinmon.celery import app as celery_app
from tests.support.smtp import smtp_server_for


@pytest.fixture(autouse=True)
def _notification_grouping(request, settings):
    """Most tests here check who hears about one alert (routing, pacing, channels), so they
    run with one notification per alert (ALERT_GROUPING=0); tests marked ``grouping`` run
    with grouping on, as production does."""
    settings.ALERT_GROUPING = request.node.get_closest_marker("grouping") is not None


@pytest.fixture
def make_rule(db):
    counter = {"n": 0}

    def make(**kwargs) -> AlertRule:
        counter["n"] += 1
        fields = {
            "name": f"test rule {counter['n']}",
            "metric": "smtp_queue_size",
            "aggregation": "last",
            "window_seconds": 120,
            "comparator": ">",
            "threshold": 10_000,
            "severity": "critical",
        }
        fields.update(kwargs)
        rule = AlertRule(**fields)
        rule.full_clean()
        rule.save()
        return rule

    return make


@pytest.fixture
def now():
    # Whole seconds, a little in the past, so samples written "at now" are in every window.
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)


@pytest.fixture
def write():
    def w(metric: str, value: float, ts, **labels) -> None:
        write_samples([{"metric": metric, "labels": labels, "value": value, "ts": ts}])

    return w


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield celery_app
    celery_app.conf.task_always_eager = False


@pytest.fixture
def run_deliveries(django_capture_on_commit_callbacks, eager_celery):
    """Use as ``with run_deliveries(): ...``: deliveries queued inside run before it exits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_channel(db):
    def make(kind: str, name: str | None = None, **fields) -> Channel:
        config = fields.pop("config", {})
        channel = Channel(
            name=name or f"{kind}-{Channel.objects.count() + 1}", kind=kind, config=config, **fields
        )
        channel.full_clean()
        channel.save()
        return channel

    return make


class _Collector:
    def __init__(self):
        self.messages = []
        self.event = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        self.event.set()
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    handler = _Collector()
    with smtp_server_for(handler, settings):
        yield handler


@pytest.fixture
def hook(httpserver):
    """A webhook receiver on 127.0.0.1; calling it returns the JSON bodies it received."""
    httpserver.expect_request("/hook").respond_with_data("ok")

    def received() -> list[dict]:
        return [r.get_json() for r, _ in httpserver.log]

    received.url = httpserver.url_for("/hook")
    return received


@pytest.fixture
def webhook_channel(make_channel, hook):
    """A webhook channel named ``name`` that posts to ``hook``."""

    def make(name: str, **flags) -> Channel:
        return make_channel("webhook", name=name, config={"url": hook.url, "secret": "k"}, **flags)

    return make
