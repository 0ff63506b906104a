"""The index build: hand-computed operators, invariants, the study's Tableau 1 rule, goalposts, the spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from retour.errors import EstimationError, SpecError
from retour.index import (
    AGGREGATORS,
    NORMALISERS,
    Goalpost,
    IndexIndicator,
    IndexSpec,
    MethodAlternatives,
    build,
    frozen_goalposts,
    rank_scores,
)
from retour.index.normalise import Orientation

TABLEAU_1 = Path(__file__).parent / "golden" / "index_tableau_1.csv"


def normalise(name: str, values: list[float], higher_is_better: bool = True,
              low: float | None = None, high: float | None = None) -> list[float]:
    """One indicator across communities, through a registered normaliser."""
    column = np.array(values, dtype=float)[None, :, None]
    low_array = np.array([[[np.nanmin(column) if low is None else low]]])
    high_array = np.array([[[np.nanmax(column) if high is None else high]]])
    orientation = Orientation(np.array([higher_is_better]), low_array, high_array)
    return NORMALISERS[name].function(column, orientation)[0, :, 0].tolist()


def aggregate(name: str, values: list[float], weights: list[float], floor: float = 0.01) -> float:
    return float(AGGREGATORS[name].function(np.array(values), np.array(weights), floor=floor))


def estimates_frame(values: dict[str, dict[str, float]]) -> pl.DataFrame:
    """Contract-4 estimates (group 'all') from {community: {indicator: estimate}}, plus distractor rows."""
    rows = [{"community_id": community, "group_dimension": "all", "group": "all", "indicator_id": indicator,
             "estimate": estimate, "suppressed": False}
            for community, by_indicator in values.items() for indicator, estimate in by_indicator.items()]
    first = next(iter(values.values()))
    rows += [{"community_id": "all", "group_dimension": "all", "group": "all", "indicator_id": indicator,
              "estimate": 0.5, "suppressed": False} for indicator in first]
    rows += [{"community_id": community, "group_dimension": "sex", "group": "women",
              "indicator_id": indicator, "estimate": 0.99, "suppressed": False}
             for community in values for indicator in first]
    return pl.DataFrame(rows)


def simple_spec(**changes) -> IndexSpec:
    indicators = (IndexIndicator("job", "economic"), IndexIndicator("food_cut", "economic", False, 3.0),
                  IndexIndicator("water", "social"), IndexIndicator("calm", "psychosocial"))
    return IndexSpec(indicators=indicators, **changes)


SIMPLE = {
    "a": {"job": 0.2, "food_cut": 0.4, "water": 0.3, "calm": 0.9},
    "b": {"job": 0.5, "food_cut": 0.1, "water": 0.6, "calm": 0.5},
    "c": {"job": 0.8, "food_cut": 0.7, "water": 0.9, "calm": 0.1},
}


# --- normalisers, by hand ---------------------------------------------------------------------------------
def test_minmax_puts_the_best_at_1_and_reverses_when_lower_is_better():
    assert normalise("minmax", [0.2, 0.5, 0.8]) == pytest.approx([0.0, 0.5, 1.0])
    assert normalise("minmax", [0.2, 0.5, 0.8], higher_is_better=False) == pytest.approx([1.0, 0.5, 0.0])


def test_minmax_with_frozen_goalposts_can_leave_0_to_1():
    assert normalise("minmax", [0.1, 0.4, 0.8], low=0.2, high=0.6) == pytest.approx([-0.25, 0.5, 1.5])


def test_goalposts_normaliser_uses_the_fixed_goalposts():
    assert normalise("goalposts", [0.25, 0.5, 0.75], low=0.0, high=0.5) == pytest.approx([0.5, 1.0, 1.5])
    assert normalise("goalposts", [0.25, 0.5], False, low=0.0, high=0.5) == pytest.approx([0.5, 0.0])


def test_zscore_by_hand():
    assert normalise("zscore", [1.0, 2.0, 3.0]) == pytest.approx([-1.0, 0.0, 1.0])
    assert normalise("zscore", [1.0, 2.0, 3.0], higher_is_better=False) == pytest.approx([1.0, 0.0, -1.0])


def test_rank_shares_ties_and_scales_to_0_1():
    assert normalise("rank", [0.3, 0.1, 0.3, 0.9]) == pytest.approx([0.5, 0.0, 0.5, 1.0])
    assert normalise("rank", [0.3, 0.1, 0.9], higher_is_better=False) == pytest.approx([0.5, 1.0, 0.0])


def test_distance_to_best_is_the_share_of_the_best():
    assert normalise("distance_to_best", [0.2, 0.4, 0.8]) == pytest.approx([0.25, 0.5, 1.0])
    assert normalise("distance_to_best", [0.2, 0.4, 0.8], False) == pytest.approx([1.0, 0.5, 0.25])
    assert normalise("distance_to_best", [0.0, 0.5], False) == pytest.approx([1.0, 0.0])


def test_distance_to_best_refuses_negative_values():
    with pytest.raises(SpecError, match="0 or more"):
        normalise("distance_to_best", [-0.2, 0.4])


@pytest.mark.parametrize("name", ["minmax", "zscore", "rank"])
def test_an_indicator_that_does_not_vary_gives_the_middle(name):
    expected = 0.0 if name == "zscore" else 0.5
    assert normalise(name, [0.4, 0.4, 0.4]) == pytest.approx([expected] * 3)


@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_missing_values_stay_missing(name):
    result = normalise(name, [0.2, float("nan"), 0.8], low=0.0, high=1.0)
    assert np.isnan(result[1]) and not np.isnan(result[0]) and not np.isnan(result[2])


# --- aggregators, by hand ---------------------------------------------------------------------------------
def test_arithmetic_weighted_mean_by_hand():
    assert aggregate("arithmetic", [0.2, 0.6], [1, 3]) == pytest.approx(0.5)


def test_geometric_mean_by_hand_and_its_floor_for_zeros():
    assert aggregate("geometric", [0.25, 1.0], [1, 1]) == pytest.approx(0.5)
    assert aggregate("geometric", [0.0, 1.0], [1, 1]) == pytest.approx(0.1)  # sqrt(0.01 * 1)
    assert aggregate("geometric", [0.0, 1.0], [1, 1], floor=0.04) == pytest.approx(0.2)


def test_harmonic_mean_by_hand():
    assert aggregate("harmonic", [0.25, 1.0], [1, 1]) == pytest.approx(0.4)  # 2 / (4 + 1)


def test_weighted_median_by_hand():
    assert aggregate("median", [0.1, 0.9, 0.5], [1, 1, 1]) == pytest.approx(0.5)
    assert aggregate("median", [0.4, 0.1, 0.3, 0.2], [1, 1, 1, 1]) == pytest.approx(0.25)
    assert aggregate("median", [0.1, 0.5, 0.9], [1, 1, 3]) == pytest.approx(0.9)


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_missing_components_are_left_out(name):
    assert aggregate(name, [0.4, float("nan"), 0.4], [1, 5, 1]) == pytest.approx(0.4)
    assert np.isnan(aggregate(name, [float("nan"), float("nan")], [1, 1]))


def test_arithmetic_renormalises_weights_over_present_components():
    assert aggregate("arithmetic", [0.2, float("nan"), 0.6], [1, 5, 1]) == pytest.approx(0.4)


# --- invariants -------------------------------------------------------------------------------------------
values_strategy = arrays(np.float64, st.integers(2, 9), elements=st.floats(0, 1000, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(values=values_strategy, higher=st.booleans(),
       name=st.sampled_from(["minmax", "rank", "distance_to_best"]))
def test_unit_scale_normalisers_stay_within_0_1_and_keep_order(values, higher, name):
    result = np.array(normalise(name, values.tolist(), higher))
    assert np.all(result >= -1e-12) and np.all(result <= 1 + 1e-12)
    _check_order(values, result, higher)


@settings(max_examples=200, deadline=None)
@given(values=values_strategy, higher=st.booleans())
def test_zscore_stays_within_its_bound_and_keeps_order(values, higher):
    result = np.array(normalise("zscore", values.tolist(), higher))
    count = values.size
    assert np.all(np.abs(result) <= (count - 1) / np.sqrt(count) + 1e-9)
    _check_order(values, result, higher)


def _check_order(values: np.ndarray, result: np.ndarray, higher: bool) -> None:
    for i in range(values.size):
        for j in range(values.size):
            if values[i] < values[j]:
                assert (result[i] <= result[j] + 1e-12) if higher else (result[i] >= result[j] - 1e-12)
            elif values[i] == values[j]:
                assert result[i] == pytest.approx(result[j])


@settings(max_examples=200, deadline=None)
@given(values=arrays(np.float64, 5, elements=st.floats(0.01, 1)),
       weights=arrays(np.float64, 5, elements=st.floats(0.1, 10)),
       scale=st.floats(0.01, 100), name=st.sampled_from(sorted(AGGREGATORS)))
def test_scaling_all_weights_changes_nothing(values, weights, scale, name):
    original = aggregate(name, values.tolist(), weights.tolist())
    assert aggregate(name, values.tolist(), (weights * scale).tolist()) == pytest.approx(original, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(0.01, 1), count=st.integers(1, 8), name=st.sampled_from(sorted(AGGREGATORS)),
       weights=arrays(np.float64, 8, elements=st.floats(0.1, 10)))
def test_aggregating_equal_values_returns_that_value(value, count, name, weights):
    assert aggregate(name, [value] * count, weights[:count].tolist()) == pytest.approx(value, rel=1e-9)


# --- the build --------------------------------------------------------------------------------------------
def test_build_keeps_every_stage_and_hand_computed_scores():
    result = build(estimates_frame(SIMPLE), simple_spec())
    assert result.communities == ("a", "b", "c")
    assert result.raw.filter(community_id="a", indicator_id="job")["value"].item() == pytest.approx(0.2)
    normalised = {(r["community_id"], r["indicator_id"]): r["normalised"]
                  for r in result.normalised.iter_rows(named=True)}
    assert normalised["a", "food_cut"] == pytest.approx(0.5)  # (0.7 - 0.4) / 0.6, lower is better
    assert normalised["b", "food_cut"] == pytest.approx(1.0)
    pillars = {(r["community_id"], r["pillar"]): r["score"] for r in result.pillars.iter_rows(named=True)}
    assert pillars["a", "economic"] == pytest.approx((0.0 + 3 * 0.5) / 4)
    assert pillars["b", "economic"] == pytest.approx((0.5 + 3 * 1.0) / 4)
    assert pillars["c", "economic"] == pytest.approx((1.0 + 3 * 0.0) / 4)
    composite = dict(result.composite.select("community_id", "score").iter_rows())
    assert composite["a"] == pytest.approx((0.375 + 0.0 + 1.0) / 3)
    assert composite["b"] == pytest.approx((0.875 + 0.5 + 0.5) / 3)
    assert dict(result.composite.select("community_id", "rank").iter_rows()) == {"a": 2, "b": 1, "c": 3}
    assert result.goalposts.filter(indicator_id="food_cut").row(0) == (
        "food_cut", pytest.approx(0.1), pytest.approx(0.7), "lower_is_better")


def test_equal_weights_ignore_the_catalogue_weights():
    result = build(estimates_frame(SIMPLE), simple_spec(weights="equal"))
    score = result.pillars.filter(community_id="a", pillar="economic")["score"].item()
    assert score == pytest.approx((0.0 + 0.5) / 2)


def test_contributions_add_up_to_the_arithmetic_scores():
    result = build(estimates_frame(SIMPLE), simple_spec())
    sums = result.contributions.group_by("community_id", "pillar").agg(pl.col("contribution").sum())
    scores = result.scores().join(sums, on=["community_id", "pillar"])
    assert scores["contribution"].to_list() == pytest.approx(scores["score"].to_list())
    row = result.contributions.filter(community_id="a", component="food_cut").row(0, named=True)
    assert row["weight"] == 3.0 and row["contribution"] == pytest.approx(3.0 * 0.5 / 4.0)


def test_a_suppressed_estimate_is_left_out_of_its_pillar():
    frame = estimates_frame(SIMPLE).with_columns(
        suppressed=(pl.col("community_id") == "a") & (pl.col("indicator_id") == "food_cut")
        & (pl.col("group_dimension") == "all"))
    result = build(frame, simple_spec())
    assert result.normalised.filter(community_id="a", indicator_id="food_cut")["normalised"].item() is None
    # food_cut now spans 0.1 .. 0.7 over b and c only; a's economic pillar is its job score alone
    assert result.pillars.filter(community_id="a", pillar="economic")["score"].item() == pytest.approx(0.0)


def test_scores_frame_orders_pillars_then_ranks():
    scores = build(estimates_frame(SIMPLE), simple_spec()).scores()
    assert scores["pillar"].unique(maintain_order=True).to_list() == ["economic", "social", "psychosocial",
                                                                      "composite"]
    assert scores.filter(pillar="composite")["rank"].to_list() == [1, 2, 3]


def test_ranks_share_the_best_rank_on_ties():
    scores = np.array([[0.5], [0.9], [0.5], [np.nan], [0.1]])
    assert rank_scores(scores)[:, 0].tolist()[:3] == [2.0, 1.0, 2.0]
    assert np.isnan(rank_scores(scores)[3, 0]) and rank_scores(scores)[4, 0] == 4.0


def test_build_says_which_indicators_have_no_estimates():
    frame = estimates_frame(SIMPLE).filter(pl.col("indicator_id") != "water")
    with pytest.raises(EstimationError, match="water"):
        build(frame, simple_spec())


def test_build_refuses_several_rounds():
    frame = pl.concat([estimates_frame(SIMPLE).with_columns(round=pl.lit(name))
                       for name in ("baseline", "final")])
    with pytest.raises(EstimationError, match="several rounds"):
        build(frame, simple_spec())


# --- the study's Tableau 1 --------------------------------------------------------------------------------
def published_tableau_1() -> dict[str, dict[str, tuple[float, int]]]:
    """{community: {pillar: (score, rank)}} as printed in Tableau 1 of the 2018 study."""
    table = pl.read_csv(TABLEAU_1, comment_prefix="#")
    published: dict[str, dict[str, tuple[float, int]]] = {}
    for row in table.iter_rows(named=True):
        published.setdefault(row["community_id"], {})[row["pillar"]] = (row["score"], row["rank"])
    return published


def test_the_default_rule_rebuilds_the_published_tableau_1_composite():
    published = published_tableau_1()
    pillar_scores = {community: {f"{p}_score": values[p][0] for p in ("economic", "social", "psychosocial")}
                     for community, values in published.items()}
    # One indicator per pillar equal to the published pillar score; goalposts 0..1 leave it unchanged.
    indicators = tuple(IndexIndicator(f"{p}_score", p) for p in ("economic", "social", "psychosocial"))
    spec = IndexSpec(indicators=indicators, normalisation="goalposts",
                     goalposts=tuple(Goalpost(i.indicator_id, 0.0, 1.0) for i in indicators))
    result = build(estimates_frame(pillar_scores), spec)
    assert len(result.communities) == 7
    for row in result.composite.iter_rows(named=True):
        score, rank = published[row["community_id"]]["composite"]
        assert round(row["score"], 2) == pytest.approx(score, abs=1e-9), row["community_id"]
        assert row["rank"] == rank, row["community_id"]
    for row in result.pillars.iter_rows(named=True):
        assert row["rank"] == published[row["community_id"]][row["pillar"]][1]


# --- goalposts across rounds ------------------------------------------------------------------------------
BASELINE = {"a": {"job": 0.2, "food_cut": 0.5, "water": 0.3, "calm": 0.4},
            "b": {"job": 0.5, "food_cut": 0.3, "water": 0.5, "calm": 0.6},
            "c": {"job": 0.8, "food_cut": 0.1, "water": 0.7, "calm": 0.8}}
# Everyone improves by the same amount: job, water and calm up 0.1, food cuts down 0.1.
MIDTERM = {c: {"job": v["job"] + 0.1, "food_cut": v["food_cut"] - 0.1, "water": v["water"] + 0.1,
               "calm": v["calm"] + 0.1} for c, v in BASELINE.items()}


def test_frozen_baseline_goalposts_show_improvement_even_when_everyone_improves():
    baseline = build(estimates_frame(BASELINE), simple_spec())
    relative = build(estimates_frame(MIDTERM), simple_spec())
    midterm_spec = simple_spec().with_goalposts(frozen_goalposts(baseline.goalposts))
    frozen = build(estimates_frame(MIDTERM), midterm_spec)
    before = dict(baseline.composite.select("community_id", "score").iter_rows())
    without = dict(relative.composite.select("community_id", "score").iter_rows())
    after = dict(frozen.composite.select("community_id", "score").iter_rows())
    for community in before:
        assert without[community] == pytest.approx(before[community])  # re-normalising hides the change
        assert after[community] > before[community] + 0.1  # frozen goalposts show it
    assert after["c"] > 1.0  # the best community leaves the 0..1 scale
    assert frozen.goalposts.equals(baseline.goalposts)


def test_fixed_goalposts_from_the_spec_win_over_frozen_ones():
    spec = simple_spec(goalposts=(Goalpost("job", 0.0, 1.0),))
    frozen = spec.with_goalposts([Goalpost("job", 0.2, 0.8), Goalpost("water", 0.3, 0.7)])
    assert dict((g.indicator_id, (g.low, g.high)) for g in frozen.goalposts) == {
        "job": (0.0, 1.0), "water": (0.3, 0.7)}


# --- the spec ---------------------------------------------------------------------------------------------
def test_spec_round_trips_through_json_and_rebuilds_the_same_index():
    spec = simple_spec(aggregation="geometric", geometric_floor=0.05, pillar_weights=(2.0, 1.0, 1.0),
                       goalposts=(Goalpost("job", 0.0, 1.0),),
                       alternatives=MethodAlternatives(normalisations=("minmax", "rank")))
    again = IndexSpec.from_json(spec.to_json())
    assert again == spec
    first, second = build(estimates_frame(SIMPLE), spec), build(estimates_frame(SIMPLE), again)
    assert first.scores().equals(second.scores())


INDEX_TOML = """
normalisation = "minmax"
aggregation = "arithmetic"
weights = "catalogue"
composite = "arithmetic"
goalposts = "reference_round"

