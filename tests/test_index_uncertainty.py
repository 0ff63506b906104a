"""Survey-bootstrap replicate weights, replicate re-estimation, and score / rank intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from retour.errors import EstimationError
from retour.index import IndexIndicator, IndexSpec, MethodAlternatives, build
from retour.index.replicates import rescaled_bootstrap
from retour.index.uncertainty import (
    method_uncertainty,
    method_variants,
    replicate_estimates,
    sampling_uncertainty,
)

COMMUNITIES = ["bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane"]
PILLARS = ("economic", "social", "psychosocial")


def respondents(seed: int = 7, count: int = 604, indicators: int = 9) -> pl.DataFrame:
    """Contract-3 respondent data: 7 communities, 2 strata each, clusters of about 6, 0/1 indicators."""
    rng = np.random.default_rng(seed)
    community = rng.choice(COMMUNITIES, count)
    area = rng.choice(["urban", "rural"], count)
    cluster = rng.integers(0, 7, count)
    level = {c: rng.uniform(0.2, 0.8, indicators) for c in COMMUNITIES}
    chance = np.array([level[c] for c in community])
    values = (rng.random((count, indicators)) < chance).astype(float)
    values[rng.random((count, indicators)) < 0.05] = np.nan
    frame = pl.DataFrame({
        "_uuid": [f"uuid-{i}" for i in range(count)],
        "community_id": community,
        "stratum": [f"{c}:{a}" for c, a in zip(community, area, strict=True)],
        "psu": [f"{c}:{a}:{k}" for c, a, k in zip(community, area, cluster, strict=True)],
        "weight": rng.uniform(0.5, 2.0, count),
    })
    return frame.with_columns(
        [pl.Series(f"indicator_{j}", values[:, j]).fill_nan(None) for j in range(indicators)])


def spec_for(data: pl.DataFrame, **changes) -> IndexSpec:
    ids = [c for c in data.columns if c.startswith("indicator_")]
    return IndexSpec(indicators=tuple(IndexIndicator(i, PILLARS[j % 3], j % 4 != 3, 1.0 + j % 2)
                                      for j, i in enumerate(ids)), **changes)


def point_estimates(data: pl.DataFrame) -> pl.DataFrame:
    """Weighted means per community (contract-4 rows with group 'all'), computed directly."""
    ids = [c for c in data.columns if c.startswith("indicator_")]
    long = data.unpivot(index=["community_id", "weight"], on=ids, variable_name="indicator_id",
                        value_name="value").drop_nulls("value")
    return (long.group_by("community_id", "indicator_id")
            .agg(estimate=(pl.col("value") * pl.col("weight")).sum() / pl.col("weight").sum(),
                 n=pl.len())
            .with_columns(group_dimension=pl.lit("all"), group=pl.lit("all"), suppressed=pl.lit(False)))


# --- replicate weights -----------------------------------------------------------------------------------
def test_multipliers_of_each_stratum_add_up_to_its_number_of_psus():
    data = respondents()
    weights = rescaled_bootstrap(data, 200, seed=1)
    for stratum in np.unique(weights.stratum):
        members = weights.stratum == stratum
        assert np.allclose(weights.multipliers[members].sum(axis=0), members.sum())
        size = members.sum()
        counts = weights.multipliers[members] * (size - 1) / size  # times each PSU was drawn
        assert np.allclose(counts, np.round(counts)) and np.allclose(counts.sum(axis=0), size - 1)


def test_each_replicate_keeps_the_stratum_total_weight_in_expectation():
    data = respondents()
    weights = rescaled_bootstrap(data, 4000, seed=2)
    matrix = weights.matrix()
    strata = data["stratum"].to_numpy()
    for stratum in np.unique(strata):
        rows = strata == stratum
        totals = matrix[rows].sum(axis=0)
        target = data["weight"].to_numpy()[rows].sum()
        standard_error = totals.std() / np.sqrt(totals.size)
        assert abs(totals.mean() - target) < 4 * standard_error + 1e-9


def test_psus_are_never_split():
    data = respondents()
    weights = rescaled_bootstrap(data, 50, seed=3)
    ratio = weights.matrix() / data["weight"].to_numpy()[:, None]
    frame = pl.DataFrame({"psu": data["psu"], **{f"r{k}": ratio[:, k] for k in range(50)}})
    spread = frame.group_by("psu").agg(pl.all().max() - pl.all().min())
    assert spread.drop("psu").max_horizontal().max() == pytest.approx(0.0)


def test_a_stratum_with_one_psu_keeps_its_weights():
    data = pl.DataFrame({"stratum": ["a", "a", "b", "b", "b"], "psu": ["1", "1", "2", "3", "4"],
                         "weight": [1.0, 2.0, 1.0, 1.0, 1.0]})
    weights = rescaled_bootstrap(data, 30, seed=4)
    assert np.allclose(weights.matrix()[:2], [[1.0], [2.0]])
    assert not np.allclose(weights.matrix()[2:], 1.0)


def test_replicate_weights_are_seeded_and_ignore_row_order():
    data = respondents()
    first = rescaled_bootstrap(data, 20, seed=5).matrix()
    again = rescaled_bootstrap(data, 20, seed=5).matrix()
    other = rescaled_bootstrap(data, 20, seed=6).matrix()
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=1)
    reordered = rescaled_bootstrap(shuffled, 20, seed=5).matrix()
    position = {uuid: i for i, uuid in enumerate(data["_uuid"])}
    back = np.array([position[u] for u in shuffled["_uuid"]])
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.array_equal(reordered, first[back])


def test_bootstrap_variance_of_a_total_matches_the_with_replacement_formula():
    # Rao-Wu with m_h = n_h - 1 reproduces v = sum_h n_h / (n_h - 1) * sum_i (t_hi - mean_h t)^2 on average.
    data = respondents(count=300)
    weights = rescaled_bootstrap(data, 20000, seed=8)
    y = data["indicator_0"].fill_null(0).to_numpy()
    replicate_totals = (weights.matrix() * y[:, None]).sum(axis=0)
    psu_totals = data.with_columns(t=pl.col("weight") * pl.Series(y)).group_by("stratum", "psu").agg(
        pl.col("t").sum())
    expected = 0.0
    for _, group in psu_totals.group_by("stratum"):
        t, size = group["t"].to_numpy(), group.height
        if size > 1:
            expected += size / (size - 1) * ((t - t.mean()) ** 2).sum()
    assert replicate_totals.var() == pytest.approx(expected, rel=0.05)


def test_missing_weights_are_an_error_that_names_the_row():
    data = pl.DataFrame({"stratum": ["a", "a"], "psu": ["1", "2"], "weight": [1.0, None]})
    with pytest.raises(EstimationError, match="row 2"):
        rescaled_bootstrap(data, 10, seed=1)


# --- re-estimation ----------------------------------------------------------------------------------------
def test_replicate_estimates_equal_weighted_means_with_the_replicate_weights():
    data = respondents()
    result = build(point_estimates(data), spec_for(data))
    weights = rescaled_bootstrap(data, 40, seed=9)
    estimates = replicate_estimates(data, result, weights)
    matrix = weights.matrix()
    for community in ("kati", "kirane"):
        for indicator in ("indicator_0", "indicator_5"):
            y = data[indicator].to_numpy().astype(float)
            rows = (data["community_id"].to_numpy() == community) & ~np.isnan(y)
            direct = (matrix[rows] * y[rows, None]).sum(axis=0) / matrix[rows].sum(axis=0)
            c, j = result.communities.index(community), result.spec.indicator_ids.index(indicator)
            assert estimates[:, c, j] == pytest.approx(direct, rel=1e-12)


def test_unit_multipliers_give_back_the_point_estimates():
    data = respondents()
    result = build(point_estimates(data), spec_for(data))
    weights = rescaled_bootstrap(data, 3, seed=1)
    unit = type(weights)(weights.weight, weights.psu, np.ones_like(weights.multipliers), weights.stratum)
    estimates = replicate_estimates(data, result, unit)
    assert np.allclose(estimates, result.value_matrix()[None], rtol=1e-12)


def test_respondents_outside_the_indexed_communities_are_left_out():
    data = respondents()
    result = build(point_estimates(data), spec_for(data))
    extra = data.head(20).with_columns(community_id=pl.lit(None, pl.Utf8), weight=pl.lit(50.0))
    stranger = data.head(20).with_columns(community_id=pl.lit("elsewhere"), weight=pl.lit(50.0))
    widened = pl.concat([data, extra, stranger])
    weights = rescaled_bootstrap(widened, 5, seed=1)
    unit = type(weights)(weights.weight, weights.psu, np.ones_like(weights.multipliers), weights.stratum)
    assert np.allclose(replicate_estimates(widened, result, unit), result.value_matrix()[None], rtol=1e-12)


# --- intervals --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sampled():
    data = respondents()
    result = build(point_estimates(data), spec_for(data))
    return result, data, sampling_uncertainty(data, result, 300, seed=11, level=0.90)


def test_rank_probabilities_sum_to_one_per_community_and_pillar(sampled):
    result, _, uncertainty = sampled
    sums = uncertainty.rank_probabilities.group_by("community_id", "pillar").agg(pl.col("probability").sum())
    assert sums.height == len(result.communities) * 4
    assert sums["probability"].to_list() == pytest.approx([1.0] * sums.height)
    assert set(uncertainty.rank_probabilities["rank"].unique()) <= set(range(1, 8))


def test_intervals_bracket_the_scores_and_are_ordered(sampled):
    result, _, uncertainty = sampled
    rows = result.scores().join(uncertainty.intervals, on=["community_id", "pillar"])
    assert rows.height == 28
    assert (rows["score_low"] <= rows["score_high"]).all() and (rows["rank_low"] <= rows["rank_high"]).all()
    assert rows["rank_low"].min() >= 1 and rows["rank_high"].max() <= 7
    inside = ((rows["score"] >= rows["score_low"]) & (rows["score"] <= rows["score_high"])).mean()
    assert inside >= 0.85


def test_a_higher_level_gives_wider_intervals(sampled):
    result, data, narrow_90 = sampled
    wide = sampling_uncertainty(data, result, 300, seed=11, level=0.99).intervals
    both = narrow_90.intervals.join(wide, on=["community_id", "pillar"], suffix="_99")
    assert (both["score_low_99"] <= both["score_low"] + 1e-12).all()
    assert (both["score_high_99"] >= both["score_high"] - 1e-12).all()


def test_sampling_uncertainty_is_reproducible_from_its_seed(sampled):
    result, data, uncertainty = sampled
    again = sampling_uncertainty(data, result, 300, seed=11, level=0.90)
    assert again.intervals.equals(uncertainty.intervals)


def test_method_analysis_runs_every_combination():
    data = respondents()
    result = build(point_estimates(data), spec_for(data))
    assert len(method_variants(result)) == 4 * 2 * 2
    uncertainty = method_uncertainty(result, level=0.90)
    assert uncertainty.draws == 16 and uncertainty.source == "method"
    sums = uncertainty.rank_probabilities.group_by("community_id", "pillar").agg(pl.col("probability").sum())
    assert sums["probability"].to_list() == pytest.approx([1.0] * sums.height)


def test_method_analysis_with_a_single_choice_has_no_spread():
    data = respondents()
    single = MethodAlternatives(normalisations=("minmax",), weights=("catalogue",),
                                aggregations=("arithmetic",))
    result = build(point_estimates(data), spec_for(data, alternatives=single))
    intervals = method_uncertainty(result).intervals
    rows = result.scores().join(intervals, on=["community_id", "pillar"])
    assert rows["score_low"].to_list() == pytest.approx(rows["score"].to_list())
    assert rows["rank_low"].to_list() == rows["rank"].to_list() == rows["rank_high"].to_list()


def test_method_score_intervals_leave_out_zscores():
    data = respondents()
    only_z = MethodAlternatives(normalisations=("zscore", "minmax"), weights=("equal",),
                                aggregations=("arithmetic",))
    result = build(point_estimates(data), spec_for(data, alternatives=only_z, weights="equal"))
    rows = result.scores().join(method_uncertainty(result).intervals, on=["community_id", "pillar"])
    assert rows["score_low"].to_list() == pytest.approx(rows["score"].to_list())


# --- stored tables -----------------------------------------------------------------------------------------
def test_index_tables_follow_contract_5(sampled):
    from retour.index import IndexSpec as Spec
    from retour.index.tables import index_tables, tableau_1

    result, _, sampling = sampled
    tables = index_tables(result, sampling, method_uncertainty(result))
    scores = tables.index_scores
    assert scores.columns[:8] == ["community_id", "pillar", "score", "rank", "score_low", "score_high",
                                  "rank_low", "rank_high"]
    assert scores.height == 28 and scores.null_count().sum_horizontal().item() == 0
    assert set(tables.index_contributions.columns) >= {"community_id", "pillar", "component", "normalised",
                                                       "weight", "contribution"}
    assert tables.index_goalposts.columns == ["indicator_id", "low", "high", "direction"]
    assert Spec.from_json(tables.index_specs["spec"].item()) == result.spec
    table = tableau_1(scores, result.spec.pillars)
    assert table["pillar"].to_list()[:7] == ["economic"] * 7 and table["pillar"].to_list()[-1] == "composite"
    assert table.filter(pillar="composite")["rank"].to_list() == sorted(
        table.filter(pillar="composite")["rank"].to_list())
