"""Arithmetic and comparison between scalars and vectors, with ``on``/``ignoring`` one-to-one
matching and the ``bool`` modifier, following Prometheus' label and value rules."""

from __future__ import annotations

import math

from collectors.promql.ast import ARITHMETIC, Binary
from collectors.promql.errors import PromQLError
from collectors.promql.functions import divide
from collectors.promql.vectors import Labels, Scalar, Values, Vector, drop_name


def _mod(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:  # Go's math.Mod: NaN for b = 0 or an infinite a
        return math.nan


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or float(b).is_integer() and b % 2 == 0 else -math.inf
    except ValueError:
        if a == 0 and b < 0:
            odd = float(b).is_integer() and b % 2 == 1
            return math.copysign(math.inf, a) if odd else math.inf
        return math.nan


ARITH = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": divide,
    "%": _mod,
    "^": _pow,
}
COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _elem(op: str, a: float, b: float) -> tuple[float, bool]:
    """Prometheus' vectorElemBinop: (value, keep); a comparison keeps the left value."""
    if op in ARITH:
        return ARITH[op](a, b), True
    return a, COMPARE[op](a, b)


def scalars(node: Binary, lhs: Scalar, rhs: Scalar) -> Scalar:
    out = []
    for a, b in zip(lhs.values, rhs.values, strict=True):
        if node.op in ARITH:
            out.append(ARITH[node.op](a, b))
        else:
            out.append(1.0 if COMPARE[node.op](a, b) else 0.0)
    return Scalar(out)


def vector_scalar(node: Binary, vec: Vector, scalar: Scalar, *, scalar_left: bool) -> Vector:
    drop = node.op in ARITHMETIC or node.return_bool
    out = Vector()
    for labels, values in vec.series.items():
        result: Values = [None] * len(values)
        for k, v in enumerate(values):
            if v is None:
                continue
            a, b = (scalar.values[k], v) if scalar_left else (v, scalar.values[k])
            value, keep = _elem(node.op, a, b)
            if node.op not in ARITH:
                value = v  # a comparison keeps the vector's value, whichever side it is on
            if node.return_bool:
                value, keep = (1.0 if keep else 0.0), True
            if keep:
                result[k] = value
        if any(v is not None for v in result):
            out.put(drop_name(labels) if drop else labels, result)
    return out


def _signature(labels: Labels, node: Binary) -> Labels:
    if node.on:
        names = set(node.labels)
        return tuple(item for item in labels if item[0] in names)
    dropped = {*node.labels, "__name__"}
    return tuple(item for item in labels if item[0] not in dropped)


def _result_labels(labels: Labels, node: Binary) -> Labels:
    if node.op in ARITHMETIC or node.return_bool:
        labels = drop_name(labels)
    if node.on:
        names = set(node.labels)
        return tuple(item for item in labels if item[0] in names)
    dropped = set(node.labels)
    return tuple(item for item in labels if item[0] not in dropped)


def _by_signature(vec: Vector, node: Binary) -> dict[Labels, list[tuple[Labels, Values]]]:
    out: dict[Labels, list[tuple[Labels, Values]]] = {}
    for labels in sorted(vec.series):
        out.setdefault(_signature(labels, node), []).append((labels, vec.series[labels]))
    return out


def vectors(node: Binary, lhs: Vector, rhs: Vector, n_steps: int) -> Vector:
    right = _by_signature(rhs, node)
    out = Vector()
    for sig, left_members in _by_signature(lhs, node).items():
        right_members = right.get(sig)
        if not right_members:
            continue
        results: dict[Labels, Values] = {}
        for k in range(n_steps):
            present = [(lbl, vals[k]) for lbl, vals in right_members if vals[k] is not None]
            if not present:
                continue
            if len(present) > 1:
                raise PromQLError(
                    f"found duplicate series for the match group {dict(sig)} on the right "
                    "hand-side of the operation; many-to-many matching not allowed: "
                    "matching labels must be unique on one side",
                    kind="execution",
                    status=422,
                )
            b = present[0][1]
            matched = False
            for labels, vals in left_members:
                a = vals[k]
                if a is None:
                    continue
                value, keep = _elem(node.op, a, b)
                if node.return_bool:
                    value, keep = (1.0 if keep else 0.0), True
                if not keep:
                    continue
                if matched:
                    raise PromQLError(
                        "multiple matches for labels: many-to-one matching must be explicit "
                        "(group_left/group_right)",
                        kind="execution",
                        status=422,
                    )
                matched = True
                key = _result_labels(labels, node)
                results.setdefault(key, [None] * n_steps)[k] = value
        for key, values in results.items():
            out.put(key, values)
    return out
