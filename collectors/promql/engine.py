"""Evaluate a parsed expression at every step of a query, as Prometheus' range evaluation does.

An instant query is a range query of one step. Each selector is read once for all steps
(``collectors.promql.reads``); every node then yields a ``Vector`` (values per step) or a
``Scalar``. An instant selector takes, at each step, the newest sample no older than the
lookback delta (5 minutes); a range selector the samples in [t − range, t]; both shifted by
``offset``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from collectors.promql import functions as fn
from collectors.promql.aggregation import aggregate
from collectors.promql.ast import (
    Aggregate,
    Binary,
    Call,
    Negate,
    Node,
    Number,
    RangeSelector,
    Selector,
)
from collectors.promql.binary import scalars, vector_scalar, vectors
from collectors.promql.errors import PromQLError
from collectors.promql.reads import Gate, Raw, read
from collectors.promql.vectors import Labels, Scalar, Values, Vector, drop_name

LOOKBACK_MS = 5 * 60 * 1000
MAX_POINTS = 11_000
# Functions whose result keeps the series' name (Prometheus drops it for every other one).
KEEPS_NAME = frozenset({"last_over_time"})


@dataclass
class Matrix:
    """An instant query of a range selector: raw samples per series."""

    series: list[Raw]


class Evaluator:
    def __init__(self, steps: list[int], step_ms: int, may_read: Gate):
        self.may_read = may_read
        self.steps = steps
        self.step_ms = step_ms
        self.n = len(steps)

    def eval(self, node: Node) -> Vector | Scalar:
        if isinstance(node, Number):
            return Scalar([node.value] * self.n)
        if isinstance(node, Selector):
            return self._instant(node)
        if isinstance(node, RangeSelector):
            raise PromQLError(
                "a range vector is only an argument of a function here, e.g. rate(x[5m])"
            )
        if isinstance(node, Negate):
            value = self.eval(node.expr)
            if isinstance(value, Scalar):
                return Scalar([-v for v in value.values])
            out = Vector()
            for labels, values in value.series.items():
                out.put(drop_name(labels), [None if v is None else -v for v in values])
            return out
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Aggregate):
            inner = self.eval(node.expr)
            if not isinstance(inner, Vector):
                raise PromQLError(f"{node.op}() needs an instant vector, not a scalar")
            return aggregate(node, inner, self.n)
        if isinstance(node, Binary):
            return self._binary(node)
        raise PromQLError(f"cannot evaluate {type(node).__name__}")

    def _refs(self, sel: Selector) -> tuple[int, int]:
        return self.steps[0] - sel.offset_ms, self.steps[-1] - sel.offset_ms

    def _instant(self, sel: Selector) -> Vector:
        first, last = self._refs(sel)
        out = Vector()
        for raw in read(sel, first, last, LOOKBACK_MS, self.step_ms, self.may_read):
            values: Values = [None] * self.n
            ts = raw.ts
            if ts:
                for k, t in enumerate(self.steps):
                    ref = t - sel.offset_ms
                    i = bisect_right(ts, ref) - 1
                    if i >= 0 and ts[i] >= ref - LOOKBACK_MS:
                        values[k] = raw.values[i]
            if any(v is not None for v in values):
                out.series[raw.labels] = values
        return out

    def _call(self, node: Call) -> Vector:
        if node.func == "histogram_quantile":
            return self._histogram_quantile(node)
        (arg,) = node.args
        if not isinstance(arg, RangeSelector):
            raise PromQLError(f"{node.func}() needs a range vector selector, e.g. x[5m]")
        sel = arg.selector
        first, last = self._refs(sel)
        ends = np.asarray(self.steps, dtype=np.int64) - sel.offset_ms
        starts = ends - arg.range_ms
        out = Vector()
        for raw in read(sel, first, last, arg.range_ms, self.step_ms, self.may_read):
            if not raw.ts:
                continue
            series = fn.RangeSeries(raw.ts, raw.values)
            if node.func in ("rate", "increase"):
                values = fn.extrapolated(
                    series,
                    starts,
                    ends,
                    counter=True,
                    per_second=node.func == "rate",
                    range_ms=arg.range_ms,
                )
            elif node.func == "irate":
                values = fn.irate(series, starts, ends)
            else:
                values = fn.over_time(node.func, series, starts, ends)
            if any(v is not None for v in values):
                labels = raw.labels if node.func in KEEPS_NAME else drop_name(raw.labels)
                out.put(labels, values)
        return out

    def _histogram_quantile(self, node: Call) -> Vector:
        q_node, vec_node = node.args
        q = self.eval(q_node)
        vec = self.eval(vec_node)
        if not isinstance(q, Scalar) or not isinstance(vec, Vector):
            raise PromQLError("histogram_quantile(q, buckets) needs a scalar and a vector")
        groups: dict[Labels, list[tuple[float, Values]]] = {}
        for labels, values in vec.series.items():
            le = dict(labels).get("le")
            try:
                bound = float(le) if le is not None else None
            except ValueError:
                bound = None
            if bound is None:
                continue  # no or malformed le label: skipped, as Prometheus does
            key = tuple(item for item in labels if item[0] not in ("le", "__name__"))
            groups.setdefault(key, []).append((bound, values))
        out = Vector()
        for key, buckets in groups.items():
            values: Values = [None] * self.n
            for k in range(self.n):
                present = [(b, v[k]) for b, v in buckets if v[k] is not None]
                if present:
                    values[k] = fn.bucket_quantile(q.values[k], present)
            out.put(key, values)
        return out

    def _binary(self, node: Binary) -> Vector | Scalar:
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            return scalars(node, lhs, rhs)
        if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
            return vector_scalar(node, lhs, rhs, scalar_left=False)
        if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
            return vector_scalar(node, rhs, lhs, scalar_left=True)
        return vectors(node, lhs, rhs, self.n)


def steps_for(start_ms: int, end_ms: int, step_ms: int) -> list[int]:
    return list(range(start_ms, end_ms + 1, step_ms))


def evaluate_range(
    node: Node, start_ms: int, end_ms: int, step_ms: int, may_read: Gate
) -> Vector | Scalar:
    if isinstance(node, RangeSelector):
        raise PromQLError(
            'invalid expression type "range vector" for range query, must be Scalar or '
            "instant Vector"
        )
    return Evaluator(steps_for(start_ms, end_ms, step_ms), step_ms, may_read).eval(node)


def evaluate_instant(node: Node, at_ms: int, may_read: Gate) -> Vector | Scalar | Matrix:
    if isinstance(node, RangeSelector):
        sel = node.selector
        ref = at_ms - sel.offset_ms
        raws = read(sel, ref, ref, node.range_ms, 0, may_read)
        return Matrix([r for r in raws if r.ts])
    return Evaluator([at_ms], 0, may_read).eval(node)
