"""Decoding the JSON ingest bodies (POST /api/v1/samples, /requests) in one typed pass (msgspec).

Why it is written this way. A 10,000-sample batch (200 series x 50 points, one item per sample),
profiled with cProfile through the Django test client, cost before: ~10 ms in ``orjson.loads``
building 10,000 dicts, ~60 ms (under the profiler; ~14 ms best case without) in
``validate_samples`` walking them: six dict look-ups per item, ``orjson.dumps`` of every item's
labels to find its series key, type checks in Python. Writing (binary COPY, series look-up,
dirty ranges) is ~18 ms, about what the bare COPY costs. Through gunicorn, one item per sample
ran at 124k samples/s against 293k/s for a bare psycopg COPY of the same rows: 0.42.

Here msgspec decodes the body straight into structs, checking the JSON types in C on the way
(~2 ms). ``labels`` stays raw JSON bytes (``msgspec.Raw``): a batch repeats a few hundred label
sets thousands of times, so each distinct text is decoded, validated and turned into its series
key once (and remembered across batches, ``_label_set``). The rest is checked a column at a time
(list comprehensions, a check per distinct metric, unit and label set, ``min``/``max`` of the
timestamps against the retention window), and the answer is an ``ingest.Samples``: numpy
columns (series position, pg µs, value) that become the binary COPY stream in one numpy record
array, with no tuple or datetime per sample.

Measured on 10,000 samples (200 series x 50 points), best of 150 runs on this shared 2-core
machine: one item per sample, decoding and checking 9.2 ms with rows of tuples, 5.4 ms in
columns; series-grouped points 5.4-9.5 ms, 2.9 ms; the COPY stream 1.4 ms packed row by row,
0.12 ms from columns; dirty minutes and days 1.0 ms, 0.3 ms. The COPY no longer runs inside a
savepoint when the batch owns its transaction (two round trips to Postgres a batch). What is
left is Postgres taking the COPY (~12 ms, the same as the reference's), HTTP, the token look-up
and five round trips to Postgres (BEGIN, the COPY's two, the dirty range, COMMIT; the reference
has all but the dirty range). penguinmon/middleware.py skips these bodies: ~1 ms for the whole
middleware stack. benchmarks/bench_ingest.py (gunicorn, JSON and COPY batches in turn, the ratio
measured in the same run): one item per sample 0.46-0.54 of COPY before (3 runs, load 2-4),
0.55-0.74 now (11 runs, load 4-9, heavier); series-grouped points 0.53-0.66 before, 0.65-0.99
now.

``_fast`` handles batches where everything is as expected and answers None otherwise; the
body is then parsed again with orjson and handed to ``ingest.validate_samples``, the reference
validator, which refuses (with its exact words, naming the item and field, and its status) or
accepts (ISO 8601 timestamps; a typed field the item's shape ignores, such as ``value`` beside
``points``). So a refusal reads as it always did; only refused or unusual batches pay for a
second parse. tests/collectors/test_json_ingest.py checks the two agree on generated bodies.

What the JSON API adds on top of ``validate_samples`` (the input floor, see
penguinmon/middleware.py, which these endpoints bypass because they validate themselves): label
values and units holding a control character other than tab, newline and carriage return are a
422 naming the field. Unknown fields in an item are ignored, as before (a client may send more
than is read). Integers: a timestamp wider than any clock is out of range (422, naming it), a
value is a double (a wide integer is that number), numbers beyond a double are malformed JSON
(400), all as before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import repeat

import msgspec
import numpy as np
import orjson
from django.conf import settings

from collectors.store import histogram
from collectors.store.catalog import RESERVED
from collectors.store.errors import IngestError
from collectors.store.ingest import (
    MAX_DURATION_MS,
    METRIC_RE,
    PG_EPOCH_S,
    RequestFold,
    Samples,
    _labels,
    fold_request_timings,
    to_pg_us,
    validate_samples,
)
from collectors.store.series import series_cache, series_key
from penguinmon.middleware import CONTROL_CHARACTERS

_NO_LABELS = msgspec.Raw(b"null")


# gc=False: decoded JSON holds no reference cycles, and 10,000 structs the collector need not
# track are collections it does not run while the batch is checked.
class SampleItem(msgspec.Struct, gc=False):
    """One item: a sample ``{metric, labels, value, ts, unit}`` or a series-grouped
    ``{metric, labels, points: [[ts, value], ...], unit}``."""

    metric: str
    labels: msgspec.Raw = _NO_LABELS
    value: float | None = None
    ts: int | float | str | None = None
    unit: str | None = None
    points: list[tuple[int | float | str | None, float]] | None = None


class SamplesBody(msgspec.Struct, gc=False):
    samples: list[SampleItem]


_decode_samples = msgspec.json.Decoder(SamplesBody | list[SampleItem]).decode


def parse_body(body: bytes, key: str):
    """The body as the reference validators take it: a list, from ``[...]`` or ``{key: [...]}``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"malformed JSON: {exc}", status=400) from exc
    if isinstance(data, dict):
        if key not in data:
            raise IngestError(f"expected an object with a '{key}' list", status=400)
        data = data[key]
    return data


