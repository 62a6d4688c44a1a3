"""PromQL text → a small tree of the subset PenguinMon evaluates.

Parsing is ``promql_parser``'s (a binding of the Rust parser that follows Prometheus' grammar
and its type checks); this module only adapts its nodes, and refuses, naming it, every
construct the engine does not evaluate (subqueries, ``@``, ``or`` inside a selector,
``group_left``/``group_right``, set operators, functions and aggregations outside the subset),
so an unsupported query is a 400 and never a wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import promql_parser as pp

from collectors.promql.errors import PromQLError, unsupported

RANGE_FUNCTIONS = frozenset(
    {
        "rate",
        "irate",
        "increase",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
    }
)
FUNCTIONS = RANGE_FUNCTIONS | {"histogram_quantile"}
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count"})
ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^"})
COMPARISON = frozenset({"==", "!=", ">", "<", ">=", "<="})


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    regex: re.Pattern | None = None

    def matches(self, value: str) -> bool:
        """``value`` is "" for a label the series does not have, as in Prometheus."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = self.regex.fullmatch(value) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0


@dataclass(frozen=True)
class RangeSelector:
    selector: Selector
    range_ms: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: object
    labels: tuple[str, ...] = ()
    without: bool = False


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    return_bool: bool = False
    # None: no on()/ignoring() clause (match on every label but the name).
    on: bool | None = None
    labels: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Negate:
    expr: object


Node = Number | Selector | RangeSelector | Call | Aggregate | Binary | Negate

# (parser enum, operator): the parser's enums compare equal but are not hashable.
_MATCH_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)


def _ms(delta: timedelta | None) -> int:
    return 0 if delta is None else round(delta.total_seconds() * 1000)


def _regex(text: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as exc:
        raise PromQLError(f"invalid regular expression {text!r}: {exc}") from exc


def _matcher(m) -> Matcher:
    op = next(text for enum, text in _MATCH_OPS if m.op == enum)
    regex = _regex(m.value) if op in ("=~", "!~") else None
    return Matcher(m.name, op, m.value, regex)


def _selector(vs) -> Selector:
    if vs.at is not None:
        raise unsupported("the @ modifier")
    if vs.matchers.or_matchers:
        raise unsupported("'or' between matchers inside a selector")
    matchers = tuple(_matcher(m) for m in vs.matchers.matchers)
    return Selector(vs.name, matchers, _ms(vs.offset))


def parse(text: str) -> Node:
    if "\x00" in text:
        raise PromQLError('invalid parameter "query": contains a NUL character')
    if not text.strip():
        raise PromQLError('invalid parameter "query": parse error: no expression found in input')
    try:
        tree = pp.parse(text)
    except ValueError as exc:
        raise PromQLError(f'invalid parameter "query": parse error: {exc}') from exc
    except RecursionError:
        raise _too_deep() from None
    try:
        return adapt(tree)
    except RecursionError:
        raise _too_deep() from None


MAX_DEPTH = 100


def _too_deep() -> PromQLError:
    return PromQLError(f'invalid parameter "query": nested more than {MAX_DEPTH} levels deep')


def adapt(node, depth: int = 0) -> Node:
    if depth > MAX_DEPTH:
        raise _too_deep()
    depth += 1
    if isinstance(node, pp.ParenExpr):
        return adapt(node.expr, depth)
    if isinstance(node, pp.NumberLiteral):
        return Number(float(node.val))
    if isinstance(node, pp.StringLiteral):
        raise unsupported("string literals outside function arguments")
    if isinstance(node, pp.VectorSelector):
        return _selector(node)
    if isinstance(node, pp.MatrixSelector):
        return RangeSelector(_selector(node.vector_selector), _ms(node.range))
    if isinstance(node, pp.SubqueryExpr):
        raise unsupported("subqueries (expr[range:step])")
    if isinstance(node, pp.UnaryExpr):
        return Negate(adapt(node.expr, depth))
    if isinstance(node, pp.Call):
        name = node.func.name
        if name not in FUNCTIONS:
            raise unsupported(f"function {name}() (supported: {', '.join(sorted(FUNCTIONS))})")
        return Call(name, tuple(adapt(a, depth) for a in node.args))
    if isinstance(node, pp.AggregateExpr):
        op = str(node.op)
        if op not in AGGREGATIONS:
            raise unsupported(f"aggregation {op} (supported: {', '.join(sorted(AGGREGATIONS))})")
        mod = node.modifier
        if mod is None:
            return Aggregate(op, adapt(node.expr, depth))
        return Aggregate(
            op,
            adapt(node.expr, depth),
            tuple(mod.labels),
            without=mod.type == pp.AggModifierType.Without,
        )
    if isinstance(node, pp.BinaryExpr):
        return _binary(node, depth)
    raise unsupported(f"expression {type(node).__name__}")


def _binary(node, depth: int) -> Binary:
    op = str(node.op)
    if op not in ARITHMETIC | COMPARISON:
        raise unsupported(f"operator {op} (supported: arithmetic and comparison operators)")
    mod = node.modifier
    on, labels, return_bool = None, (), False
    if mod is not None:
        return_bool = bool(mod.return_bool)
        if mod.card in (
            pp.VectorMatchCardinality.ManyToOne,
            pp.VectorMatchCardinality.OneToMany,
        ):
            raise unsupported("group_left/group_right (only one-to-one matching)")
        if mod.matching is not None:
            on = mod.matching.type == pp.LabelModifierType.Include
            labels = tuple(mod.matching.labels)
    return Binary(op, adapt(node.lhs, depth), adapt(node.rhs, depth), return_bool, on, labels)
