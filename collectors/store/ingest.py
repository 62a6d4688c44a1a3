"""The write path: validate a batch completely, then write it in one transaction.

Samples go to the day-partitioned raw table with binary COPY (the fast path); a batch that
repeats an existing (series, ts) falls back to an upsert (last write wins). Request timings are
folded into per-minute histograms and per-minute status-class counters.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import struct
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import psycopg.errors
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from collectors.store import forward, histogram, partitions
from collectors.store.catalog import RESERVED
from collectors.store.errors import IngestError
from collectors.store.series import resolve, series_cache, series_key
from penguinmon.metrics import SAMPLES_INGESTED

METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]{0,199}\Z")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,63}\Z")
MAX_LABEL_VALUE = 200
MAX_DURATION_MS = 86_400_000  # a day: anything longer is a broken clock, and sums stay finite
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_ts(raw, now: datetime, *, index: int, collection: str, field: str = "ts") -> datetime:
    if raw is None:
        return now
    if isinstance(raw, datetime):
        ts = raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if not math.isfinite(raw):
            raise IngestError(
                "must be a finite unix time in seconds",
                index=index,
                field=field,
                collection=collection,
            )
        try:
            ts = _EPOCH + timedelta(seconds=raw)
        except OverflowError as exc:
            raise IngestError(
                f"unix time {raw} is out of range", index=index, field=field, collection=collection
            ) from exc
    elif isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise IngestError(
                f"{raw!r} is not an ISO 8601 time or unix seconds",
                index=index,
                field=field,
                collection=collection,
            ) from exc
    else:
        raise IngestError(
            "must be unix seconds or an ISO 8601 string",
            index=index,
            field=field,
            collection=collection,
        )
    # In UTC from here on: request timings take the day (partition) and minute from ts, and
    # "2025-01-02T01:30+02:00" belongs to 1 January's partition.
    try:
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+02:00
        raise IngestError(
            f"{raw!r} is out of range", index=index, field=field, collection=collection
        ) from exc
    if ts > now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS):
        raise IngestError(
            f"{ts.isoformat()} is more than {settings.INGEST_MAX_FUTURE_SECONDS // 60} minutes in the future",
            index=index,
            field=field,
            collection=collection,
        )
    if ts < now - timedelta(days=settings.RETENTION_RAW_DAYS):
        raise IngestError(
            f"{ts.isoformat()} is older than the raw retention of {settings.RETENTION_RAW_DAYS} days",
            index=index,
            field=field,
            collection=collection,
        )
    return ts


def _check_batch(items, collection: str) -> None:
    if not isinstance(items, list):
        raise IngestError(
            f"expected a JSON list of {collection} (or an object with a '{collection}' list)",
            status=400,
        )
    if len(items) > settings.INGEST_MAX_BATCH:
        raise IngestError(
            f"batch of {len(items)} {collection} exceeds the limit of {settings.INGEST_MAX_BATCH}",
            status=413,
        )


def _labels(raw, i: int) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise IngestError("must be an object of string values", index=i, field="labels")
    if len(raw) > settings.INGEST_MAX_LABELS:
        raise IngestError(
            f"{len(raw)} labels exceed the limit of {settings.INGEST_MAX_LABELS}",
            index=i,
            field="labels",
        )
    for k, v in raw.items():
        if not LABEL_RE.match(k):
            raise IngestError(
                f"label name {k!r} must match [a-zA-Z_][a-zA-Z0-9_]*", index=i, field="labels"
            )
        if not isinstance(v, str) or len(v) > MAX_LABEL_VALUE:
            raise IngestError(
                f"label {k!r} must be a string of at most {MAX_LABEL_VALUE} characters",
                index=i,
                field="labels",
            )
        if "\x00" in v:  # Postgres text and jsonb cannot hold NUL
            raise IngestError(f"label {k!r} contains a NUL character", index=i, field="labels")
    return raw


# Binary COPY writes timestamptz as int64 microseconds since 2000-01-01 UTC; building those
# integers directly is several times cheaper than building datetime objects for every sample.
PG_EPOCH_S = 946_684_800


def to_pg_us(ts: datetime) -> int:
    return round((ts.timestamp() - PG_EPOCH_S) * 1_000_000)


def from_pg_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000 + PG_EPOCH_S, UTC)


class Samples:
    """A validated batch of samples, a column each: the series ``wanted`` by key (key ->
    (metric, labels, unit, kind or None), in order of first use) and, per sample, the position
    of its series in ``wanted``, its time in pg µs and its value (numpy arrays). Columns go
    straight into the binary COPY buffer (see ``_copy_payload``) without a tuple per sample."""

    __slots__ = ("series", "us", "values", "wanted")

    def __init__(self, wanted: dict[str, tuple], series, us, values) -> None:
        self.wanted = wanted
        self.series = np.asarray(series, dtype=np.intp)
        self.us = np.asarray(us, dtype=np.int64)
        self.values = np.asarray(values, dtype=np.float64)

    @classmethod
    def from_rows(cls, wanted: dict[str, tuple], rows: list[tuple[str, int, float]]) -> Samples:
        """From [(series key, ts in pg µs, value)], every key one of ``wanted``."""
        if not rows:
            return cls(wanted, (), (), ())
        keys, us, values = zip(*rows, strict=True)
        position = {key: i for i, key in enumerate(wanted)}
        return cls(wanted, [position[key] for key in keys], us, values)

    def __len__(self) -> int:
        return len(self.us)

    def rows(self) -> list[tuple[str, int, float]]:
        """[(series key, ts in pg µs, value)], in the batch's order."""
        keys = list(self.wanted)
        return [
            (keys[s], us, value)
            for s, us, value in zip(
                self.series.tolist(), self.us.tolist(), self.values.tolist(), strict=True
            )
        ]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Samples):
            return NotImplemented
        return self.wanted == other.wanted and self.rows() == other.rows()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Samples({self.wanted!r}, {self.rows()!r})"


