"""The metadata endpoints: series, label names and values, metric metadata.

They list what the store holds (the series catalogue, with each latency histogram shown as
its ``_bucket``/``_count``/``_sum`` family, as selectors see it); ``start``/``end`` are not
used to narrow the answer (the catalogue has no per-series time range finer than
``last_seen_at``)."""

from __future__ import annotations

from django.db import connection

from collectors.promql import reads
from collectors.promql.ast import Selector, parse
from collectors.promql.errors import PromQLError
from collectors.promql.reads import Gate
from collectors.store import histogram
from collectors.store.catalog import metric_def

MAX_LISTED = 10_000


def match_selector(text: str) -> Selector:
    try:
        node = parse(text)
    except PromQLError as exc:
        raise PromQLError(f'invalid parameter "match[]": {exc}') from exc
    if not isinstance(node, Selector):
        raise PromQLError(f'invalid parameter "match[]": {text!r} is not a series selector')
    return node


def _matched(selectors: list[Selector], may_read: Gate) -> list[dict]:
    seen, out = set(), []
    for sel in selectors:
        for source in reads.matching(sel, may_read):
            labels = {"__name__": source.name, **source.labels}
            key = tuple(sorted(labels.items()))
            if key not in seen:
                seen.add(key)
                out.append(labels)
    return out


def series(selectors: list[Selector], may_read: Gate) -> list[dict]:
    return _matched(selectors, may_read)


def _readable_names(may_read: Gate) -> list[tuple[str, bool]]:
    """(metric, is a latency histogram) for every metric of the store the user may read."""
    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT name, kind = 'histogram' FROM collectors_series")
        return [(name, hist) for name, hist in cur.fetchall() if may_read(name)]


def label_names(selectors: list[Selector], may_read: Gate) -> list[str]:
    if selectors:
        return sorted({name for labels in _matched(selectors, may_read) for name in labels})
    metrics = _readable_names(may_read)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT jsonb_object_keys(labels) FROM collectors_series WHERE name = ANY(%s)",
            [[name for name, _ in metrics]],
        )
        names = {row[0] for row in cur.fetchall()}
    names.add("__name__")
    if any(hist for _, hist in metrics):
        names.add("le")
    return sorted(names)


def label_values(name: str, selectors: list[Selector], may_read: Gate) -> list[str]:
    if selectors:
        return sorted({labels[name] for labels in _matched(selectors, may_read) if name in labels})
    metrics = _readable_names(may_read)
    if name == "__name__":
        values = set()
        for metric, is_histogram in metrics:
            values |= (
                {metric + suffix for suffix in reads.HISTOGRAM_SUFFIXES}
                if is_histogram
                else {metric}
            )
        return sorted(values)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT labels->>%s FROM collectors_series "
            "WHERE labels ? %s AND name = ANY(%s) LIMIT %s",
            [name, name, [m for m, _ in metrics], MAX_LISTED],
        )
        values = {row[0] for row in cur.fetchall()}
    if name == "le" and any(hist for _, hist in metrics):
        values |= {reads.le_label(i) for i in range(histogram.N_BUCKETS)}
    return sorted(values)


_TYPES = {"gauge": "gauge", "counter": "counter", "histogram": "histogram"}


def metadata(metric: str | None, limit: int | None, may_read: Gate) -> dict[str, list[dict]]:
    sql = "SELECT DISTINCT name, kind, unit FROM collectors_series"
    params: list = []
    if metric:
        sql += " WHERE name = %s"
        params.append(metric)
    sql += " ORDER BY name"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    out: dict[str, list[dict]] = {}
    for name, kind, unit in rows:
        if not may_read(name):
            continue
        known = metric_def(name)
        entry = {
            "type": _TYPES.get(kind, "unknown"),
            "help": known.help if known else "",
            "unit": unit,
        }
        if entry not in out.setdefault(name, []):
            out[name].append(entry)
    if limit is not None and limit >= 0:
        out = dict(list(out.items())[:limit])
    return out
