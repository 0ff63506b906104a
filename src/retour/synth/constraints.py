"""Bounds of a numeric answer read from a simple XLSForm constraint, such as `. >= 15 and . <= 34`.

A constraint made only of comparisons between `.` (or the field itself) and number literals, joined by
`and`, gives an interval the synthetic answers are drawn from; anything else (`or`, other fields,
functions) is not simple, and the generator draws, evaluates the constraint and draws again instead.
This module reads expressions; it draws nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retour.errors import SpecError
from retour.expressions import Binary, Current, FieldRef, Literal, Negative, Node, parse

_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass(frozen=True)
class Bounds:
    """Closed interval `[low, high]` (None: unbounded on that side); `exact` when the constraint is no
    more than the interval, so every value inside it satisfies the constraint (strict bounds on whole
    numbers are made closed; a strict bound on decimals leaves `exact` false)."""

    low: float | None = None
    high: float | None = None
    exact: bool = False

    @property
    def empty(self) -> bool:
        return self.low is not None and self.high is not None and self.low > self.high


def _number(node: Node) -> float | None:
    if isinstance(node, Literal) and isinstance(node.value, float):
        return node.value
    if isinstance(node, Negative):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    return None


def _is_self(node: Node, name: str) -> bool:
    return isinstance(node, Current) or (isinstance(node, FieldRef) and node.name == name)


def _comparisons(node: Node, name: str) -> list[tuple[str, float]] | None:
    """(operator, number) of each `. op number` in an `and` chain; None if the constraint is more."""
    if isinstance(node, Binary) and node.operator == "and":
        left, right = _comparisons(node.left, name), _comparisons(node.right, name)
        return None if left is None or right is None else left + right
    if not isinstance(node, Binary) or node.operator not in _FLIPPED or node.operator == "!=":
        return None
    if _is_self(node.left, name) and (number := _number(node.right)) is not None:
        return [(node.operator, number)]
    if _is_self(node.right, name) and (number := _number(node.left)) is not None:
        return [(_FLIPPED[node.operator], number)]
    return None


def numeric_bounds(constraint: str | None, name: str, whole: bool) -> Bounds:
    """The interval a constraint allows for the field `name` (`whole`: an integer field)."""
    if not constraint:
        return Bounds(exact=True)
    try:
        found = _comparisons(parse(constraint), name)
    except SpecError:
        return Bounds()
    if found is None:
        return Bounds()
    low, high, exact = -math.inf, math.inf, True
    for operator, number in found:
        if operator in ("<", ">") and not whole:
            exact = False  # the open end of a decimal interval: checked after drawing
        if operator in (">", ">="):
            start = math.floor(number) + 1 if whole and operator == ">" else number
            low = max(low, math.ceil(start) if whole else start)
        if operator in ("<", "<="):
            end = math.ceil(number) - 1 if whole and operator == "<" else number
            high = min(high, math.floor(end) if whole else end)
        if operator == "=":
            low, high = max(low, number), min(high, number)
    return Bounds(low=None if low == -math.inf else low, high=None if high == math.inf else high, exact=exact)
