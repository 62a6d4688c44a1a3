from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class Series(models.Model):
    """One time series: a metric name plus a label set. Samples reference it by id."""

    class Kind(models.TextChoices):
        GAUGE = "gauge"
        COUNTER = "counter"  # per-interval counts: sum over a window is the total
        HISTOGRAM = "histogram"  # latency distribution stored as per-minute bucket counts

    name = models.CharField(max_length=200, db_index=True)
    labels = models.JSONField(default=dict)
    # name + canonical (sorted) labels; the identity used to find a series on ingest.
    key = models.TextField(unique=True)
    unit = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.GAUGE)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a batch last wrote to it, to the hour (ingest refreshes it at most hourly per
    # process): per-metric limits count recently seen series, pruning removes idle ones.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "series"
        indexes = [
            GinIndex(fields=["labels"], name="series_labels_gin"),
            models.Index(fields=["name", "last_seen_at"], name="series_name_seen_idx"),
            models.Index(fields=["last_seen_at"], name="series_seen_idx"),
        ]

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"


class ExponentialState(models.Model):
    """The last cumulative OTLP exponential histogram point of one stream merged into the
    latency histograms, as sent: what its next point is diffed against (its sparse buckets
    are not stored as series, unlike explicit buckets' ``_bucket{le}`` series). Keyed by its
    ``_count`` series' key; pruned with idle series."""

    stream = models.TextField(primary_key=True)
    at = models.DateTimeField(db_index=True)  # the point's timestamp
    scale = models.SmallIntegerField()
    zero_threshold = models.FloatField()
    zero_count = models.BigIntegerField()
    offset = models.IntegerField()  # index of counts[0]
    counts = ArrayField(models.BigIntegerField())
    sum = models.FloatField(null=True)

    def __str__(self) -> str:
        return self.stream
