"""OTLP HTTP-server duration histograms → the store's request-latency histograms.

Which histograms: those named ``http.server.request.duration`` (semantic conventions ≥ 1.23,
unit ``s``) or ``http.server.duration`` (older, ``ms``), with a time unit (UCUM as OTel uses
it: ``ns``, ``us``/``µs``, ``ms``, ``s``, ``min``, ``h``). They describe exactly what
``POST /api/v1/requests`` records, one server request each. Other duration histograms
(``db.client.operation.duration``, a job's run time) are not requests: folded in, they would
inflate the request rates and error ratios of the dashboards and SLOs, so they stay classic
``_bucket``/``_count``/``_sum`` series only. Histograms with any other unit are never merged.

Labels: ``service.name`` → service (OTel's ``unknown_service`` when absent), ``http.route`` →
route (``(no route)`` when absent, as for unmatched paths), ``http.request.method`` (or
``http.method``) → method (``_OTHER`` when absent or longer than 16 characters),
``http.response.status_code`` (or ``http.status_code``) → status class ``Nxx``; no status but
an ``error.type`` → ``5xx`` (the request failed before a response); neither → not merged. So
the merged requests count in ``http_request_duration_ms`` and ``http_requests{status_class}``
exactly like pushed timings: p50/p95/p99, error rates and SLO latency SLIs read them.

Counts: a delta point's counts go into the minute of its timestamp. A cumulative point's delta
is taken against the previous point of the same stream as the receiver stored it (its
``_bucket{le}``/``_count``/``_sum`` series: the state it already keeps), read before this
request writes; a point with no earlier one counts in full (what the SDK saw since its start),
a count that went down is a restart and changed bucket bounds a new stream (the point counts
in full), and a point already stored
at the same timestamp (a retried export) is not merged again. Exponential histograms' sparse
buckets are not stored as series, so a cumulative exponential stream's last point is kept as
sent (``ExponentialState``) and the next one is diffed against it at the coarser of their two
scales, exactly (SDKs lower the scale as the range of values grows).

Re-bucketing: each OTLP bucket's count is spread over the store buckets it overlaps in
proportion to the overlap's width in log space (log-linear: the same assumption the store's
quantile estimator makes inside its own buckets), linearly for a bucket starting at 0. The
open first and last OTLP buckets are closed with the point's ``min``/``max`` when sent; else
the first starts at 0 and the last is put just above its lower bound. Counts are whole: each
OTLP bucket's share is rounded by largest remainder, so every bucket's count — and the total —
is exact. Error this adds: no more than the OTLP buckets already have. A quantile read from the
merged histogram lies in the OTLP bucket holding the true quantile, widened by one store bucket
(a factor 2^(1/4), +19%) on each side — the error of ``histogram_quantile`` on the OTLP buckets
themselves, plus the store's own. With the default semconv bounds (0.005 … 10 s) that is the
OTLP bucket's width (e.g. 250–500 ms); exponential histograms at scale ≥ 2 (buckets ≤ +19%)
keep the store's own ±19%.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db import connection

from collectors.models import ExponentialState
from collectors.store import histogram
from collectors.store.series import series_key

DURATION_NAMES = frozenset({"http.server.request.duration", "http.server.duration"})
MS_PER_UNIT = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,  # MICRO SIGN
    "μs": 1e-3,  # GREEK SMALL LETTER MU
    "ms": 1.0,
    "s": 1000.0,
    "min": 60_000.0,
    "h": 3_600_000.0,
}
NO_ROUTE = "(no route)"
# Advisory-lock namespace for cumulative histogram streams (apart from the delta-sum locks).
_STREAM_LOCK_BASE = 9 << 40
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAME_POINT = timedelta(milliseconds=1)


@dataclass
class Point:
    """One OTLP histogram point headed for the latency histograms."""

    name: str  # the sanitised metric name of its classic series
    labels: dict[str, str]  # the labels of its classic series
    request: tuple[str, str, str, str]  # service, route, method, status class
    when: float
    delta: bool
    pieces: list[tuple[float, float, int]]  # (lower, upper] in ms, count
    les: list[str]  # the le labels of its _bucket series (explicit buckets only)
    sum_ms: float | None
    factor: float  # ms per unit of its stored _sum series
    exponential: Exponential | None = None  # as sent, for a cumulative exponential point


def ms_factor(name: str, unit: str) -> float | None:
    """Milliseconds per unit when this metric merges into the latency histograms, else None."""
    if name not in DURATION_NAMES:
        return None
    return MS_PER_UNIT.get(unit.strip())


def _request(labels: dict[str, str]) -> tuple[str, str, str, str] | None:
    status = labels.get("http_response_status_code") or labels.get("http_status_code")
    if status and status.isdigit() and 100 <= int(status) <= 599:
        status_class = f"{int(status) // 100}xx"
    elif labels.get("error_type"):
        status_class = "5xx"
    else:
        return None
    service = labels.get("service") or "unknown_service"
    route = labels.get("http_route") or NO_ROUTE
    if len(service) > 200 or len(route) > 200:
        return None  # POST /api/v1/requests' limits
    method = (labels.get("http_request_method") or labels.get("http_method") or "").upper()
    if not method or len(method) > 16:
        method = "_OTHER"
    return service, route, method, status_class


def explicit_point(name, labels, factor, p, *, delta, when) -> Point | None:
    """An explicit-bucket histogram point (already checked: bounds + 1 counts)."""
    request = _request(labels)
    if request is None or not p.bucket_counts:
        return None
    bounds = [float(b) * factor for b in p.explicit_bounds]
    low = max(0.0, p.min * factor) if p.HasField("min") else 0.0
    high = p.max * factor if p.HasField("max") else -math.inf
    pieces = []
    for i, count in enumerate(p.bucket_counts):
        lo = max(0.0, bounds[i - 1]) if i else (low if not bounds or low < bounds[0] else 0.0)
        if i < len(bounds):
            hi = max(lo, bounds[i])
        else:  # the open last bucket: up to max, else just above its lower bound
            hi = high if high > lo else math.nextafter(lo, math.inf)
        pieces.append((lo, hi, int(count)))
    return Point(
        name,
        labels,
        request,
        when,
        delta,
        pieces,
        [*(repr(float(b)) for b in p.explicit_bounds), "+Inf"],
        p.sum * factor if p.HasField("sum") else None,
        factor,
    )


@dataclass(frozen=True)
class Exponential:
    """An exponential histogram point's positive half as sent (durations are never negative)."""

    scale: int
    zero_threshold: float
    zero_count: int
    offset: int
    counts: tuple[int, ...]
    sum: float | None  # in the metric's unit

    def at_scale(self, scale: int) -> dict[int, int]:
        """Counts by bucket index at a coarser (or equal) ``scale``: bucket i at scale s is
        exactly buckets 2i and 2i + 1 at scale s + 1, so lowering the scale merges whole
        buckets and stays exact."""
        shift = self.scale - scale
        out: dict[int, int] = {}
        for k, count in enumerate(self.counts):
            if count:
                i = (self.offset + k) >> shift
                out[i] = out.get(i, 0) + count
        return out


