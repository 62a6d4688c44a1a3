"""The engine's values: an instant vector evaluated at every step, and a scalar per step."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.promql.errors import PromQLError

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs, "__name__" included
Values = list[float | None]  # one per step; None: no sample at that step


@dataclass
class Vector:
    series: dict[Labels, Values] = field(default_factory=dict)

    def put(self, labels: Labels, values: Values) -> None:
        """Add a series; two with the same labels may not both have a value at one step
        (Prometheus: "vector cannot contain metrics with the same labelset")."""
        have = self.series.get(labels)
        if have is None:
            self.series[labels] = values
            return
        for k, v in enumerate(values):
            if v is not None:
                if have[k] is not None:
                    raise PromQLError(
                        "vector cannot contain metrics with the same labelset",
                        kind="execution",
                        status=422,
                    )
                have[k] = v


@dataclass
class Scalar:
    values: list[float]


def drop_name(labels: Labels) -> Labels:
    return tuple(item for item in labels if item[0] != "__name__")
