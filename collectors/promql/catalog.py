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


def _matched(selectors: list[Selector]) -> list[dict]:
    seen, out = set(), []
    for sel in selectors:
        for source in reads.matching(sel):
            labels = {"__name__": source.name, **source.labels}
            key = tuple(sorted(labels.items()))
            if key not in seen:
                seen.add(key)
                out.append(labels)
    return out


def series(selectors: list[Selector]) -> list[dict]:
    return _matched(selectors)


def _histograms_exist() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM collectors_series WHERE kind = 'histogram')")
        return cur.fetchone()[0]


def label_names(selectors: list[Selector]) -> list[str]:
    if selectors:
        return sorted({name for labels in _matched(selectors) for name in labels})
    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT jsonb_object_keys(labels) FROM collectors_series")
        names = {row[0] for row in cur.fetchall()}
    names.add("__name__")
    if _histograms_exist():
        names.add("le")
    return sorted(names)


def label_values(name: str, selectors: list[Selector]) -> list[str]:
    if selectors:
        return sorted({labels[name] for labels in _matched(selectors) if name in labels})
    with connection.cursor() as cur:
        if name == "__name__":
            cur.execute("SELECT DISTINCT name, kind = 'histogram' FROM collectors_series")
            values = set()
            for metric, is_histogram in cur.fetchall():
                values |= (
                    {metric + suffix for suffix in reads.HISTOGRAM_SUFFIXES}
                    if is_histogram
                    else {metric}
                )
        else:
            cur.execute(
                "SELECT DISTINCT labels->>%s FROM collectors_series WHERE labels ? %s LIMIT %s",
                [name, name, MAX_LISTED],
            )
            values = {row[0] for row in cur.fetchall()}
    if name == "le" and _histograms_exist():
        values |= {reads.le_label(i) for i in range(histogram.N_BUCKETS)}
    return sorted(values)


_TYPES = {"gauge": "gauge", "counter": "counter", "histogram": "histogram"}


def metadata(metric: str | None, limit: int | None) -> dict[str, list[dict]]:
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