# OTLP's scale range; points outside it, or with more buckets than this, are not merged
# (their _count/_sum series are still written).
MIN_SCALE, MAX_SCALE = -10, 20
MAX_EXPONENTIAL_BUCKETS = 4096


def exponential_point(name, labels, factor, p, *, delta, when) -> Point | None:
    """An exponential histogram point: its zero bucket and positive buckets."""
    request = _request(labels)
    if request is None or not MIN_SCALE <= p.scale <= MAX_SCALE:
        return None
    if len(p.positive.bucket_counts) > MAX_EXPONENTIAL_BUCKETS:
        return None
    sent = Exponential(
        p.scale,
        max(0.0, p.zero_threshold),
        int(p.zero_count),
        p.positive.offset,
        tuple(int(c) for c in p.positive.bucket_counts),
        p.sum if p.HasField("sum") else None,
    )
    return Point(
        name,
        labels,
        request,
        when,
        delta,
        _exponential_pieces(
            sent.scale,
            sent.zero_threshold * factor,
            sent.zero_count,
            enumerate(sent.counts, sent.offset),
            factor,
        ),
        [],
        sent.sum * factor if sent.sum is not None else None,
        factor,
        sent,
    )


def _exponential_pieces(scale, zero_ms, zero_count, counts, factor) -> list[tuple]:
    """(lower, upper] in ms and count for the zero bucket and each (index, count) bucket."""
    step = 2.0**-scale  # log2 of the base: bucket i is (2^(i·step), 2^((i+1)·step)]
    pieces = [(0.0, zero_ms, zero_count)]
    for i, count in counts:
        if count:
            try:
                lo = 2.0 ** (i * step) * factor
                hi = 2.0 ** ((i + 1) * step) * factor
            except OverflowError:  # scale -10 reaches 2^1024: past the store's last bucket
                lo = hi = math.inf
            pieces.append((lo, hi, count))
    return pieces