def _control(text: str) -> str | None:
    bad = CONTROL_CHARACTERS.search(text)
    return f"contains the control character U+{ord(bad.group()):04X}" if bad else None


def _label_floor(labels) -> str | None:
    """The input floor's refusal for a label set, if any."""
    if type(labels) is dict:
        for name, value in labels.items():
            if type(value) is str and (problem := _control(value)):
                return f"label {name!r} {problem}"
    return None


class _LabelSet:
    """One distinct ``labels`` text: decoded, keyed and checked once.
    ``key_text`` None: something only the reference validator words right."""

    __slots__ = ("floor", "key_text", "labels", "max_labels", "valid")

    def __init__(self, raw: bytes):
        self.labels, self.key_text, self.valid, self.floor = None, None, False, None
        self.max_labels = settings.INGEST_MAX_LABELS
        try:
            labels = orjson.loads(raw)
        except orjson.JSONDecodeError:  # e.g. invalid UTF-8 in a label: a 400 malformed JSON
            return
        labels = labels or {}
        try:
            self.key_text = (
                orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode() if labels else "{}"
            )
        except TypeError:
            return
        self.labels = labels
        try:
            _labels(labels, 0)
            self.valid = True
        except IngestError:
            pass  # refused below unless the series exists (as validate_samples does)
        self.floor = _label_floor(labels)


# Label sets already checked, by their text: clients send the same few hundred label sets in
# batch after batch, and checking one (JSON decode, sorted key, a regex per label) costs
# ~5 µs. Bounded: short texts only, and forgotten all at once when full.
_label_sets: dict[bytes, _LabelSet] = {}
_LABEL_SETS_LIMIT = 10_000
_LABEL_TEXT_CACHED = 512


def _label_set(raw: bytes) -> _LabelSet:
    found = _label_sets.get(raw)
    if found is None or found.max_labels != settings.INGEST_MAX_LABELS:
        found = _LabelSet(raw)
        if len(raw) <= _LABEL_TEXT_CACHED:
            if len(_label_sets) >= _LABEL_SETS_LIMIT:
                _label_sets.clear()
            _label_sets[raw] = found
    return found


def decode_samples(body: bytes, *, now: datetime | None = None, external: bool = True) -> Samples:
    """Decode and check a samples body; return what ``validate_samples`` returns (the batch,
    a column each) or raise its IngestError."""
    now = now or datetime.now(UTC)
    try:
        batch = _decode_samples(body)
    except msgspec.DecodeError:  # ValidationError (a wrong type) is one too
        batch = None
    if batch is not None:
        items = batch.samples if type(batch) is SamplesBody else batch
        found = _fast(items, now, external)
        if found is not None:
            return found
    items = parse_body(body, "samples")
    found = validate_samples(items, now=now, external=external)
    _floor_of_dicts(items)
    return found


def _floor_of_dicts(items: list) -> None:
    """The input floor on a batch the reference validator accepted."""
    for i, item in enumerate(items):
        if problem := _label_floor(item.get("labels")):
            raise IngestError(problem, index=i, field="labels")
        unit = item.get("unit")
        if type(unit) is str and (problem := _control(unit)):
            raise IngestError(problem, index=i, field="unit")


