"""Which values a label takes in the store: the choices of the dashboards' pickers."""

from __future__ import annotations

from django.db.models.fields.json import KeyTextTransform

from collectors.models import Series
from collectors.store.catalog import METRICS, metric_labels

MAX_VALUES = 200


def label_values(label: str) -> list[str]:
    """Distinct values of ``label`` over the series of every catalogued metric carrying it."""
    metrics = [name for name in METRICS if label in metric_labels(name)]
    if not metrics:
        return []
    values = (
        Series.objects.filter(name__in=metrics, labels__has_key=label)
        .annotate(value=KeyTextTransform(label, "labels"))
        .values_list("value", flat=True)
        .distinct()
        .order_by("value")[:MAX_VALUES]
    )
    return [v for v in values if v]