def spread(lo: float, hi: float, count: int, out: list[int]) -> None:
    """Add ``count`` values lying in (lo, hi] ms to the store buckets ``out``, log-linearly
    (linearly from 0), each store bucket getting a whole share by largest remainder."""
    if count <= 0:
        return
    first, last = histogram.bucket_index(lo), histogram.bucket_index(hi)
    if first == last or hi <= lo:
        out[last] += count
        return
    widths = []
    for i in range(first, last + 1):
        a = max(lo, histogram.lower_bound(i))
        b = min(hi, histogram.upper_bound(i))
        if b <= a:
            widths.append(0.0)
        elif lo > 0:
            widths.append(math.log(b / a))
        else:
            widths.append(b - a)
    total = sum(widths)
    if total <= 0:
        out[last] += count
        return
    shares = [count * w / total for w in widths]
    whole = [math.floor(s) for s in shares]
    left = count - sum(whole)
    for j in sorted(range(len(shares)), key=lambda j: whole[j] - shares[j])[:left]:
        whole[j] += 1
    for j, n in enumerate(whole):
        out[first + j] += n


def _previous(points: list[Point]) -> dict[str, tuple[datetime, float]]:
    """The last stored sample at or before each cumulative stream's first point in this
    request, for its _count, _sum and _bucket series (one query)."""
    keys, befores = [], []
    seen = set()
    for p in sorted(points, key=lambda p: p.when):
        ckey = series_key(f"{p.name}_count", p.labels)
        if ckey in seen:
            continue
        seen.add(ckey)
        before = _EPOCH + timedelta(seconds=p.when) + _SAME_POINT
        for key in (
            ckey,
            series_key(f"{p.name}_sum", p.labels),
            *(series_key(f"{p.name}_bucket", {**p.labels, "le": le}) for le in p.les),
        ):
            keys.append(key)
            befores.append(before)
    if not keys:
        return {}
    with connection.cursor() as cur:
        _lock_streams(cur, seen)
        cur.execute(
            """
            SELECT w.key, x.ts, x.value
            FROM unnest(%s::text[], %s::timestamptz[]) AS w(key, before)
            JOIN collectors_series s ON s.key = w.key
            CROSS JOIN LATERAL (
                SELECT ts, value FROM collectors_sample
                WHERE series_id = s.id AND ts < w.before ORDER BY ts DESC LIMIT 1
            ) x
            """,
            [keys, befores],
        )
        return {key: (ts, value) for key, ts, value in cur.fetchall()}


def _lock_streams(cur, keys: set[str]) -> None:
    """Serialise writers of the same cumulative streams until commit, in a stable order: two
    exports of the same streams queue, never deadlock."""
    for lock in sorted({zlib.crc32(k.encode()) for k in keys}):
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_STREAM_LOCK_BASE + lock])


def _exponential_deltas(points: list[Point]) -> list[Point]:
    """Cumulative exponential points turned into the delta since the stream's previous point,
    read from (and written back to) ExponentialState. Both points are brought to the coarser
    of their scales (SDKs lower the scale as the range grows) and subtracted bucket by bucket,
    so the delta is exact; a first point, a count that went down (a restart) or a changed
    zero threshold counts in full; a point at or before the stored one (a retry, or late) is
    not merged again."""
    keys = {series_key(f"{p.name}_count", p.labels) for p in points}
    with connection.cursor() as cur:
        _lock_streams(cur, keys)
    last: dict[str, tuple[float, Exponential]] = {
        st.stream: (
            st.at.timestamp(),
            Exponential(
                st.scale, st.zero_threshold, st.zero_count, st.offset, tuple(st.counts), st.sum
            ),
        )
        for st in ExponentialState.objects.filter(stream__in=keys)
    }
    out = []
    merged: set[str] = set()
    for p in sorted(points, key=lambda p: p.when):
        key = series_key(f"{p.name}_count", p.labels)
        sent = p.exponential
        prev = last.get(key)
        if prev is not None and p.when <= prev[0] + _SAME_POINT.total_seconds():
            continue  # a retried export, or a point older than the one already merged
        last[key] = (p.when, sent)
        merged.add(key)
        delta = _exponential_delta(prev[1], sent) if prev is not None else None
        if delta is None:
            out.append(replace(p, delta=True))  # everything since the stream's start
            continue
        zero, counts, sum_ = delta
        scale = min(prev[1].scale, sent.scale)
        pieces = _exponential_pieces(
            scale, sent.zero_threshold * p.factor, zero, sorted(counts.items()), p.factor
        )
        sum_ms = sum_ * p.factor if sum_ is not None else None
        out.append(replace(p, delta=True, pieces=pieces, sum_ms=sum_ms))
    rows = [
        ExponentialState(
            stream=key,
            at=_EPOCH + timedelta(seconds=when),
            scale=sent.scale,
            zero_threshold=sent.zero_threshold,
            zero_count=sent.zero_count,
            offset=sent.offset,
            counts=list(sent.counts),
            sum=sent.sum,
        )
        for key, (when, sent) in last.items()
        if key in merged  # the others are stored as they are
    ]
    ExponentialState.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["stream"],
        update_fields=["at", "scale", "zero_threshold", "zero_count", "offset", "counts", "sum"],
    )
    return out