[pillar_weights]
economic = 2.0
social = 1.0
psychosocial = 1.0

[fixed_goalposts.water]
low = 0.0
high = 1.0

[alternatives]
normalisations = ["minmax", "rank"]
weights = ["catalogue", "equal"]
aggregations = ["arithmetic", "geometric"]
"""
CATALOGUE = [
    {"id": "job", "pillar": "economic", "higher_is_better": True, "weight": 2},
    {"id": "food_cut", "pillar": "economic", "higher_is_better": False},
    {"id": "water", "pillar": "social"},
    {"id": "calm", "pillar": "psychosocial", "higher_is_better": True},
    {"id": "born_elsewhere", "pillar": "none"},
]


def test_spec_from_toml_and_catalogue(tmp_path):
    path = tmp_path / "index.toml"
    path.write_text(INDEX_TOML, encoding="utf-8")
    spec = IndexSpec.from_toml(path, CATALOGUE, reference_round="first_visit")
    assert spec.reference_round == "first_visit" and spec.pillar_weights == (2.0, 1.0, 1.0)
    assert spec.indicator_ids == ("job", "food_cut", "water", "calm")
    assert spec.indicators[0].weight == 2.0 and spec.indicators[1].higher_is_better is False
    assert spec.goalposts == (Goalpost("water", 0.0, 1.0),)
    assert spec.alternatives.normalisations == ("minmax", "rank")
    assert IndexSpec.from_toml("", CATALOGUE) == IndexSpec(indicators=spec.indicators)


def test_spec_from_toml_reports_every_problem():
    bad = 'normalisation = "minmax"\nweights = "heavy"\n[fixed_goalposts.unknown]\nlow = 0\nhigh = 1\n'
    with pytest.raises(SpecError) as caught:
        IndexSpec.from_toml(bad, CATALOGUE)
    assert "heavy" in str(caught.value) and "unknown" in str(caught.value)


def test_unknown_keys_in_index_toml_are_named():
    with pytest.raises(SpecError, match="unknown key.*normalization"):
        IndexSpec.from_toml('normalization = "minmax"', CATALOGUE)


def test_the_example_study_index_toml_and_catalogue_make_a_valid_spec(example_dir):
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    instrument = load_instrument(example_dir / "instrument.xlsx")
    catalogue = load_catalogue(example_dir / "indicators.toml", instrument)
    spec = IndexSpec.from_toml(example_dir / "index.toml", catalogue)
    assert spec.normalisation == "minmax" and spec.composite == "arithmetic"
    assert spec.composite_weights().tolist() == [1.0, 1.0, 1.0]
    assert {i.pillar for i in spec.indicators} == {"economic", "social", "psychosocial"}
    assert len(spec.indicators) == sum(1 for i in catalogue.indicators if i.pillar != "none")
    assert IndexSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("changes, message", [
    ({"normalisation": "softmax"}, "Unknown normalisation 'softmax'"),
    ({"aggregation": "max"}, "Unknown aggregation 'max'"),
    ({"normalisation": "goalposts"}, "needs goalposts for every indicator"),
    ({"pillars": ("economic", "social")}, "pillar 'psychosocial'"),
    ({"geometric_floor": 0.0}, "geometric_floor"),
    ({"goalposts_from": "yesterday"}, "goalposts = 'yesterday'"),
    ({"goalposts": (Goalpost("job", 0.9, 0.1),)}, "no higher than high"),
])
def test_invalid_specs_say_what_is_wrong(changes, message):
    with pytest.raises(SpecError, match=message):
        simple_spec(**changes)


def test_a_pillar_without_indicators_is_an_error():
    with pytest.raises(SpecError, match="no indicator feeds pillar"):
        IndexSpec(indicators=(IndexIndicator("job", "economic"),))


def _three_per_pillar(extra_social: int = 0) -> tuple[IndexIndicator, ...]:
    return tuple(IndexIndicator(f"{pillar}_{number}", pillar)
                 for pillar in ("economic", "social", "psychosocial")
                 for number in range(3 + (extra_social if pillar == "social" else 0)))


def test_a_pillar_below_the_minimum_is_built_and_named_in_a_warning():
    from retour.index.spec import small_pillar_warnings

    three = IndexSpec(indicators=_three_per_pillar())
    assert three.min_indicators_per_pillar == 3 and small_pillar_warnings(three) == []  # the default
    four = IndexSpec(indicators=_three_per_pillar(extra_social=1), min_indicators_per_pillar=4)
    assert small_pillar_warnings(four) == [
        f"pillar '{pillar}' has 3 indicator(s) ({pillar}_0, {pillar}_1, {pillar}_2), fewer than "
        "min_indicators_per_pillar = 4 in index.toml: its score rests on few estimates. Set pillar = "
        f'"{pillar}" on more indicators in indicators.toml, or lower min_indicators_per_pillar.'
        for pillar in ("economic", "psychosocial")
    ]
    values = {c: {i: v for i, v in zip(four.indicator_ids, np.linspace(0, 1, 13)[k:], strict=False)}
              for k, c in enumerate("abc")}
    assert build(estimates_frame(values), four).scores().height == 3 * 4  # still built
    assert IndexSpec.from_json(four.to_json()) == four


def test_the_pillar_minimum_is_read_from_index_toml_and_checked():
    spec = IndexSpec.from_toml("min_indicators_per_pillar = 2", CATALOGUE)
    assert spec.small_pillars() == {"social": ("water",), "psychosocial": ("calm",)}
    with pytest.raises(SpecError, match="min_indicators_per_pillar must be a whole number of 1 or more"):
        IndexSpec.from_toml("min_indicators_per_pillar = 0", CATALOGUE)
