"""Translate XLSForm expressions (relevant, constraint, calculation, indicator formulas) into polars.

The subset understood is what questionnaires and indicator catalogues use: `${field}` references, `.`
(the current field), string and number literals, `or`, `and`, `=`, `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`,
`*`, `div`, `mod`, unary minus, parentheses and the functions in `FUNCTIONS`. Anything else (XPath paths,
`regex`, `pulldata`, ...) raises a `SpecError` naming what is not supported.

Types follow XPath 1.0: `=` and `!=` compare as booleans if either side is boolean, else as numbers if
either side is a number, else as strings; `<`, `<=`, `>`, `>=` compare numbers (or dates). A missing
answer is null and stays null through comparisons and arithmetic (`false and null` is false, `true or
null` is true), so a formula can tell "no" from "not answered". With `blank_as_empty=True` text and select
answers that are null read as the empty string, as ODK does when it evaluates relevance and constraints.
Two functions follow ODK whatever `blank_as_empty` says, because a skipped multiple-choice question is an
empty answer in ODK: `selected()` of a null answer is false and `count-selected()` of it is 0 (issue 16);
an indicator meant for those who were asked says so with a `universe`.

This module parses and translates; it reads no files and evaluates nothing itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from retour.errors import SpecError
from retour.schema import Instrument

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<field>\$\{(?P<field_name>[^}]*)\})
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<operator>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)
    | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    | (?P<dot>\.(?!\.))
    )""",
    re.VERBOSE,
)
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
NUMERIC_TYPES = frozenset({"integer", "decimal", "range"})
DATE_TYPES = frozenset({"date", "today"})
MULTIPLE_TYPES = frozenset({"select_multiple", "select_multiple_from_file"})
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        "regex",
        "pulldata",
        "jr:choice-name",
        "indexed-repeat",
        "position",
        "once",
        "instance",
        "current",
        "random",
        "uuid",
        "format-date",
        "now",
    }
)
_HINT = "Retour understands ${field}, '.', literals, or/and/not(), comparisons, + - * div mod and: "


# --- syntax tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: str | float


@dataclass(frozen=True)
class FieldRef:
    name: str


@dataclass(frozen=True)
class Current:
    """`.`: the field whose constraint or relevance is being evaluated."""


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negative:
    operand: Node


Node = Literal | FieldRef | Current | Call | Binary | Negative


# --- parsing -----------------------------------------------------------------------------------------