def _fast(items: list[SampleItem], now: datetime, external: bool) -> Samples | None:
    """The batch checked a column at a time (list comprehensions, a check per distinct metric,
    label set and unit rather than per item), or None when anything is off, for the reference
    validator to refuse (or accept) it with its exact words."""
    n = len(items)
    if n > settings.INGEST_MAX_BATCH:
        return None
    if not n:
        return Samples({}, (), (), ())
    now_s = now.timestamp()
    newest = now_s + settings.INGEST_MAX_FUTURE_SECONDS
    oldest = now_s - settings.RETENTION_RAW_DAYS * 86400
    metrics = [item.metric for item in items]
    distinct_metrics = set(metrics)
    for metric in distinct_metrics:
        if not METRIC_RE.match(metric) or (external and metric in RESERVED):
            return None
    units = [item.unit for item in items]
    for unit in set(units):
        if unit is not None and (len(unit) > 32 or CONTROL_CHARACTERS.search(unit)):
            return None
    raws = [bytes(item.labels) for item in items]
    label_sets: dict[bytes, _LabelSet] = {}
    for raw in dict.fromkeys(raws):  # distinct, in order of first use
        label_set = label_sets[raw] = _label_set(raw)
        if label_set.key_text is None or label_set.floor:
            return None
    # Every item's series as its position in ``wanted`` (series keys in order of first use),
    # from a map of the batch's distinct (metric, labels text) pairs: one key built per pair.
    positions: dict[str, int] = {}
    firsts: list[tuple[str, _LabelSet]] = []

    def place(metric: str, label_set: _LabelSet) -> int:
        key = metric + label_set.key_text
        if (at := positions.get(key)) is None:
            at = positions[key] = len(firsts)
            firsts.append((metric, label_set))
        return at

    if len(distinct_metrics) == 1:
        metric = metrics[0]
        position_of = {raw: place(metric, label_set) for raw, label_set in label_sets.items()}
        series = [position_of[raw] for raw in raws]
    else:
        pairs = list(zip(metrics, raws, strict=True))
        position_of = {pair: place(pair[0], label_sets[pair[1]]) for pair in dict.fromkeys(pairs)}
        series = [position_of[pair] for pair in pairs]
    # Each series with the unit its first item gave.
    if units.count(None) == n:
        first_units = {}
    else:
        first_units = dict(zip(reversed(series), reversed(units), strict=True))
    known_keys = series_cache()
    wanted: dict[str, tuple] = {}
    for key, at in positions.items():
        metric, label_set = firsts[at]
        if not label_set.valid and key not in known_keys:
            return None
        wanted[key] = (metric, label_set.labels, first_units.get(at) or "", None)
    points = [item.points for item in items]
    flat = points.count(None)
    if flat == n:
        values = [item.value for item in items]
        stamps = [item.ts for item in items]
    else:
        # Series-grouped items among them: each point one sample, in the items' order.
        if flat + sum(len(pts) for pts in points if pts is not None) > settings.INGEST_MAX_BATCH:
            return None
        each, values, stamps = [], [], []
        for at, item, pts in zip(series, items, points, strict=True):
            if pts is None:
                each.append(at)
                values.append(item.value)
                stamps.append(item.ts)
            elif pts:
                each.extend(repeat(at, len(pts)))
                values.extend([point[1] for point in pts])
                stamps.extend([point[0] for point in pts])
        series = each
    if None in values:
        return None
    us = _stamps_us(stamps, now, oldest, newest)
    if us is None:
        return None
    return Samples(wanted, series, us, values)


def _stamps_us(stamps: list, now: datetime, oldest: float, newest: float) -> np.ndarray | None:
    """Unix-second stamps as pg µs (absent: now), as ``validate_samples`` computes them, or
    None unless every one is a number inside the window."""
    absent = None in stamps
    given = [ts for ts in stamps if ts is not None] if absent else stamps
    try:
        if given and (min(given) < oldest or max(given) > newest):
            return None
    except TypeError:  # text (ISO 8601) among them
        return None
    # Inside the window (2000 + 2^53 µs is far off) every step below is exact in a double, as
    # int((ts - PG_EPOCH_S) * 1_000_000) is in Python: the same µs, truncated the same way.
    us = ((np.array(given, dtype=np.float64) - PG_EPOCH_S) * 1_000_000).astype(np.int64)
    if not absent:
        return us
    out = np.full(len(stamps), to_pg_us(now), dtype=np.int64)
    out[np.array([ts is not None for ts in stamps], dtype=bool)] = us
    return out