def validate_samples(items, *, now: datetime | None = None, external: bool = False) -> Samples:
    """Check every item; return the batch (``Samples``), or raise an IngestError naming the
    item and field.

    ``external``: the batch came through the API, which may not write PenguinMon's own
    metrics (catalog.RESERVED).

    The hot path (numeric ts, a label set seen before) avoids regexes and datetime objects;
    anything unusual falls back to the precise checks that produce the error message.
    """
    _check_batch(items, "samples")
    now = now or datetime.now(UTC)
    now_s = now.timestamp()
    newest = now_s + settings.INGEST_MAX_FUTURE_SECONDS
    oldest = now_s - settings.RETENTION_RAW_DAYS * 86400
    known_keys = series_cache()
    ok_metrics: set[str] = set()
    total = 0
    wanted: dict[str, tuple] = {}
    rows: list[tuple[str, int, float]] = []
    for i, item in enumerate(items):
        if type(item) is not dict:
            raise IngestError("must be an object with metric, labels, value, ts", index=i)
        metric = item.get("metric")
        # The type check comes first: a list or object is unhashable for the set look-up.
        if type(metric) is not str or metric not in ok_metrics:
            if not isinstance(metric, str) or not METRIC_RE.match(metric):
                raise IngestError(
                    "must be a metric name matching [a-zA-Z_:][a-zA-Z0-9_:.]*",
                    index=i,
                    field="metric",
                )
            if external and metric in RESERVED:
                raise IngestError(
                    f"{metric} is written only by PenguinMon's own collectors "
                    "(probes, checks, reputation); an API token cannot write it",
                    index=i,
                    field="metric",
                    status=403,
                )
            ok_metrics.add(metric)
        labels = item.get("labels")
        if labels:
            try:
                key = metric + orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
            except TypeError as exc:
                raise IngestError(
                    "must be an object of string values", index=i, field="labels"
                ) from exc
        else:
            labels, key = {}, metric + "{}"
        unit = item.get("unit")
        if unit is not None and (not isinstance(unit, str) or len(unit) > 32 or "\x00" in unit):
            raise IngestError(
                "must be a string of at most 32 characters, without NUL", index=i, field="unit"
            )
        if key not in wanted:
            if key not in known_keys:
                _labels(labels, i)
            wanted[key] = (metric, labels, unit or "", None)
        points = item.get("points")
        if points is not None:
            # Series-grouped form: {metric, labels, points: [[ts, value], ...]}.
            total += _points(points, key, rows, i, now, oldest, newest)
            if total > settings.INGEST_MAX_BATCH:
                break  # refused below, without reading the rest
            continue
        total += 1
        value = item.get("value")
        kind = type(value)
        if kind is int:
            value = float(value)
        elif kind is not float:
            raise IngestError(f"must be a number, got {kind.__name__}", index=i, field="value")
        if value - value != 0.0:  # NaN and ±inf
            raise IngestError(f"must be a finite number, got {value}", index=i, field="value")
        ts = item.get("ts")
        kind = type(ts)
        if (kind is float or kind is int) and oldest <= ts <= newest:
            us = int((ts - PG_EPOCH_S) * 1_000_000)
        else:
            us = to_pg_us(_parse_ts(ts, now, index=i, collection="samples"))
        rows.append((key, us, value))
    if total > settings.INGEST_MAX_BATCH:
        raise IngestError(
            f"batch of {total} samples exceeds the limit of {settings.INGEST_MAX_BATCH}", status=413
        )
    return Samples.from_rows(wanted, rows)


