"""``sum``, ``avg``, ``min``, ``max``, ``count`` with ``by`` / ``without``, per step."""

from __future__ import annotations

from collectors.promql.ast import Aggregate
from collectors.promql.functions import maximum, mean, minimum
from collectors.promql.vectors import Labels, Values, Vector

_OPS = {
    "sum": sum,
    "avg": mean,
    "min": minimum,
    "max": maximum,
    "count": lambda values: float(len(values)),
}


def group_labels(labels: Labels, node: Aggregate) -> Labels:
    if node.without:
        dropped = {*node.labels, "__name__"}
        return tuple(item for item in labels if item[0] not in dropped)
    kept = set(node.labels)
    return tuple(item for item in labels if item[0] in kept)


def aggregate(node: Aggregate, vec: Vector, n_steps: int) -> Vector:
    groups: dict[Labels, list[Values]] = {}
    for labels in sorted(vec.series):
        groups.setdefault(group_labels(labels, node), []).append(vec.series[labels])
    fn = _OPS[node.op]
    out = Vector()
    for key, members in groups.items():
        values: Values = [None] * n_steps
        for k in range(n_steps):
            present = [m[k] for m in members if m[k] is not None]
            if present:
                values[k] = fn(present)
        out.series[key] = values
    return out