# POST /api/v1/requests: the same approach. A 10,000-request batch spent 130-250 ms (best of
# 10-20 on the loaded machine) in orjson.loads + fold_request_timings before its few hundred
# rows were written: a datetime per request for its minute, two orjson.dumps per request for
# its series keys. Here the distinct (service, route, method) and status classes are checked
# and keyed once, minutes come from arithmetic on a numpy column, and the fold works on cells
# numbered (series, minute) with numpy: 7.5 ms best of 60 where a fold with Counter over
# (key, minute) tuples took 15.5 ms. Through the bench: 15-38k requests/s before msgspec,
# 0.32-0.50 of COPY with Counter and one-row INSERTs (8 runs, load 2-7), 0.52-0.92 now (6 runs,
# load 4-9).


class RequestItem(msgspec.Struct, gc=False):  # as SampleItem
    service: str
    route: str
    method: str
    status: int
    duration_ms: float
    ts: int | float | str | None = None


class RequestsBody(msgspec.Struct, gc=False):
    requests: list[RequestItem]


_decode_requests = msgspec.json.Decoder(RequestsBody | list[RequestItem]).decode
_REQUEST_TEXT = (("service", 200), ("route", 200), ("method", 16))


def decode_requests(body: bytes, *, now: datetime | None = None) -> RequestFold:
    """Decode, check and fold a request-timings body; what ``fold_request_timings`` answers
    (or raises) for the same body."""
    now = now or datetime.now(UTC)
    try:
        batch = _decode_requests(body)
    except msgspec.DecodeError:
        batch = None
    if batch is not None:
        items = batch.requests if type(batch) is RequestsBody else batch
        found = _fast_requests(items, now)
        if found is not None:
            return found
    items = parse_body(body, "requests")
    found = fold_request_timings(items, now=now)
    for i, item in enumerate(items):
        for name, _ in _REQUEST_TEXT:
            if problem := _control(item[name]):
                raise IngestError(problem, index=i, field=name, collection="requests")
    return found


