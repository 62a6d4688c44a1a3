"""Fixtures the collectors tests share."""

from __future__ import annotations

import pytest

from collectors.monitoring.config import ensure_default_services


@pytest.fixture
def default_services():
    """The default services and probes, as on a fresh install (some tests delete services:
    test_health starts from none)."""
    ensure_default_services()
