"""Prometheus remote_write 1.0 receiver: snappy-compressed protobuf ``WriteRequest`` → store.

What maps onto the store, and how:
- each ``TimeSeries`` is one series: ``__name__`` is the metric, the other labels its labels;
  its samples (ms timestamps) are written as they are. Classic histograms and summaries arrive
  as plain series (``x_bucket{le=…}``, ``x_sum``, ``x_count``) and are stored like any other.
- native histograms keep their count and sum, as ``<name>_count`` and ``<name>_sum``; their
  sparse buckets are not stored (the store's histograms are fixed per-minute latency buckets).
- NaN values (Prometheus' staleness markers, empty summaries) are skipped: the store holds
  finite numbers, and "this series ended" is what the store's windows already see as no data.
- exemplars and metadata are ignored.

A request is all or nothing, like every other batch: the first invalid series (a label the
store refuses, a timestamp outside the accepted range) makes it a 400 naming that series, and
nothing is written. Prometheus does not retry a 4xx, which is right for data that can never be
accepted; database trouble is a 5xx, which it retries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cramjam
from django.conf import settings
from django.db import transaction
from google.protobuf.message import DecodeError

from collectors.receivers.common import ReceiverError, chunks
from collectors.receivers.remote_write_pb import WriteRequest
from collectors.store import IngestError, write_samples

# A WriteRequest of Prometheus' default max_samples_per_send (2,000) is ~100 KB uncompressed;
# 64 MB leaves room for large vmagent batches while bounding what one request can allocate.
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024


class RemoteWriteError(ReceiverError):
    """A remote_write request refused; nothing of it was written."""


@dataclass
class WriteResult:
    series: int = 0
    samples: int = 0
    skipped_nan: int = 0
    histograms: int = 0


def decode(body: bytes, *, encoding: str = "snappy") -> WriteRequest:
    if encoding.lower() != "snappy":
        raise RemoteWriteError(f"unsupported Content-Encoding {encoding!r}: send snappy", 415)
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception:
        raise RemoteWriteError("body is not a snappy block (corrupt or truncated frame)") from None
    if size > MAX_UNCOMPRESSED_BYTES:
        raise RemoteWriteError(
            f"uncompressed size {size} exceeds the limit of {MAX_UNCOMPRESSED_BYTES} bytes", 413
        )
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception:
        raise RemoteWriteError("body is not a snappy block (corrupt or truncated frame)") from None
    try:
        return WriteRequest.FromString(raw)
    except DecodeError:
        raise RemoteWriteError("body is not a protobuf WriteRequest") from None


def _series_name(labels: dict[str, str], index: int) -> str:
    name = labels.pop("__name__", "")
    if not name:
        raise RemoteWriteError(f"timeseries[{index}]: no __name__ label")
    return name


def to_items(request: WriteRequest) -> tuple[list[dict], WriteResult]:
    """The store's series-grouped items for a decoded request."""
    result = WriteResult(series=len(request.timeseries))
    items: list[dict] = []
    for i, ts in enumerate(request.timeseries):
        labels = {label.name: label.value for label in ts.labels}
        name = _series_name(labels, i)
        points = []
        for sample in ts.samples:
            if math.isnan(sample.value) or math.isinf(sample.value):
                result.skipped_nan += 1
                continue
            points.append([sample.timestamp / 1000, sample.value])
        if points:
            items.append({"metric": name, "labels": labels, "points": points, "_index": i})
            result.samples += len(points)
        if ts.histograms:
            counts, sums = [], []
            for h in ts.histograms:
                count = h.count_int if h.WhichOneof("count") == "count_int" else h.count_float
                when = h.timestamp / 1000
                counts.append([when, float(count)])
                if math.isfinite(h.sum):
                    sums.append([when, h.sum])
            result.histograms += len(ts.histograms)
            items.append(
                {"metric": f"{name}_count", "labels": labels, "points": counts, "_index": i}
            )
            if sums:
                items.append(
                    {"metric": f"{name}_sum", "labels": labels, "points": sums, "_index": i}
                )
            result.samples += len(counts) + len(sums)
    return items, result


def receive(body: bytes, *, encoding: str = "snappy") -> WriteResult:
    """Decode and store one remote_write request atomically."""
    items, result = to_items(decode(body, encoding=encoding))
    with transaction.atomic():
        for batch in chunks(items, settings.INGEST_MAX_BATCH):
            plain = [{k: v for k, v in item.items() if k != "_index"} for item in batch]
            try:
                write_samples(plain, source="remote_write")
            except IngestError as exc:
                if exc.index is None:
                    raise RemoteWriteError(str(exc)) from exc
                item = batch[exc.index]
                # The store names its own item ("samples[3].labels: ..."); the sender knows
                # the series by its position in the WriteRequest and its name.
                detail = str(exc).split(": ", 1)[-1]
                raise RemoteWriteError(
                    f"timeseries[{item['_index']}] ({item['metric']}): "
                    f"{exc.field or 'sample'}: {detail}"
                ) from exc
    return result