def _fast_requests(items: list[RequestItem], now: datetime) -> RequestFold | None:
    n = len(items)
    if n > settings.INGEST_MAX_BATCH:
        return None
    if not n:
        return RequestFold()
    services = [item.service for item in items]
    routes = [item.route for item in items]
    methods = [item.method for item in items]
    for values, (_, limit) in zip((services, routes, methods), _REQUEST_TEXT, strict=True):
        for text in set(values):
            if not text or len(text) > limit or CONTROL_CHARACTERS.search(text):
                return None
    statuses = [item.status for item in items]
    durations = [item.duration_ms for item in items]
    if not (min(statuses) >= 100 and max(statuses) <= 599):
        return None
    if not (min(durations) >= 0 and max(durations) <= MAX_DURATION_MS):
        return None
    # The reference compares datetimes (rounded to the microsecond) with the window: a stamp
    # within a millisecond of its edges is left to it.
    minutes = _minutes(
        [item.ts for item in items],
        now,
        now.timestamp() - settings.RETENTION_RAW_DAYS * 86400 + 0.001,
        now.timestamp() + settings.INGEST_MAX_FUTURE_SECONDS - 0.001,
    )
    if minutes is None:
        return None
    # Series keys per distinct (service, route, method) and status class, made once. Every
    # request's histogram series as a number (its key's position in ``hkeys``; "get" and "GET"
    # are one series), and its counter series as that number and its status class.
    combos = list(zip(services, routes, methods, strict=True))
    hkeys: dict[str, int] = {}
    labels_of: list[dict[str, str]] = []
    hseries_of = {}
    for combo in dict.fromkeys(combos):
        service, route, method = combo
        labels = {"service": service, "route": route, "method": method.upper()}
        hkey = series_key("http_request_duration_ms", labels)
        if hkey not in hkeys:
            hkeys[hkey] = len(labels_of)
            labels_of.append(labels)
        hseries_of[combo] = hkeys[hkey]
    hseries = np.fromiter(map(hseries_of.__getitem__, combos), dtype=np.int64, count=n)
    cseries = hseries * 10 + np.array(statuses, dtype=np.int64) // 100  # classes 1 to 5
    # ``wanted`` in the order fold_request_timings first meets the keys (each request's
    # histogram, then its counter): something is new only at the first request of a counter.
    hkey_list = list(hkeys)
    ckeys: dict[int, str] = {}
    wanted: dict[str, tuple] = {}
    for at in sorted(np.unique(cseries, return_index=True)[1].tolist()):
        series = int(cseries[at])
        labels = labels_of[series // 10]
        wanted.setdefault(
            hkey_list[series // 10], ("http_request_duration_ms", labels, "ms", "histogram")
        )
        clabels = {**labels, "status_class": f"{series % 10}xx"}
        ckey = ckeys[series] = series_key("http_requests", clabels)
        wanted.setdefault(ckey, ("http_requests", clabels, "", "counter"))
    # The fold, a column at a time: each request's cell (histogram or counter series, minute)
    # as one number, counted by numpy; bucket counts by np.add.at, and the sums by np.add.at
    # too, which adds in request order as the reference does (float addition is not
    # associative).
    minute_values, minute = np.unique(minutes, return_inverse=True)
    stamp = [datetime.fromtimestamp(m * 60, UTC) for m in minute_values.tolist()]
    n_minutes = len(minute_values)
    hcells, hcell = np.unique(hseries * n_minutes + minute, return_inverse=True)
    hcount = np.bincount(hcell)
    hsum = np.zeros(len(hcells))
    duration = np.array(durations, dtype=np.float64)
    np.add.at(hsum, hcell, duration)
    distinct_durations, duration_at = np.unique(duration, return_inverse=True)
    bucket = np.array(
        [histogram.bucket_index(d) for d in distinct_durations.tolist()], dtype=np.intp
    )[duration_at]
    hbuckets = np.zeros((len(hcells), histogram.N_BUCKETS), dtype=np.int64)
    np.add.at(hbuckets, (hcell, bucket), 1)
    hist: dict[tuple[str, datetime], list] = {
        (hkey_list[cell // n_minutes], stamp[cell % n_minutes]): [count, total, buckets]
        for cell, count, total, buckets in zip(
            hcells.tolist(), hcount.tolist(), hsum.tolist(), hbuckets.tolist(), strict=True
        )
    }
    ccells, ccount = np.unique(cseries * n_minutes + minute, return_counts=True)
    counts = {
        (ckeys[cell // n_minutes], stamp[cell % n_minutes]): count
        for cell, count in zip(ccells.tolist(), ccount.tolist(), strict=True)
    }
    return RequestFold(hist, counts, wanted, n)


def _minutes(stamps: list, now: datetime, oldest: float, newest: float) -> np.ndarray | None:
    """Each unix-second stamp's minute (minutes since the epoch) as ``_parse_ts`` would place
    it (to the microsecond, rounded half to even like ``timedelta``), none meaning now; or
    None unless every stamp is a number inside the window."""
    absent = None in stamps
    given = [ts for ts in stamps if ts is not None] if absent else stamps
    try:
        if given and (min(given) < oldest or max(given) > newest):
            return None
    except TypeError:  # text (ISO 8601) among them
        return None
    # Inside the window every step is exact in a double: the whole seconds, the fraction, its
    # microseconds rounded half to even (np.round, as round() and timedelta do).
    ts = np.array(given, dtype=np.float64)
    whole = np.trunc(ts)
    carry = np.round((ts - whole) * 1e6) == 1_000_000
    out = (whole.astype(np.int64) + carry) // 60
    if not absent:
        return out
    now_minute = int(now.replace(second=0, microsecond=0).timestamp()) // 60
    minutes = np.full(len(stamps), now_minute, dtype=np.int64)
    minutes[np.array([ts is not None for ts in stamps], dtype=bool)] = out
    return minutes
