"""XLSForm expressions translated to polars: values, missing answers, errors, and agreement with Python."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retour.errors import SpecError
from retour.expressions import parse, referenced_choices, referenced_fields, to_polars
from retour.indicators import Indicator, indicator_expression
from retour.schema import Choice, Instrument, Question


def _question(name: str, type_: str, choices: tuple[str, ...] = ()) -> Question:
    return Question(
        name=name,
        type=type_,
        labels={"en": name},
        list_name=name if choices else None,
        choices=tuple(Choice(choice, {"en": choice}) for choice in choices),
    )


INSTRUMENT = Instrument(
    form_id="test",
    version="1",
    title="test",
    languages=("en",),
    questions=(
        _question("a", "integer"),
        _question("b", "integer"),
        _question("x", "decimal"),
        _question("paid_job", "select_one", ("yes", "no")),
        _question("iga", "select_one", ("yes", "no")),
        _question("platforms", "select_multiple", ("whatsapp", "facebook", "viber")),
        _question("name", "text"),
        _question("born", "date"),
        _question("code", "calculate"),
    ),
    choice_lists={},
)


def evaluate(expression: str, frame: pl.DataFrame, **options) -> list:
    return frame.select(to_polars(expression, INSTRUMENT, **options).alias("value"))["value"].to_list()


FRAME = pl.DataFrame(
    {
        "a": [15, 40, None, 20],
        "b": [3, 0, 2, 7],
        "x": [1.5, -2.25, 0.0, None],
        "paid_job": ["yes", "no", None, "no"],
        "iga": ["no", "no", "no", None],
        "platforms": ["whatsapp facebook", "", None, "viber"],
        "name": ["Awa", "", None, "Moussa"],
        "code": ["12", "x", None, "3"],
    }
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${paid_job} = 'yes' or ${iga} = 'yes'", [True, False, None, None]),
        ("${paid_job} = 'yes' and ${iga} = 'yes'", [False, False, False, False]),
        ("${a} >= 15 and ${a} <= 34", [True, False, None, True]),
        ("selected(${platforms}, 'whatsapp')", [True, False, False, False]),  # ODK: a skip is empty
        ("count-selected(${platforms})", [2.0, 0.0, 0.0, 1.0]),
        ("selected(${platforms}, ${paid_job})", [False, False, False, False]),
        ("if(${a} < 18, 'minor', 'adult')", ["minor", "adult", "adult", "adult"]),
        ("not(${paid_job} = 'yes')", [False, True, None, True]),
        ("${a} + ${b} * 2", [21.0, 40.0, None, 34.0]),
        ("${a} div ${b}", [5.0, float("inf"), None, 20 / 7]),
        ("${a} mod ${b}", [0.0, None, None, 6.0]),
        ("-${x}", [-1.5, 2.25, -0.0, None]),
        ("round(${x})", [2.0, -2.0, 0.0, None]),
        ("round(${a} div 7, 2)", [2.14, 5.71, None, 2.86]),
        ("int(${x})", [1.0, -2.0, 0.0, None]),
        ("string-length(${name})", [3.0, 0.0, None, 6.0]),
        ("${code} > 5", [True, None, None, False]),
        ("${a} = '15'", [True, False, None, False]),
        ("coalesce(${name}, 'unknown')", ["Awa", "unknown", "unknown", "Moussa"]),
        ("concat(${name}, '-', ${paid_job})", ["Awa-yes", "-no", "-", "Moussa-no"]),
        ("(${paid_job} = 'yes') + (${iga} = 'no')", [2.0, 1.0, None, None]),
        ("if(true() and not(false()), ${a}, 0)", [15.0, 40.0, None, 20.0]),
    ],
)
def test_values(expression, expected):
    values = evaluate(expression, FRAME)
    assert len(values) == len(expected)
    for value, wanted in zip(values, expected, strict=True):
        if isinstance(wanted, float) and value is not None:
            assert value == pytest.approx(wanted)
        else:
            assert value == wanted


def test_current_field_in_a_constraint():
    assert evaluate(". >= 15 and . <= 34", FRAME, current="a") == [True, False, None, True]


def test_blank_as_empty_reads_missing_answers_as_empty_strings_like_odk():
    assert evaluate("${paid_job} != 'yes'", FRAME) == [False, True, None, True]
    assert evaluate("${paid_job} != 'yes'", FRAME, blank_as_empty=True) == [False, True, True, True]


def test_dates_compare_with_iso_strings():
    frame = pl.DataFrame({"born": pl.Series([None, "2000-01-01", "1990-05-02"]).str.to_date()})
    assert evaluate("${born} < '1995-01-01'", frame) == [None, False, True]


def test_referenced_fields_and_choices():
    expression = "${paid_job} = 'yes' and selected(${platforms}, 'viber') or 'no' != ${iga} and ${a} > 3"
    assert referenced_fields(expression) == {"paid_job", "platforms", "iga", "a"}
    assert referenced_choices(expression) == [("paid_job", "yes"), ("platforms", "viber"), ("iga", "no")]
    assert referenced_choices("not(selected(., 'none'))", current="skills") == [("skills", "none")]
    assert referenced_choices("not(selected(., 'none'))") == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${a} = ", "expected a value at the end"),
        ("(${a} > 1", "expected ')' at the end"),
        ("${a} == 1", "at character 7"),
        ("/data/a = 1", "unexpected '/data/a = 1' at character 1"),
        ("${a b} = 1", "is not a valid field reference"),
        ("regex(${name}, '[0-9]+')", "regex() is not supported by retour"),
        ("frobnicate(${a})", "frobnicate() is not a function retour knows"),
        ("selected(${platforms})", "selected() takes 2 argument(s), not 1"),
        ("${nowhere} = 1", "names '${nowhere}', which the questionnaire does not have"),
        (". > 1", "uses '.', which only has a meaning"),
        ("", "is empty"),
    ],
)
def test_errors_say_what_and_where(expression, message):
    with pytest.raises(SpecError) as caught:
        to_polars(expression, INSTRUMENT)
    assert message in str(caught.value)


def test_parse_follows_xpath_precedence():
    assert parse("1 + 2 * 3 = 7 or 1 > 2 and 0") == parse("((1 + (2 * 3)) = 7) or ((1 > 2) and 0)")
    assert evaluate("1 + 2 * 3 = 7 or 1 > 2 and 0", FRAME.head(1)) == [True]
    assert evaluate("10 - 4 - 3", FRAME.head(1)) == [3.0]  # left-associative


# --- agreement with Python -------------------------------------------------------------------------------

COMPARE = {
    "=": lambda p, q: p == q,
    "!=": lambda p, q: p != q,
    "<": lambda p, q: p < q,
    "<=": lambda p, q: p <= q,
    ">": lambda p, q: p > q,
    ">=": lambda p, q: p >= q,
}
numbers = st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(left=numbers, right_seed=st.integers(-1000, 1000), operator=st.sampled_from(sorted(COMPARE)))
def test_comparisons_agree_with_python(left, right_seed, operator):
    right = [(value + right_seed) % 7 - 3 if value is not None else right_seed for value in left]
    frame = pl.DataFrame({"a": left, "b": right}, schema={"a": pl.Int64, "b": pl.Int64})
    expected = [None if p is None else COMPARE[operator](p, q) for p, q in zip(left, right, strict=True)]
    assert evaluate(f"${{a}} {operator} ${{b}}", frame) == expected


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6)), min_size=1, max_size=30
    ),
    operator=st.sampled_from(["+", "-", "*"]),
)
def test_arithmetic_agrees_with_python(pairs, operator):
    frame = pl.DataFrame({"a": [p for p, _ in pairs], "b": [q for _, q in pairs]})
    python = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q}[operator]
    assert evaluate(f"${{a}} {operator} ${{b}}", frame) == [float(python(p, q)) for p, q in pairs]


def _kleene(operator: str, p: bool | None, q: bool | None) -> bool | None:
    if operator == "and":
        if p is False or q is False:
            return False
        return None if p is None or q is None else True
    if p is True or q is True:
        return True
    return None if p is None or q is None else False


@settings(max_examples=40, deadline=None)
@given(
    answers=st.lists(
        st.tuples(st.sampled_from(["yes", "no", None]), st.sampled_from(["yes", "no", None])),
        min_size=1,
        max_size=20,
    ),
    operator=st.sampled_from(["and", "or"]),
)
def test_missing_answers_follow_three_valued_logic(answers, operator):
    frame = pl.DataFrame(
        {"paid_job": [p for p, _ in answers], "iga": [q for _, q in answers]},
        schema={"paid_job": pl.Utf8, "iga": pl.Utf8},
    )
    truth = [(None if p is None else p == "yes", None if q is None else q == "yes") for p, q in answers]
    expected = [_kleene(operator, p, q) for p, q in truth]
    assert evaluate(f"${{paid_job}} = 'yes' {operator} ${{iga}} = 'yes'", frame) == expected


@settings(max_examples=40, deadline=None)
@given(
    answers=st.lists(
        st.lists(st.sampled_from(["whatsapp", "facebook", "viber"]), unique=True), min_size=1, max_size=20
    ),
    choice=st.sampled_from(["whatsapp", "facebook", "viber"]),
)
def test_selected_and_count_selected_agree_with_python(answers, choice):
    frame = pl.DataFrame({"platforms": [" ".join(answer) for answer in answers]})
    assert evaluate(f"selected(${{platforms}}, '{choice}')", frame) == [
        choice in answer for answer in answers
    ]
    assert evaluate("count-selected(${platforms})", frame) == [float(len(answer)) for answer in answers]


def test_selected_on_a_skipped_question_is_false_so_a_share_of_all_youth_counts_everyone():
    """ODK evaluates selected() of a question skipped by relevance as false (issue 16): an indicator over
    everyone keeps those who were not asked in its denominator; a universe narrows it to those asked."""
    youth = pl.DataFrame({"paid_job": ["yes", "yes", "no", "no"],  # platforms asked only when paid_job = yes
                          "platforms": ["whatsapp", "viber", None, None]})
    share = Indicator(id="uses_whatsapp", label_fr="", label_en="",
                      formula="selected(${platforms}, 'whatsapp')")
    of_those_asked = Indicator(id="uses_whatsapp_if_working", label_fr="", label_en="",
                               formula=share.formula, universe="${paid_job} = 'yes'")
    values = youth.select(indicator_expression(share, INSTRUMENT),
                          indicator_expression(of_those_asked, INSTRUMENT))
    assert values["uses_whatsapp"].to_list() == [1.0, 0.0, 0.0, 0.0]
    assert values["uses_whatsapp"].mean() == 0.25  # a share of all youth, not of the two asked
    assert values["uses_whatsapp_if_working"].to_list() == [1.0, 0.0, None, None]
    assert values["uses_whatsapp_if_working"].mean() == 0.5
    counted = youth.select(to_polars("count-selected(${platforms})", INSTRUMENT).alias("n"))["n"].to_list()
    assert counted == [1.0, 1.0, 0.0, 0.0]