def _points(
    points, key: str, rows: list, i: int, now: datetime, oldest: float, newest: float
) -> int:
    """Validate and append the [ts, value] pairs of one series-grouped item."""
    if type(points) is not list:
        raise IngestError("must be a list of [ts, value] pairs", index=i, field="points")
    for j, point in enumerate(points):
        if type(point) is not list or len(point) != 2:
            raise IngestError("must be a [ts, value] pair", index=i, field=f"points[{j}]")
        ts, value = point
        kind = type(value)
        if kind is int:
            value = float(value)
        elif kind is not float:
            raise IngestError(
                f"must be a number, got {kind.__name__}", index=i, field=f"points[{j}].value"
            )
        if value - value != 0.0:
            raise IngestError(
                f"must be a finite number, got {value}", index=i, field=f"points[{j}].value"
            )
        kind = type(ts)
        if (kind is float or kind is int) and oldest <= ts <= newest:
            us = int((ts - PG_EPOCH_S) * 1_000_000)
        else:
            us = to_pg_us(
                _parse_ts(ts, now, index=i, collection="samples", field=f"points[{j}].ts")
            )
        rows.append((key, us, value))
    return len(points)


DAY_US = 86_400_000_000


def _days_us(us: np.ndarray) -> set:
    """Calendar days (UTC) touched by timestamps given in pg microseconds."""
    return {from_pg_us(d * DAY_US).date() for d in np.unique(us // DAY_US).tolist()}


# Binary COPY rows of (series_id int8, ts timestamptz, value float8): a field count, then each
# field as an int32 length and its big-endian value. Filled a column at a time by numpy.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"),
        ("series_id", ">i8"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


def _copy_payload(series_ids: np.ndarray, us: np.ndarray, values: np.ndarray) -> bytes:
    """The binary COPY stream of these rows: ~0.3 ms for 10,000, where packing them row by
    row with struct took ~4 ms and psycopg's own dumpers twice that."""
    out = np.empty(len(us), _COPY_ROW)
    out["fields"] = 3
    out["series_len"] = out["ts_len"] = out["value_len"] = 8
    out["series_id"] = series_ids
    out["ts"] = us
    out["value"] = values
    return _COPY_HEADER + out.tobytes() + _COPY_TRAILER


def _copy(cur, table: str, payload: bytes) -> None:
    with cur.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


class DuplicateSamples(Exception):
    """A (series, ts) of the batch is already stored and there was no savepoint to fall back
    to the upsert from: the caller rolls the transaction back and writes it again with
    ``upsert``."""


def _write_raw(series_ids, us, values, *, upsert: bool = False, own: bool = False) -> None:
    """COPY (series id, ts in pg µs, value) columns into the raw table; on a duplicate
    (series, ts), upsert instead (last write wins).

    ``upsert``: take the upsert path straight away (the COPY was refused before).
    ``own``: the caller's transaction is the outermost one, so instead of guarding the COPY
    with a savepoint (two more round trips to Postgres on every batch) a duplicate raises
    DuplicateSamples, for the caller to write the batch again with ``upsert``.
    """
    with connection.cursor() as wrapper:
        cur = wrapper.cursor  # the psycopg cursor, for COPY
        if not upsert:
            payload = _copy_payload(series_ids, us, values)
            if own:
                try:
                    _copy(cur, "collectors_sample", payload)
                except psycopg.errors.UniqueViolation as exc:
                    raise DuplicateSamples from exc
                return
            try:
                with transaction.atomic():
                    _copy(cur, "collectors_sample", payload)
                return
            except (IntegrityError, psycopg.errors.UniqueViolation):
                pass  # some (series, ts) already stored: take the upsert path below
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pm_ingest (series_id int8, ts timestamptz, value float8) "
            "ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE pm_ingest")
        # One row per (series, ts), the batch's last one winning: ON CONFLICT may not touch
        # the same row twice in one statement.
        last = {
            (sid, t): i
            for i, (sid, t) in enumerate(zip(series_ids.tolist(), us.tolist(), strict=True))
        }
        keep = np.fromiter(last.values(), dtype=np.intp, count=len(last))
        _copy(cur, "pm_ingest", _copy_payload(series_ids[keep], us[keep], values[keep]))
        cur.execute(
            "INSERT INTO collectors_sample (series_id, ts, value) SELECT series_id, ts, value FROM pm_ingest "
            "ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value"
        )


MINUTE_US = 60_000_000
# Touched minutes closer than this are recorded as one range; farther apart, as separate ones,
# so a batch mixing a few late samples with fresh ones does not re-roll the days in between.
DIRTY_GAP_MINUTES = 60


def _mark_dirty(timestamps_us, *kinds: str) -> None:
    """Record the time ranges this batch wrote, for the rollup job to recompute (``kinds``:
    the tables' kinds, "sample" and/or "histogram")."""
    minutes = np.unique(np.asarray(timestamps_us, dtype=np.int64) // MINUTE_US)
    # A range ends where the gap to the next touched minute exceeds DIRTY_GAP_MINUTES.
    breaks = np.flatnonzero(np.diff(minutes) > DIRTY_GAP_MINUTES)
    starts = [minutes[0], *minutes[breaks + 1].tolist()]
    ends = [*minutes[breaks].tolist(), minutes[-1]]
    ranges = [
        (from_pg_us(int(a) * MINUTE_US), from_pg_us(int(b) * MINUTE_US))
        for a, b in zip(starts, ends, strict=True)
    ]
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO collectors_dirty_range (kind, start_ts, end_ts) VALUES (%s, %s, %s)",
            [(kind, a, b) for kind in kinds for a, b in ranges],
        )


def write_samples(
    items, *, source: str = "internal", now: datetime | None = None, external: bool = False
) -> int:
    """Validate and store a batch of samples atomically. Returns the number stored.

    ``external``: pushed through the API (PenguinMon's own metrics are refused)."""
    return store_samples(validate_samples(items, now=now, external=external), source=source)


def store_samples(batch: Samples, *, source: str) -> int:
    """Store samples already validated (``validate_samples``' or ``json_ingest``'s answer)
    in one transaction. Returns the number stored."""
    if not len(batch):
        return 0
    wanted = batch.wanted
    # Outside any transaction, a duplicate (series, ts) rolls the whole batch back and it is
    # written again through the upsert (rare: a client re-sending); inside one (a caller's
    # atomic block) there is nothing to retry, so the COPY keeps its savepoint.
    own = not connection.in_atomic_block

    def store(upsert: bool = False) -> None:
        with transaction.atomic():
            partitions.ensure_partitions("collectors_sample", _days_us(batch.us))
            ids = resolve(wanted)
            series_ids = np.array([ids[key] for key in wanted], dtype=np.int64)[batch.series]
            _write_raw(series_ids, batch.us, batch.values, upsert=upsert, own=own)
            _mark_dirty(batch.us, "sample")
            forward.enqueue(batch)

    try:
        with_deadlock_retry(store)
    except DuplicateSamples:
        with_deadlock_retry(lambda: store(upsert=True))
    _count(source, len(batch))
    return len(batch)


DEADLOCK_ATTEMPTS = 5


def with_deadlock_retry(store) -> None:
    """Run ``store`` (one whole transaction); when Postgres picks it as a deadlock or
    serialization victim, run it again (the batch was rolled back, so nothing doubles).
    Inside an outer transaction there is nothing to retry: the error goes to the caller."""
    if connection.in_atomic_block:
        store()
        return
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            store()
            return
        except OperationalError as exc:
            cause = exc.__cause__
            if attempt == DEADLOCK_ATTEMPTS or not isinstance(
                cause, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
            ):
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)


def _count(source: str, n: int) -> None:
    transaction.on_commit(lambda: SAMPLES_INGESTED.labels(source).inc(n))


def _req_str(item: dict, field: str, i: int, max_len: int = 200) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value or len(value) > max_len or "\x00" in value:
        raise IngestError(
            f"must be a non-empty string of at most {max_len} characters, without NUL",
            index=i,
            field=field,
            collection="requests",
        )
    return value


def write_request_timings(items, *, now: datetime | None = None) -> int:
    """Fold request timings into per-minute latency histograms and status-class counters."""
    return store_request_timings(fold_request_timings(items, now=now))


@dataclass
class RequestFold:
    """A batch of request timings folded per minute: ``hist`` (histogram key, minute) ->
    [count, sum, bucket counts], ``counts`` (counter key, minute) -> requests, the series
    ``wanted`` by key, and how many requests went in."""

    hist: dict[tuple[str, datetime], list] = dataclasses.field(default_factory=dict)
    counts: dict[tuple[str, datetime], int] = dataclasses.field(default_factory=dict)
    wanted: dict[str, tuple] = dataclasses.field(default_factory=dict)
    requests: int = 0


def fold_request_timings(items, *, now: datetime | None = None) -> RequestFold:
    """Check every request timing and fold the batch (the reference for json_ingest)."""
    _check_batch(items, "requests")
    now = now or datetime.now(UTC)
    hist: dict[tuple[str, datetime], list] = {}
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    wanted: dict[str, tuple] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise IngestError(
                "must be an object with service, route, method, status, duration_ms, ts",
                index=i,
                collection="requests",
            )
        service = _req_str(item, "service", i)
        route = _req_str(item, "route", i)
        method = _req_str(item, "method", i, 16).upper()
        status = item.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise IngestError(
                "must be an HTTP status code (100-599)",
                index=i,
                field="status",
                collection="requests",
            )
        duration = item.get("duration_ms")
        if (
            isinstance(duration, bool)
            or not isinstance(duration, (int, float))
            or not math.isfinite(duration)
            or not 0 <= duration <= MAX_DURATION_MS
        ):
            raise IngestError(
                f"must be a number of milliseconds from 0 to {MAX_DURATION_MS:,}",
                index=i,
                field="duration_ms",
                collection="requests",
            )
        ts = _parse_ts(item.get("ts"), now, index=i, collection="requests")
        minute = ts.replace(second=0, microsecond=0)
        labels = {"service": service, "route": route, "method": method}
        hkey = series_key("http_request_duration_ms", labels)
        wanted.setdefault(hkey, ("http_request_duration_ms", labels, "ms", "histogram"))
        entry = hist.get((hkey, minute))
        if entry is None:
            entry = hist[(hkey, minute)] = [0, 0.0, histogram.empty()]
        entry[0] += 1
        entry[1] += duration
        entry[2][histogram.bucket_index(duration)] += 1
        clabels = {**labels, "status_class": f"{status // 100}xx"}
        ckey = series_key("http_requests", clabels)
        wanted.setdefault(ckey, ("http_requests", clabels, "", "counter"))
        counts[(ckey, minute)] += 1
    return RequestFold(hist, dict(counts), wanted, len(items))


def store_request_timings(fold: RequestFold) -> int:
    """Store a folded batch in one transaction; returns the number of requests."""
    hist, counts, wanted = fold.hist, fold.counts, fold.wanted
    if not hist:
        return 0
    minutes = [m for _, m in hist]

    def store() -> None:
        with transaction.atomic():
            days = {m.date() for m in minutes}
            partitions.ensure_partitions("collectors_sample", days)
            partitions.ensure_partitions("collectors_histogram_1m", days)
            ids = resolve(wanted)
            # Rows in (series, minute) order: concurrent writers of the same minute lock the
            # same rows in the same order, so they queue instead of deadlocking. One statement
            # over arrays each: a few hundred one-row INSERTs cost Postgres ~5x more.
            hist_rows = sorted(
                (ids[k], m, c, s, histogram.trimmed(b)) for (k, m), (c, s, b) in hist.items()
            )
            count_rows = sorted((ids[k], m, float(n)) for (k, m), n in counts.items())
            with connection.cursor() as cur:
                sids, buckets, totals, sums, bucket_counts = zip(*hist_rows, strict=True)
                cur.execute(
                    """
                    INSERT INTO collectors_histogram_1m (series_id, bucket, count, sum, counts)
                    SELECT s, b, c, t, k::bigint[]
                    FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], %s::float8[],
                                %s::text[]) WITH ORDINALITY AS r(s, b, c, t, k, o)
                    ORDER BY o
                    ON CONFLICT (series_id, bucket) DO UPDATE SET
                        count = collectors_histogram_1m.count + EXCLUDED.count,
                        sum = collectors_histogram_1m.sum + EXCLUDED.sum,
                        counts = pm_array_add(collectors_histogram_1m.counts, EXCLUDED.counts)
                    """,
                    [
                        list(sids),
                        list(buckets),
                        list(totals),
                        list(sums),
                        ["{" + ",".join(map(str, b)) + "}" for b in bucket_counts],
                    ],
                )
                # Per-minute counters: a minute already stored adds up (one row per series
                # and minute here, as ON CONFLICT needs).
                sids, stamps, values = zip(*count_rows, strict=True)
                cur.execute(
                    """
                    INSERT INTO collectors_sample (series_id, ts, value)
                    SELECT s, t, v FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[])
                        WITH ORDINALITY AS r(s, t, v, o)
                    ORDER BY o
                    ON CONFLICT (series_id, ts) DO UPDATE
                        SET value = collectors_sample.value + EXCLUDED.value
                    """,
                    [list(sids), list(stamps), list(values)],
                )
            _mark_dirty([to_pg_us(m) for m in minutes], "histogram", "sample")

    with_deadlock_retry(store)
    _count("requests", fold.requests)
    return fold.requests


def add_request_histograms(rows) -> int:
    """Merge already-bucketed request latencies into the per-minute latency histograms and
    status-class counters that request timings go to (the OTLP receiver's HTTP server
    duration histograms). ``rows``: (service, route, method, status_class, minute, count,
    sum_ms, bucket counts), ``minute`` a UTC datetime the caller has validated. Returns the
    number of requests merged."""
    fold = RequestFold()
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    for service, route, method, status_class, minute, count, sum_ms, buckets in rows:
        if count <= 0:
            continue
        minute = minute.replace(second=0, microsecond=0)
        labels = {"service": service, "route": route, "method": method}
        hkey = series_key("http_request_duration_ms", labels)
        fold.wanted.setdefault(hkey, ("http_request_duration_ms", labels, "ms", "histogram"))
        entry = fold.hist.get((hkey, minute))
        if entry is None:
            entry = fold.hist[(hkey, minute)] = [0, 0.0, histogram.empty()]
        entry[0] += count
        entry[1] += sum_ms
        for i, c in enumerate(buckets):
            entry[2][i] += c
        clabels = {**labels, "status_class": status_class}
        ckey = series_key("http_requests", clabels)
        fold.wanted.setdefault(ckey, ("http_requests", clabels, "", "counter"))
        counts[(ckey, minute)] += count
        fold.requests += count
    fold.counts = dict(counts)
    return store_request_timings(fold)