def _exponential_delta(
    prev: Exponential, sent: Exponential
) -> tuple[int, dict[int, int], float | None] | None:
    """(zero count, counts by index at the coarser scale, sum) added since ``prev``, or None
    when the stream restarted (some count went down) or changed its zero threshold."""
    if sent.zero_threshold != prev.zero_threshold or sent.zero_count < prev.zero_count:
        return None
    scale = min(prev.scale, sent.scale)
    before, now = prev.at_scale(scale), sent.at_scale(scale)
    counts = {}
    for i in before.keys() | now.keys():
        added = now.get(i, 0) - before.get(i, 0)
        if added < 0:
            return None
        if added:
            counts[i] = added
    sum_ = sent.sum - prev.sum if sent.sum is not None and prev.sum is not None else None
    return sent.zero_count - prev.zero_count, counts, sum_


def _deltas(points: list[Point]) -> list[Point]:
    """Cumulative points turned into the delta since the stream's previous point."""
    exponential = [p for p in points if not p.delta and p.exponential is not None]
    cumulative = [p for p in points if not p.delta and p.exponential is None]
    out = [p for p in points if p.delta]
    if exponential:
        out += _exponential_deltas(exponential)
    if not cumulative:
        return out
    stored = _previous(cumulative)
    last: dict[str, tuple[float, list[float], float | None, list[str]]] = {}
    for p in sorted(cumulative, key=lambda p: p.when):
        ckey = series_key(f"{p.name}_count", p.labels)
        running, total = [], 0
        for _, _, c in p.pieces:
            total += c
            running.append(float(total))
        prev = last.get(ckey)
        if prev is None:
            at = stored.get(ckey)
            if at is not None:
                if abs(at[0] - (_EPOCH + timedelta(seconds=p.when))) < _SAME_POINT:
                    last[ckey] = (p.when, running, p.sum_ms, p.les)
                    continue  # this very point is stored: a retried export
                got = [
                    stored.get(series_key(f"{p.name}_bucket", {**p.labels, "le": le}))
                    for le in p.les
                ]
                summed = stored.get(series_key(f"{p.name}_sum", p.labels))
                if all(got):
                    prev = (
                        at[0].timestamp(),
                        [g[1] for g in got],
                        summed[1] * p.factor if summed else None,
                        p.les,
                    )
        else:
            if prev[0] == p.when:
                continue
        last[ckey] = (p.when, running, p.sum_ms, p.les)
        if (
            prev is None
            or prev[3] != p.les
            or any(r < q for r, q in zip(running, prev[1], strict=True))
        ):
            out.append(p)  # first point, changed bounds or a restart: everything since start
            continue
        counts = [r - q for r, q in zip(running, prev[1], strict=True)]
        pieces = [
            (lo, hi, int(round(c - (counts[i - 1] if i else 0.0))))
            for i, ((lo, hi, _), c) in enumerate(zip(p.pieces, counts, strict=True))
        ]
        sum_ms = None
        if p.sum_ms is not None and prev[2] is not None:
            sum_ms = p.sum_ms - prev[2]
        out.append(
            Point(p.name, p.labels, p.request, p.when, True, pieces, p.les, sum_ms, p.factor)
        )
    return out


def prepare(points: list[Point]) -> list[tuple]:
    """Rows for ``add_request_histograms``: call inside the request's transaction, before its
    classic series are written (cumulative points are diffed against what is stored)."""
    rows = []
    for p in _deltas(points):
        counts = histogram.empty()
        for lo, hi, n in p.pieces:
            spread(lo, hi, n, counts)
        total = sum(counts)
        if total <= 0:
            continue
        sum_ms = p.sum_ms
        if sum_ms is None or not math.isfinite(sum_ms) or sum_ms < 0:
            # No (usable) sum: each value at the centre of its store bucket.
            sum_ms = sum(c * histogram.centre(i) for i, c in enumerate(counts) if c)
        minute = datetime.fromtimestamp(p.when // 60 * 60, UTC)
        rows.append((*p.request, minute, total, sum_ms, counts))
    return rows
