"""Gaps between groups: agreement with svy's contrasts, covariance within the design, BH adjustment."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import false_discovery_control

from retour.errors import EstimationError
from retour.estimate import Design, EstimationSpec, estimate
from retour.gaps import benjamini_hochberg, gaps
from svy_golden import CASES, GOLDEN, TOLERANCE, golden

KEYS = ["community_id", "group_dimension", "indicator_id"]


def _ours(case) -> pl.DataFrame:
    frame = golden.read(GOLDEN / f"svy_data_{case.survey}.csv")
    return gaps(frame, golden.INDICATORS, case.design, case.spec, golden.PAIRS, groups=golden.GROUPS,
                kinds=case.kinds, levels=golden.LEVELS)


def _compare_with_svy(ours: pl.DataFrame, svy: pl.DataFrame) -> None:
    both = svy.join(ours, on=KEYS, how="left", suffix="_ours", validate="1:1")
    assert (both["group_a_ours"] == both["group_a"]).all() and (both["group_b_ours"] == both["group_b"]).all()
    for column in ("difference", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(both[f"{column}_ours"], both[column], **TOLERANCE, err_msg=column)
    tested = both.filter(pl.col("statistic").is_not_null())
    for column in ("statistic", "p_value"):
        np.testing.assert_allclose(tested[f"{column}_ours"], tested[column], rtol=1e-9, atol=1e-12,
                                   err_msg=column)
    untested = both.filter(pl.col("statistic").is_null())  # a zero difference with a zero SE: no test
    assert untested["statistic_ours"].null_count() == untested.height
    assert untested["p_value_ours"].null_count() == untested.height


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_svy_contrasts_golden_files(name: str) -> None:
    reference = golden.read(GOLDEN / f"svy_gaps_{name}.csv")
    assert reference.height > 40
    _compare_with_svy(_ours(CASES[name]), reference)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stratified_wilson", "fpc_wilson", "clustered_logit"])
def test_agrees_with_svy_contrasts_live(name: str) -> None:
    case = CASES[name]
    frame = golden.read(GOLDEN / f"svy_data_{case.survey}.csv")
    _compare_with_svy(_ours(case), golden.svy_gaps(frame, case))


def test_gap_is_the_difference_of_the_estimates_with_their_covariance() -> None:
    """difference = estimate(a) - estimate(b); var(a - b) = var(a) + var(b) - 2 cov(a, b), and the
    covariance matters: women and men share PSUs."""
    case = CASES["stratified_logit"]
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    estimates = estimate(frame, ["paid_job"], case.design, case.spec, groups=("sex",))
    result = gaps(frame, ["paid_job"], case.design, case.spec, {"sex": ("women", "men")})
    for community in ("kita", "all"):
        rows = estimates.filter(pl.col("community_id") == community)
        women = rows.filter(pl.col("group") == "women").row(0, named=True)
        men = rows.filter(pl.col("group") == "men").row(0, named=True)
        gap = result.filter(pl.col("community_id") == community).row(0, named=True)
        assert (gap["group_a"], gap["group_b"]) == ("women", "men")
        assert gap["difference"] == pytest.approx(women["estimate"] - men["estimate"], rel=1e-12)
        assert (gap["n_a"], gap["n_b"]) == (women["n"], men["n"])
        independent = np.sqrt(women["se"] ** 2 + men["se"] ** 2)
        assert abs(gap["se"] - independent) > 1e-4


def test_groups_in_disjoint_strata_are_independent() -> None:
    """When a and b never share a stratum the covariance is 0: se^2 = se_a^2 + se_b^2."""
    rng = np.random.default_rng(11)
    n = 300
    urban = rng.random(n) < 0.5
    frame = pl.DataFrame({
        "community_id": "kita", "stratum": np.where(urban, "u", "r"),
        "psu": [f"{'u' if u else 'r'}{k}" for u, k in zip(urban, rng.integers(0, 6, n), strict=True)],
        "weight": rng.uniform(1, 4, n), "area_type": np.where(urban, "urban", "rural"),
        "has_job": (rng.random(n) < np.where(urban, 0.6, 0.4)).astype(float),
    })
    spec = EstimationSpec()
    estimates = estimate(frame, ["has_job"], Design(), spec, groups=("area_type",))
    gap = gaps(frame, ["has_job"], Design(), spec, {"area_type": ("urban", "rural")}).filter(
        pl.col("community_id") == "kita").row(0, named=True)
    se = dict(estimates.filter(pl.col("community_id") == "kita").select("group", "se").iter_rows())
    assert gap["se"] == pytest.approx(np.sqrt(se["urban"] ** 2 + se["rural"] ** 2), rel=1e-10)
    assert gap["difference"] > 0 and gap["p_value"] < 0.05


def test_output_follows_the_gaps_contract() -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    result = gaps(frame, ["paid_job", "household_size"], Design("stratum", "psu", "weight"),
                  EstimationSpec(min_cell=10), golden.PAIRS, kinds={"household_size": "mean"})
    assert result.columns == ["community_id", "group_dimension", "group_a", "group_b", "indicator_id",
                              "difference", "se", "ci_low", "ci_high", "statistic", "p_value", "p_adjusted",
                              "n_a", "n_b", "suppressed"]
    assert result.height == 4 * 4 * 2  # (3 communities + all) x 4 dimensions x 2 indicators
    communities = result["community_id"].unique(maintain_order=True).to_list()
    assert communities == ["bafoulabe", "kati", "kita", "all"]
    pairs = set(result.select("group_dimension", "group_a", "group_b").unique().iter_rows())
    assert pairs == {(d, a, b) for d, (a, b) in golden.PAIRS.items()}
    assert (result["suppressed"] == ((result["n_a"] < 10) | (result["n_b"] < 10))).all()
    kati_age = result.filter(pl.col("community_id") == "kati", pl.col("group_dimension") == "age_band")
    assert kati_age["difference"].null_count() == kati_age.height  # nobody aged 25-34 in kati
    assert kati_age["suppressed"].all()


def test_p_values_are_adjusted_across_the_whole_table() -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    result = gaps(frame, list(golden.INDICATORS), Design("stratum", "psu", "weight"), EstimationSpec(),
                  golden.PAIRS, kinds=golden.KINDS)
    tested = result.filter(pl.col("p_value").is_not_null())
    assert tested.height > 50
    np.testing.assert_allclose(tested["p_adjusted"], false_discovery_control(tested["p_value"].to_numpy()),
                               rtol=1e-12)
    untested = result.filter(pl.col("p_value").is_null())
    assert untested["p_adjusted"].null_count() == untested.height
    assert (tested["p_adjusted"] >= tested["p_value"]).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 1.0), st.just(float("nan"))), min_size=1, max_size=60))
def test_benjamini_hochberg_matches_scipy(p_values: list[float]) -> None:
    p = np.array(p_values)
    adjusted = benjamini_hochberg(p)
    finite = np.isfinite(p)
    assert np.isnan(adjusted[~finite]).all()
    if finite.any():
        np.testing.assert_allclose(adjusted[finite], false_discovery_control(p[finite]), rtol=1e-12,
                                   atol=1e-15)


def test_gaps_need_their_dimension_among_the_groups() -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    with pytest.raises(EstimationError, match="dimensions that are not groups: sex") as error:
        gaps(frame, ["paid_job"], Design("stratum", "psu", "weight"), EstimationSpec(),
             {"sex": ("women", "men")}, groups=("migration_status",))
    assert error.value.hint


def test_any_catalogue_gets_the_gaps_of_the_groups_that_compare() -> None:
    """Groups are data (issue 15): other ids and levels than any shipped study, gaps for exactly the groups
    with `compare`, a - b in the order `compare` gives, rows in catalogue order of groups and levels."""
    from types import SimpleNamespace

    from retour.indicators import Group
    from retour.study.index import compared_levels, group_levels

    catalogue = SimpleNamespace(groups=(
        Group("gender", "Genre", "Gender", ("female", "male"), "e", compare=("female", "male")),
        Group("household_head", "Chef", "Head", ("head", "not_head"), "e", compare=("head", "not_head")),
        Group("marital", "Union", "Marital", ("single", "married"), "e"),
        Group("return_status", "Retour", "Return", ("stayed", "returned"), "e",
              compare=("returned", "stayed")),
    ))
    levels, pairs = group_levels(catalogue), compared_levels(catalogue)
    rng = np.random.default_rng(15)
    n = 600
    community = rng.choice(["c1", "c2"], n)
    returned = rng.random(n) < 0.4
    frame = pl.DataFrame({
        "community_id": community, "stratum": community,
        "psu": [f"{c}-{k}" for c, k in zip(community, rng.integers(0, 6, n), strict=True)],
        "weight": rng.uniform(1, 3, n), "gender": rng.choice(["female", "male"], n),
        "household_head": rng.choice(["head", "not_head"], n),
        "marital": rng.choice(["single", "married"], n),
        "return_status": np.where(returned, "returned", "stayed"),
        "has_job": (rng.random(n) < np.where(returned, 0.6, 0.3)).astype(float),
    })
    groups = tuple(levels)
    estimates = estimate(frame, ["has_job"], Design(), EstimationSpec(), groups=groups, levels=levels)
    result = gaps(frame, ["has_job"], Design(), EstimationSpec(), pairs, groups=groups, levels=levels)

    assert estimates.filter(pl.col("community_id") == "c1")["group"].to_list() == [
        "all", "female", "male", "head", "not_head", "single", "married", "stayed", "returned"]
    compared = result.filter(pl.col("community_id") == "c1").select("group_dimension", "group_a", "group_b")
    assert compared.rows() == [("gender", "female", "male"), ("household_head", "head", "not_head"),
                               ("return_status", "returned", "stayed")]
    assert result["community_id"].unique(maintain_order=True).to_list() == ["c1", "c2", "all"]
    whole = estimates.filter(pl.col("community_id") == "all", pl.col("group_dimension") == "return_status")
    mean = dict(whole.select("group", "estimate").iter_rows())
    gap = result.filter(pl.col("community_id") == "all", pl.col("group_dimension") == "return_status")
    assert gap["difference"][0] == pytest.approx(mean["returned"] - mean["stayed"], rel=1e-12)
    assert gap["difference"][0] > 0 and gap["p_value"][0] < 0.05
