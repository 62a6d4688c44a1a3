"""Label sets of alerts: their canonical text (an alert's identity within its rule)."""

from __future__ import annotations


def label_key(labels: dict) -> str:
    """Canonical text of a label set: the identity of one alert within its rule."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))