def _tokens(expression: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) triples; SpecError at the first character that starts no token."""
    tokens: list[tuple[str, str, int]] = []
    position = 0
    stripped_end = len(expression.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            rest = expression[position:].strip()[:12]
            raise SpecError(
                f"Cannot read the expression {expression!r}: unexpected {rest!r} "
                f"at character {position + 1}.",
                "Check quotes, brackets and operators; XPath paths such as /data/x are not supported.",
            )
        if match.group("field") is not None:
            name = match.group("field_name").strip()
            if not _FIELD_NAME.match(name):
                raise SpecError(
                    f"Cannot read the expression {expression!r}: '{match.group('field')}' "
                    "is not a valid field reference.",
                    "Write a field as ${name}.",
                )
            tokens.append(("field", name, match.start("field")))
        else:
            kind = next(
                group
                for group in ("string", "number", "operator", "name", "dot")
                if match.group(group) is not None
            )
            tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over XPath 1.0 precedence: or < and < equality < relational < additive <
    multiplicative < unary minus."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.index = 0

    def fail(self, what: str) -> SpecError:
        if self.index < len(self.tokens):
            where = f"at character {self.tokens[self.index][2] + 1} ({self.tokens[self.index][1]!r})"
        else:
            where = "at the end"
        return SpecError(
            f"Cannot read the expression {self.expression!r}: {what} {where}.",
            "Check that brackets and quotes are balanced and every operator has two sides.",
        )

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def accept(self, *texts: str) -> str | None:
        token = self.peek()
        if token and token[0] in ("operator", "name") and token[1] in texts:
            self.index += 1
            return token[1]
        return None

    def expect(self, text: str) -> None:
        if self.accept(text) is None:
            raise self.fail(f"expected '{text}'")

    def parse(self) -> Node:
        if not self.tokens:
            raise SpecError(f"The expression {self.expression!r} is empty.")
        node = self.or_()
        if self.peek() is not None:
            raise self.fail("unexpected token")
        return node

    def _left_assoc(self, operators: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        node = operand()
        while (operator := self.accept(*operators)) is not None:
            node = Binary(operator, node, operand())
        return node

    def or_(self) -> Node:
        return self._left_assoc(("or",), self.and_)

    def and_(self) -> Node:
        return self._left_assoc(("and",), self.equality)

    def equality(self) -> Node:
        return self._left_assoc(("=", "!="), self.relational)

    def relational(self) -> Node:
        return self._left_assoc(("<", "<=", ">", ">="), self.additive)

    def additive(self) -> Node:
        return self._left_assoc(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self._left_assoc(("*", "div", "mod"), self.unary)

    def unary(self) -> Node:
        if self.accept("-") is not None:
            return Negative(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("expected a value")
        kind, text, _ = token
        if kind == "field":
            self.index += 1
            return FieldRef(text)
        if kind == "string":
            self.index += 1
            return Literal(text[1:-1])
        if kind == "number":
            self.index += 1
            return Literal(float(text))
        if kind == "dot":
            self.index += 1
            return Current()
        if kind == "operator" and text == "(":
            self.index += 1
            node = self.or_()
            self.expect(")")
            return node
        if kind == "name" and self.index + 1 < len(self.tokens) and self.tokens[self.index + 1][1] == "(":
            self.index += 2
            arguments: list[Node] = []
            if self.accept(")") is None:
                arguments.append(self.or_())
                while self.accept(",") is not None:
                    arguments.append(self.or_())
                self.expect(")")
            return Call(text, tuple(arguments))
        raise self.fail("expected a value")


@lru_cache(maxsize=4096)
def parse(expression: str) -> Node:
    """The syntax tree of an XLSForm expression; SpecError if it cannot be read."""
    return _Parser(str(expression)).parse()


def _walk(node: Node):
    yield node
    if isinstance(node, Call):
        for argument in node.arguments:
            yield from _walk(argument)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Negative):
        yield from _walk(node.operand)


def referenced_fields(expression: str) -> set[str]:
    """Names of the `${fields}` an expression reads (not `.`)."""
    return {node.name for node in _walk(parse(expression)) if isinstance(node, FieldRef)}


def referenced_choices(expression: str, current: str | None = None) -> list[tuple[str, str]]:
    """(field, choice) pairs an expression tests: `selected(${f}, 'c')`, `${f} = 'c'`, `'c' != ${f}`.

    `.` counts as `current` when given (and is skipped otherwise).
    """

    def field_of(node: Node) -> str | None:
        if isinstance(node, FieldRef):
            return node.name
        if isinstance(node, Current):
            return current
        return None

    pairs: list[tuple[str, str]] = []
    for node in _walk(parse(expression)):
        if isinstance(node, Call) and node.function == "selected" and len(node.arguments) == 2:
            field, choice = field_of(node.arguments[0]), node.arguments[1]
            if field and isinstance(choice, Literal) and isinstance(choice.value, str):
                pairs.append((field, choice.value))
        elif isinstance(node, Binary) and node.operator in ("=", "!="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                field = field_of(side)
                if field and isinstance(other, Literal) and isinstance(other.value, str):
                    pairs.append((field, other.value))
    return pairs


# --- translation to polars ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Typed:
    """A polars expression and its XPath type: boolean, number, string, multiple (space-separated), date."""

    expr: pl.Expr
    kind: str


def _to_number(value: Typed) -> pl.Expr:
    if value.kind == "number":
        return value.expr
    if value.kind == "date":
        return value.expr.cast(pl.Int32).cast(pl.Float64)  # days since 1970-01-01, as JavaRosa does
    if value.kind == "boolean":
        return value.expr.cast(pl.Float64)
    return value.expr.str.strip_chars().cast(pl.Float64, strict=False)


def _to_boolean(value: Typed) -> pl.Expr:
    if value.kind == "boolean":
        return value.expr
    if value.kind == "number":
        return (value.expr != 0) & value.expr.is_not_nan()
    if value.kind == "date":
        return value.expr.is_not_null()
    return value.expr.str.len_chars() > 0


def _to_string(value: Typed) -> pl.Expr:
    if value.kind in ("string", "multiple"):
        return value.expr
    if value.kind == "boolean":
        return pl.when(value.expr).then(pl.lit("true")).otherwise(pl.lit("false"))
    if value.kind == "number":
        # XPath prints integral numbers without a decimal point ("3", not "3.0")
        integral = value.expr == value.expr.round(0)
        return (
            pl.when(integral)
            .then(value.expr.cast(pl.Int64, strict=False).cast(pl.Utf8))
            .otherwise(value.expr.cast(pl.Utf8))
        )
    return value.expr.cast(pl.Utf8)


def _to_date(value: Typed) -> pl.Expr:
    if value.kind == "date":
        return value.expr
    if value.kind == "number":
        return value.expr.cast(pl.Int32).cast(pl.Date)
    return value.expr.str.to_date("%Y-%m-%d", strict=False)


def _common(left: Typed, right: Typed, equality: bool) -> tuple[pl.Expr, pl.Expr]:
    kinds = {left.kind, right.kind}
    if equality and "boolean" in kinds:
        return _to_boolean(left), _to_boolean(right)
    if "date" in kinds:
        return _to_date(left), _to_date(right)
    if not equality or "number" in kinds:
        return _to_number(left), _to_number(right)
    return _to_string(left), _to_string(right)


_COMPARISONS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ARITHMETIC: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "mod": lambda a, b: a - b * (a / b).cast(pl.Int64, strict=False),
}


def _tokens_of(value: Typed) -> pl.Expr:
    """The space-separated choices of a select_multiple answer as a list (empty answer: empty list)."""
    return _to_string(value).str.extract_all(r"\S+")


def _round(value: pl.Expr, digits: int) -> pl.Expr:
    scale = 10.0**digits
    return (value * scale + 0.5).floor() / scale  # XPath rounds halves up


FUNCTIONS: dict[str, tuple[int, int]] = {
    # name: (fewest, most) arguments
    "selected": (2, 2),
    "count-selected": (1, 1),
    "selected-at": (2, 2),
    "if": (3, 3),
    "not": (1, 1),
    "true": (0, 0),
    "false": (0, 0),
    "coalesce": (2, 2),
    "number": (1, 1),
    "int": (1, 1),
    "round": (1, 2),
    "abs": (1, 1),
    "string": (1, 1),
    "concat": (1, 99),
    "string-length": (1, 1),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "boolean": (1, 1),
    "today": (0, 0),
    "date": (1, 1),
}


class _Translator:
    def __init__(self, expression: str, instrument: Instrument, current: str | None, blank_as_empty: bool):
        self.expression = expression
        self.instrument = instrument
        self.current = current
        self.blank_as_empty = blank_as_empty

    def field(self, name: str) -> Typed:
        if not self.instrument.has(name):
            raise SpecError(
                f"The expression {self.expression!r} names '${{{name}}}', "
                "which the questionnaire does not have.",
                "Check the spelling against the survey sheet's name column.",
            )
        question_type = self.instrument.question(name).type
        column = pl.col(name)
        if question_type in NUMERIC_TYPES:
            return Typed(column.cast(pl.Float64, strict=False), "number")
        if question_type in DATE_TYPES:
            return Typed(column, "date")
        text = column.cast(pl.Utf8)
        if self.blank_as_empty:
            text = text.fill_null("")
        return Typed(text, "multiple" if question_type in MULTIPLE_TYPES else "string")

    def translate(self, node: Node) -> Typed:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return Typed(pl.lit(node.value, dtype=pl.Utf8), "string")
            return Typed(pl.lit(node.value, dtype=pl.Float64), "number")
        if isinstance(node, FieldRef):
            return self.field(node.name)
        if isinstance(node, Current):
            if self.current is None:
                raise SpecError(
                    f"The expression {self.expression!r} uses '.', which only has a meaning in a "
                    "question's constraint or relevance.",
                    "Name the field as ${name}.",
                )
            return self.field(self.current)
        if isinstance(node, Negative):
            return Typed(-_to_number(self.translate(node.operand)), "number")
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: Binary) -> Typed:
        left, right = self.translate(node.left), self.translate(node.right)
        if node.operator == "and":
            return Typed(_to_boolean(left) & _to_boolean(right), "boolean")
        if node.operator == "or":
            return Typed(_to_boolean(left) | _to_boolean(right), "boolean")
        if node.operator in _COMPARISONS:
            a, b = _common(left, right, equality=node.operator in ("=", "!="))
            return Typed(_COMPARISONS[node.operator](a, b), "boolean")
        return Typed(_ARITHMETIC[node.operator](_to_number(left), _to_number(right)), "number")

    def call(self, node: Call) -> Typed:
        name, arguments = node.function, node.arguments
        if name not in FUNCTIONS:
            what = (
                "is not supported by retour"
                if name in UNSUPPORTED_FUNCTIONS
                else "is not a function retour knows"
            )
            raise SpecError(
                f"In the expression {self.expression!r}, {name}() {what}.",
                _HINT + ", ".join(f"{function}()" for function in FUNCTIONS) + ".",
            )
        fewest, most = FUNCTIONS[name]
        if not fewest <= len(arguments) <= most:
            expected = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise SpecError(
                f"In the expression {self.expression!r}, {name}() takes {expected} argument(s), "
                f"not {len(arguments)}."
            )
        values = [self.translate(argument) for argument in arguments]
        if name == "selected" and isinstance(arguments[1], Literal) and isinstance(arguments[1].value, str):
            return _selected(values, arguments[1].value)
        if name == "round" and len(arguments) == 2:
            digits = arguments[1]
            if not isinstance(digits, Literal) or isinstance(digits.value, str):
                raise SpecError(
                    f"In the expression {self.expression!r}, round() needs a number of digits "
                    "written as a number, e.g. round(${x}, 2)."
                )
            return Typed(_round(_to_number(values[0]), int(digits.value)), "number")
        return _CALLS[name](values)


def _if(values: list[Typed]) -> Typed:
    condition, then, otherwise = values
    kinds = {then.kind, otherwise.kind}
    if kinds == {"number"}:
        a, b, kind = then.expr, otherwise.expr, "number"
    elif kinds == {"boolean"}:
        a, b, kind = then.expr, otherwise.expr, "boolean"
    elif kinds == {"date"}:
        a, b, kind = then.expr, otherwise.expr, "date"
    else:
        a, b, kind = _to_string(then), _to_string(otherwise), "string"
    return Typed(pl.when(_to_boolean(condition)).then(a).otherwise(b), kind)


def _coalesce(values: list[Typed]) -> Typed:
    first, second = values
    if first.kind == second.kind == "number":
        return Typed(pl.coalesce(first.expr, second.expr), "number")
    a, b = _to_string(first), _to_string(second)
    return Typed(pl.when(a.is_null() | (a == "")).then(b).otherwise(a), "string")


def _selected(values: list[Typed], choice_literal: str | None = None) -> Typed:
    """True where the answer holds the choice; false where it does not or is missing (ODK's empty answer)."""
    answer, choice = values
    text = _to_string(answer).fill_null("")
    if choice_literal is not None:  # the usual case: one regex scan, much faster than splitting into lists
        pattern = rf"(?:^|\s){re.escape(choice_literal)}(?:\s|$)"
        return Typed(text.str.contains(pattern), "boolean")
    return Typed(text.str.extract_all(r"\S+").list.contains(_to_string(choice)).fill_null(False), "boolean")


def _count_selected(values: list[Typed]) -> Typed:
    """Choices in the answer; 0 where it is missing (ODK's empty answer). Counting the words directly:
    no list per row, a third of the time of splitting."""
    return Typed(_to_string(values[0]).fill_null("").str.count_matches(r"\S+").cast(pl.Float64), "number")


def _selected_at(values: list[Typed]) -> Typed:
    answer, position = values
    index = _to_number(position).cast(pl.Int64, strict=False)
    return Typed(_tokens_of(answer).list.get(index, null_on_oob=True), "string")


def _int(values: list[Typed]) -> Typed:
    return Typed(_to_number(values[0]).cast(pl.Int64, strict=False).cast(pl.Float64), "number")


_CALLS: dict[str, Callable[[list[Typed]], Typed]] = {
    "selected": _selected,
    "count-selected": _count_selected,
    "selected-at": _selected_at,
    "if": _if,
    "not": lambda v: Typed(~_to_boolean(v[0]), "boolean"),
    "true": lambda v: Typed(pl.lit(True), "boolean"),
    "false": lambda v: Typed(pl.lit(False), "boolean"),
    "boolean": lambda v: Typed(_to_boolean(v[0]), "boolean"),
    "coalesce": _coalesce,
    "number": lambda v: Typed(_to_number(v[0]), "number"),
    "int": _int,
    "round": lambda v: Typed(_round(_to_number(v[0]), 0), "number"),
    "abs": lambda v: Typed(_to_number(v[0]).abs(), "number"),
    "string": lambda v: Typed(_to_string(v[0]), "string"),
    "concat": lambda v: Typed(pl.concat_str([_to_string(x).fill_null("") for x in v]), "string"),
    "string-length": lambda v: Typed(_to_string(v[0]).str.len_chars().cast(pl.Float64), "number"),
    "contains": lambda v: Typed(_to_string(v[0]).str.contains(_to_string(v[1]), literal=True), "boolean"),
    "starts-with": lambda v: Typed(_to_string(v[0]).str.starts_with(_to_string(v[1])), "boolean"),
    "today": lambda v: Typed(pl.lit(dt.date.today()), "date"),
    "date": lambda v: Typed(_to_date(v[0]), "date"),
}


def translate(
    expression: str, instrument: Instrument, current: str | None = None, blank_as_empty: bool = False
) -> Typed:
    """Like `to_polars`, but also gives the XPath type of the result (boolean, number, string, ...)."""
    return _Translator(str(expression), instrument, current, blank_as_empty).translate(parse(expression))


def to_polars(
    expression: str, instrument: Instrument, current: str | None = None, blank_as_empty: bool = False
) -> pl.Expr:
    """A polars expression computing an XLSForm expression over a frame with one column per field.

    `current` names the field `.` stands for (in a constraint or relevance). SpecError if the expression
    cannot be read, names a field the instrument lacks, or uses an unsupported function.
    """
    return translate(expression, instrument, current, blank_as_empty).expr
