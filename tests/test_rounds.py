"""Change between rounds and difference-in-differences: agreement with svy 0.35, the variance identities,
score changes by the delta method, coverage of a known programme effect, questionnaire changes, needs,
and `retour compare` over a study folder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from retour import store
from retour.cli import main
from retour.comparison import (
    CompareSpec,
    RoundData,
    adjust_within_domains,
    comparability,
    compare,
    fields_answered,
    needs_change,
    questionnaire_changes,
)
from retour.did import difference_in_differences
from retour.errors import EstimationError
from retour.estimate import Design, EstimationSpec, estimate
from retour.index import Goalpost, IndexIndicator, IndexSpec, build
from retour.rounds import TREATMENT, indicator_change, linearise_rounds, link, score_change
from retour.study import compare_rounds

GOLDEN = Path(__file__).parent / "golden"
TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
DOMAIN_KEYS = ["community_id", "group_dimension", "group", "indicator_id"]


def _golden_module():
    script = GOLDEN / "make_svy_change_golden.py"
    spec = importlib.util.spec_from_file_location("make_svy_change_golden", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_svy_change_golden", module)
    spec.loader.exec_module(module)
    return module


golden = _golden_module()


def _stacked(pairing: str, complete: bool = False, treatment: str | None = "programme_group"):
    first, second = golden.make_rounds(complete=complete)
    return linearise_rounds(first, second, golden.INDICATORS, Design(), EstimationSpec(), groups=("sex",),
                            kinds=golden.KINDS, pairing=pairing, treatment=treatment,
                            levels={"sex": ("women", "men")})


def _compare(ours: pl.DataFrame, reference: pl.DataFrame, keys: list[str], value: str = "change") -> None:
    both = reference.join(ours, on=keys, how="left", suffix="_ours", validate="1:1")
    assert both.height == reference.height and both[f"{value}_ours"].null_count() == 0
    for column in (value, "se", "ci_low", "ci_high", "df"):
        np.testing.assert_allclose(both[f"{column}_ours"], both[column], **TOLERANCE, err_msg=column)
    for column in ("statistic", "p_value"):
        if column in reference.columns:
            np.testing.assert_allclose(both[f"{column}_ours"], both[column], rtol=1e-7, err_msg=column)


# --- agreement with svy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pairing", ["independent", "panel"])
def test_changes_agree_with_svy_golden_files(pairing: str) -> None:
    stacked = _stacked(pairing)
    assert stacked.linkage.pairing == pairing
    reference = golden.read(GOLDEN / f"svy_change_{pairing}.csv")
    _compare(indicator_change(stacked), reference, DOMAIN_KEYS)


def test_difference_in_differences_agrees_with_svy_golden_file() -> None:
    reference = golden.read(GOLDEN / "svy_change_did.csv")
    _compare(difference_in_differences(_stacked("panel")), reference, ["community_id", "indicator_id"], "did")


def test_complete_panel_is_the_design_based_mean_of_within_person_differences() -> None:
    """Everyone re-interviewed with the same weight: the change is svy's mean of y_to - y_from."""
    stacked = _stacked("panel", complete=True, treatment=None)
    assert stacked.linkage.linked == stacked.linkage.respondents_from == stacked.linkage.respondents_to
    ours = indicator_change(stacked).filter(pl.col("group_dimension") == "all")
    reference = golden.read(GOLDEN / "svy_change_differences.csv")
    _compare(ours, reference, ["community_id", "indicator_id"])


@pytest.mark.slow
def test_changes_agree_with_svy_live() -> None:
    first, second = golden.make_rounds()
    for pairing in ("independent", "panel"):
        reference = golden.svy_changes(golden.stacked(first, second, pairing))
        _compare(indicator_change(_stacked(pairing)), reference, DOMAIN_KEYS)


def test_golden_data_is_what_the_script_makes() -> None:
    """The goldens' input is the seeded generator's: the first rows and sizes are pinned here."""
    first, second = golden.make_rounds()
    assert (first.height, second.height) == (260, 271)
    assert (first["weight"][0], second["weight"][0]) == pytest.approx((5.459053445845967, 5.948194624172158),
                                                                      rel=1e-15)
    assert second.filter(pl.col("case_id") == "n-twice").height == 2
    rows, _, duplicated = link(first, second, "case_id")
    assert duplicated == 1 and len(rows) == 221


# --- the variance of a change ---------------------------------------------------------------------------


def test_independent_rounds_add_their_variances() -> None:
    first, second = golden.make_rounds()
    stacked = linearise_rounds(first, second, golden.INDICATORS, Design(), EstimationSpec(), groups=(),
                               kinds=golden.KINDS, pairing="independent")
    change = indicator_change(stacked)
    keys = ["community_id", "indicator_id"]
    before, after = (estimate(frame, golden.INDICATORS, Design(), EstimationSpec(), groups=(),
                              kinds=golden.KINDS)
                     .select(*keys, pl.col("estimate").alias(f"estimate_{name}"),
                             pl.col("se").alias(f"se_{name}"))
                     for name, frame in (("a", first), ("b", second)))
    both = change.join(before, on=keys).join(after, on=keys)
    assert both.height == 4 * len(golden.INDICATORS)
    np.testing.assert_allclose(both["change"], both["estimate_b"] - both["estimate_a"], rtol=1e-12)
    np.testing.assert_allclose(both["se"] ** 2, both["se_a"] ** 2 + both["se_b"] ** 2, rtol=1e-10)


def _linearised_values(frame: pl.DataFrame, member: np.ndarray, indicator: str) -> np.ndarray:
    """z_i = w_i (y_i - ybar) / sum(w) over the domain's answers, 0 elsewhere (textbook, one domain)."""
    y = frame[indicator].to_numpy().astype(float)
    w = frame["weight"].to_numpy()
    used = member & ~np.isnan(y)
    ybar = np.sum(w[used] * y[used]) / np.sum(w[used])
    return np.where(used, w * (np.nan_to_num(y) - ybar) / np.sum(w[used]), 0.0)


def test_panel_variance_is_var_a_plus_var_b_minus_twice_the_linked_covariance() -> None:
    """v(b - a) = v(a) + v(b) - 2 cov(a, b), each from PSU totals of linearised values, one PSU at a time."""
    first, second = golden.make_rounds()
    stacked_frame = golden.stacked(first, second, "panel")  # linked respondents in their first-round PSU
    ours = indicator_change(_stacked("panel")).filter(pl.col("group_dimension") == "all")
    for community in ("kita", "all"):
        for indicator in golden.INDICATORS:
            in_domain = np.ones(stacked_frame.height, dtype=bool) if community == "all" else (
                stacked_frame["community_id"] == community).to_numpy()
            is_b = (stacked_frame["round"] == "b").to_numpy()
            z_a = _linearised_values(stacked_frame, in_domain & ~is_b, indicator)
            z_b = _linearised_values(stacked_frame, in_domain & is_b, indicator)
            totals: dict[tuple[str, str], np.ndarray] = {}
            for key, za, zb in zip(zip(stacked_frame["stratum"], stacked_frame["psu"], strict=True), z_a, z_b,
                                   strict=True):
                totals[key] = totals.get(key, np.zeros(2)) + (za, zb)
            variance_a = variance_b = covariance = 0.0
            for stratum in set(s for s, _ in totals):
                psu_totals = np.array([t for (s, _), t in totals.items() if s == stratum])
                n_h = len(psu_totals)
                centred = psu_totals - psu_totals.mean(axis=0)
                factor = n_h / (n_h - 1)
                variance_a += factor * np.sum(centred[:, 0] ** 2)
                variance_b += factor * np.sum(centred[:, 1] ** 2)
                covariance += factor * np.sum(centred[:, 0] * centred[:, 1])
            assert covariance > 0  # linked respondents answer alike at both times
            row = ours.filter((pl.col("community_id") == community) & (pl.col("indicator_id") == indicator))
            se = row["se"][0]
            assert se**2 == pytest.approx(variance_a + variance_b - 2 * covariance, rel=1e-10)


# --- pillar and composite scores ------------------------------------------------------------------------

SCORE_SPEC = IndexSpec(
    indicators=(IndexIndicator("paid_job", "economic"),
                IndexIndicator("household_size", "economic", False, 2.0),
                IndexIndicator("can_borrow", "social")),
    pillars=("economic", "social"),
    goalposts=(Goalpost("paid_job", 0.2, 0.6), Goalpost("household_size", 5.0, 10.0),
               Goalpost("can_borrow", 0.1, 0.5)),
)


def _slopes(spec: IndexSpec, pillar: str) -> dict[str, float]:
    """dS/dx of a pillar (or the composite) under min-max with fixed goalposts: weight x orientation /
    (sum of the pillar's weights x (high - low)), divided by the number of pillars for the composite."""
    goalposts = {g.indicator_id: g for g in spec.goalposts}
    slopes = {}
    for indicator in spec.indicators:
        if pillar not in (indicator.pillar, "composite"):
            continue
        total = sum(i.weight for i in spec.indicators if i.pillar == indicator.pillar)
        span = goalposts[indicator.indicator_id].high - goalposts[indicator.indicator_id].low
        slope = indicator.weight * (1 if indicator.higher_is_better else -1) / (total * span)
        slopes[indicator.indicator_id] = slope / (len(spec.pillars) if pillar == "composite" else 1)
    return slopes


def _reference_variance(frame: pl.DataFrame, community: str, slopes: dict[str, float]) -> float:
    """v(S_b - S_a) by the textbook formula: u = sum_k slope_k (z_k,b - z_k,a), PSU totals, one at a time."""
    in_domain = (frame["community_id"] == community).to_numpy()
    is_b = (frame["round"] == "b").to_numpy()
    u = sum(slope * (_linearised_values(frame, in_domain & is_b, k)
                     - _linearised_values(frame, in_domain & ~is_b, k)) for k, slope in slopes.items())
    return _psu_variance(frame, u)


def _psu_variance(frame: pl.DataFrame, u: np.ndarray) -> float:
    """sum_h n_h / (n_h - 1) sum_p (u_hp - ubar_h)^2 over PSU totals u_hp, one PSU at a time."""
    totals: dict[tuple[str, str], float] = {}
    for key, value in zip(zip(frame["stratum"], frame["psu"], strict=True), u, strict=True):
        totals[key] = totals.get(key, 0.0) + value
    variance = 0.0
    for stratum in set(s for s, _ in totals):
        psu_totals = np.array([t for (s, _), t in totals.items() if s == stratum])
        variance += len(psu_totals) / (len(psu_totals) - 1) * np.sum((psu_totals - psu_totals.mean()) ** 2)
    return variance


@pytest.mark.parametrize("pairing", ["independent", "panel"])
def test_score_change_is_the_index_build_with_a_delta_method_variance(pairing: str) -> None:
    first, second = golden.make_rounds()
    stacked = linearise_rounds(first, second, golden.INDICATORS, Design(), EstimationSpec(), groups=(),
                               kinds=golden.KINDS, pairing=pairing)
    scores = score_change(stacked, SCORE_SPEC)
    assert scores.columns == ["community_id", "pillar", "score_from", "score_to", "change", "se", "ci_low",
                              "ci_high", "statistic", "p_value", "df", "rank_from", "rank_to", "rank_change"]
    for frame, column, rank in ((first, "score_from", "rank_from"), (second, "score_to", "rank_to")):
        built = build(estimate(frame, golden.INDICATORS, Design(), EstimationSpec(), groups=(),
                               kinds=golden.KINDS), SCORE_SPEC).scores()
        both = built.join(scores, on=["community_id", "pillar"], validate="1:1")
        assert both.height == 3 * 3
        np.testing.assert_allclose(both[column], both["score"], rtol=1e-12)
        assert both[rank].to_list() == both["rank"].to_list()
    np.testing.assert_allclose(scores["change"], scores["score_to"] - scores["score_from"], rtol=1e-12)
    assert (scores["rank_change"] == scores["rank_to"] - scores["rank_from"]).all()
    stacked_frame = golden.stacked(first, second, pairing)
    for community in ("kati", "bafoulabe"):
        for pillar in ("economic", "social", "composite"):
            row = scores.filter((pl.col("community_id") == community) & (pl.col("pillar") == pillar))
            expected = _reference_variance(stacked_frame, community, _slopes(SCORE_SPEC, pillar))
            assert row["se"][0] ** 2 == pytest.approx(expected, rel=1e-7)
            t = row["change"][0] / row["se"][0]
            assert row["statistic"][0] == pytest.approx(t, rel=1e-9)
            assert row["ci_low"][0] < row["change"][0] < row["ci_high"][0]


def test_score_jacobian_of_a_zscore_index_follows_every_community() -> None:
    """Under z-scores a community's score moves with the others' values: the Jacobian has those terms."""
    from retour.rounds import score_jacobian

    spec = IndexSpec(indicators=SCORE_SPEC.indicators, pillars=SCORE_SPEC.pillars, normalisation="zscore")
    values = np.array([[0.3, 7.0, 0.2], [0.5, 6.0, 0.4], [0.4, 8.0, 0.3]])
    scores, jacobian = score_jacobian(values, spec)
    assert jacobian.shape == (3, 3, 3, 3)  # community, score (2 pillars + composite), community, indicator
    h = 1e-6
    for target, source, indicator in ((0, 1, 0), (2, 0, 1), (1, 1, 2)):
        up, down = values.copy(), values.copy()
        up[source, indicator] += h * max(1, values[source, indicator])
        down[source, indicator] -= h * max(1, values[source, indicator])
        from retour.index import build_arrays

        slope = (build_arrays(up[None], spec).scores()[0] - build_arrays(down[None], spec).scores()[0]) / (
            up[source, indicator] - down[source, indicator])
        np.testing.assert_allclose(jacobian[target, :, source, indicator], slope[target], rtol=1e-6,
                                   atol=1e-9)
    assert np.abs(jacobian[0, :, 1, :]).max() > 0


def test_zscore_score_changes_carry_every_community_s_linearised_values() -> None:
    """Under z-scores each score moves with every community's estimates: the variance takes them all."""
    from retour.rounds import score_jacobian

    spec = IndexSpec(indicators=SCORE_SPEC.indicators, pillars=SCORE_SPEC.pillars, normalisation="zscore")
    first, second = golden.make_rounds()
    stacked = linearise_rounds(first, second, golden.INDICATORS, Design(), EstimationSpec(), groups=(),
                               kinds=golden.KINDS, pairing="independent")
    scores = score_change(stacked, spec)
    communities = sorted(golden.COMMUNITIES)
    ids = list(spec.indicator_ids)
    slopes = []
    for frame in (first, second):
        found = estimate(frame, ids, Design(), EstimationSpec(), groups=(), kinds=golden.KINDS)
        wide = found.filter(pl.col("community_id") != "all").pivot(on="indicator_id", index="community_id",
                                                                   values="estimate").sort("community_id")
        assert wide["community_id"].to_list() == communities
        slopes.append(score_jacobian(wide.select(ids).to_numpy(), spec)[1])  # (C, S, C, I)
    frame = golden.stacked(first, second, "independent")
    is_b = (frame["round"] == "b").to_numpy()
    for target, community in enumerate(communities):
        for s, pillar in enumerate(("economic", "social", "composite")):
            u = np.zeros(frame.height)
            for source, other in enumerate(communities):
                member = (frame["community_id"] == other).to_numpy()
                for i, indicator in enumerate(ids):
                    u += slopes[1][target, s, source, i] * _linearised_values(frame, member & is_b, indicator)
                    before = _linearised_values(frame, member & ~is_b, indicator)
                    u -= slopes[0][target, s, source, i] * before
            row = scores.filter((pl.col("community_id") == community) & (pl.col("pillar") == pillar))
            assert row["se"][0] ** 2 == pytest.approx(_psu_variance(frame, u), rel=1e-6)


def test_scores_leave_out_indicators_that_cannot_be_compared() -> None:
    first, second = golden.make_rounds()
    second = second.with_columns(can_borrow=pl.lit(None, pl.Float64))
    stacked = linearise_rounds(first, second, ["paid_job", "household_size"], Design(), EstimationSpec(),
                               groups=(), kinds=golden.KINDS, pairing="independent")
    with pytest.raises(EstimationError, match="can_borrow"):
        score_change(stacked, SCORE_SPEC)
    economic_only = IndexSpec(indicators=SCORE_SPEC.indicators, pillars=SCORE_SPEC.pillars,
                              goalposts=SCORE_SPEC.goalposts)
    scores = score_change(stacked, economic_only, excluded=["can_borrow"])
    social = scores.filter(pl.col("pillar") == "social")
    assert social["score_from"].null_count() == social.height  # no indicator left in the pillar
    economic = scores.filter(pl.col("pillar") == "economic")
    assert economic["se"].null_count() == 0


# --- difference-in-differences: coverage of a known effect ----------------------------------------------


def _did_rounds(rng: np.random.Generator, effect: float, panel: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """4 strata x 8 clusters x 15 respondents; the programme reaches half the clusters of each stratum.

    P(yes) = 0.25 + 0.05 stratum + cluster effect + person effect, + 0.08 at the second round, + `effect`
    for beneficiaries at the second round; weights vary by stratum and person. `panel`: the same people
    again (their programme group recorded in the second round only); else a fresh sample of the clusters.
    """
    strata, clusters, size = 4, 8, 15
    stratum = np.repeat(np.arange(strata), clusters * size)
    cluster = np.repeat(np.arange(strata * clusters), size)
    treated_cluster = np.tile(np.arange(clusters) % 2 == 0, strata)
    cluster_effect = rng.uniform(-0.1, 0.1, strata * clusters)

    def draw(person: np.ndarray, second: bool) -> pl.DataFrame:
        treated = treated_cluster[cluster]
        p = 0.25 + 0.05 * stratum + cluster_effect[cluster] + person + (0.08 + effect * treated) * second
        return pl.DataFrame({
            "community_id": np.array(["a", "b", "c", "d"])[stratum], "stratum": stratum.astype(str),
            "psu": cluster.astype(str), "weight": (1 + stratum) * rng.uniform(0.8, 1.2, len(stratum)),
            "y": (rng.random(len(stratum)) < p).astype(float),
            "case_id": [f"p{i}" for i in range(len(stratum))] if panel or not second
            else [f"q{i}" for i in range(len(stratum))],
            "programme_group": np.where(treated, "beneficiary", "comparison") if second or not panel
            else np.full(len(stratum), None)})

    person = rng.uniform(-0.1, 0.1, len(stratum))
    first = draw(person, False)
    return first, draw(person if panel else rng.uniform(-0.1, 0.1, len(stratum)), True)


@pytest.mark.parametrize("panel", [True, False], ids=["panel", "independent"])
def test_difference_in_differences_interval_covers_the_known_effect(panel: bool) -> None:
    effect, runs, covered = 0.15, 200, 0
    estimates = []
    for seed in range(runs):
        first, second = _did_rounds(np.random.default_rng([2024, seed]), effect, panel)
        stacked = linearise_rounds(first, second, ["y"], Design(), EstimationSpec(), groups=(),
                                   pairing="panel" if panel else "independent", treatment="programme_group")
        whole = difference_in_differences(stacked).filter(pl.col("community_id") == "all").row(0, named=True)
        covered += whole["ci_low"] <= effect <= whole["ci_high"]
        estimates.append(whole["did"])
    assert covered / runs >= 0.90
    assert abs(np.mean(estimates) - effect) < 0.01  # unbiased, within Monte Carlo error


def test_difference_in_differences_needs_both_groups_in_both_rounds() -> None:
    first, second = _did_rounds(np.random.default_rng(7), 0.1, panel=True)
    stacked = linearise_rounds(first, second, ["y"], Design(), EstimationSpec(), groups=(),
                               pairing="independent", treatment="programme_group")
    with pytest.raises(EstimationError, match="no beneficiaries in the first round and no comparison "
                                              "respondents in the first round"):
        difference_in_differences(stacked)


# --- linkage and pairing ---------------------------------------------------------------------------------


def test_case_ids_link_only_when_seen_once_in_each_round() -> None:
    first = pl.DataFrame({"case_id": ["a", "b", "b", "c", None, "e"]})
    second = pl.DataFrame({"case_id": ["c", "a", "b", None, "d", "e", "e"]})
    rows_from, rows_to, duplicated = link(first, second, "case_id")
    assert list(zip(rows_from.tolist(), rows_to.tolist(), strict=True)) == [(0, 1), (3, 0)]
    assert duplicated == 2  # b in the first round, e in the second


def test_auto_pairing_is_a_panel_only_with_enough_linked_respondents() -> None:
    first, second = golden.make_rounds()
    assert _stacked("auto").linkage.pairing == "panel"
    few = second.with_columns(case_id=pl.when(pl.int_range(pl.len()) < 5).then(pl.col("case_id"))
                              .otherwise(pl.lit(None)))
    stacked = linearise_rounds(first, few, ["paid_job"], Design(), EstimationSpec(min_cell=10), groups=())
    assert stacked.linkage.pairing == "independent" and stacked.linkage.linked == 0
    no_ids = second.with_columns(case_id=pl.lit(None, pl.Utf8))
    with pytest.raises(EstimationError, match="cannot be compared as a panel"):
        linearise_rounds(first, no_ids, ["paid_job"], Design(), EstimationSpec(), groups=(), pairing="panel")
    with pytest.raises(EstimationError, match="Unknown pairing 'paired'"):
        linearise_rounds(first, second, ["paid_job"], Design(), EstimationSpec(), groups=(), pairing="paired")


def test_panel_without_clusters_makes_each_linked_person_a_unit() -> None:
    """No PSU column: in a panel a person's two interviews form one unit, so their covariance counts."""
    first, second = golden.make_rounds(complete=True)
    design = Design(stratum="stratum", psu=None, weight="weight")
    stacked = linearise_rounds(first, second, ["paid_job"], design, EstimationSpec(), groups=(),
                               pairing="panel")
    change = indicator_change(stacked).filter(pl.col("community_id") == "all")
    wide = first.join(second.select("case_id", pl.col("paid_job").alias("after")), on="case_id")
    differences = estimate(wide.with_columns(d=pl.col("after") - pl.col("paid_job")), ["d"], design,
                           EstimationSpec(), groups=(), kinds={"d": "mean"})
    differences = differences.filter(pl.col("community_id") == "all")
    assert change["change"][0] == pytest.approx(differences["estimate"][0], rel=1e-12)
    assert change["se"][0] == pytest.approx(differences["se"][0], rel=1e-10)


# --- questionnaire changes and the whole comparison -------------------------------------------------------

FIELDS = {"paid_job": ("work_paid",), "can_borrow": ("can_borrow", "has_savings"),
          "household_size": ("hh_size",), "uses_mobile_money": ("mobile_money",)}


def _round_data(name: str, frame: pl.DataFrame, answered: dict[str, int], needs: pl.DataFrame | None = None):
    return RoundData(name=name, respondents=frame, answered=answered,
                     needs=needs if needs is not None else pl.DataFrame())


def test_questionnaire_changes_are_listed_and_the_other_indicators_compared() -> None:
    first, second = golden.make_rounds()
    second = second.with_columns(can_borrow=pl.lit(None, pl.Float64))
    first = first.with_columns(uses_mobile_money=pl.lit(None, pl.Float64))
    second = second.with_columns(uses_mobile_money=pl.lit(1.0))
    answered_from = {"work_paid": 250, "can_borrow": 240, "has_savings": 251, "hh_size": 250,
                     "mobile_money": 0}
    answered_to = {"work_paid": 260, "can_borrow": 0, "has_savings": 262, "hh_size": 255, "mobile_money": 270,
                   "beneficiary": 271}
    spec = CompareSpec(indicators=(*golden.INDICATORS, "uses_mobile_money"), indicator_fields=FIELDS,
                       design=Design(), estimation=EstimationSpec(), kinds=golden.KINDS,
                       groups={"sex": ("women", "men")})
    result = compare(_round_data("baseline", first, answered_from),
                     _round_data("midterm", second, answered_to), spec)
    assert result.questionnaire_changes.to_dicts() == [
        {"field": "can_borrow", "change": "dropped", "answers_from": 240, "answers_to": 0},
        {"field": "mobile_money", "change": "added", "answers_from": 0, "answers_to": 270},
        {"field": "beneficiary", "change": "added", "answers_from": 0, "answers_to": 271}]
    reasons = {row["indicator_id"]: row for row in result.comparability.iter_rows(named=True)}
    assert reasons["paid_job"]["comparable"] and reasons["paid_job"]["reason"] == ""
    assert reasons["can_borrow"]["reason"] == ("question(s) can_borrow not asked in midterm "
                                               "(dropped since baseline)")
    assert reasons["can_borrow"]["reason_fr"] == ("question(s) can_borrow non posée(s) en midterm "
                                                  "(retirée(s) depuis baseline)")
    assert reasons["uses_mobile_money"]["reason"] == ("question(s) mobile_money not asked in baseline "
                                                      "(added in midterm)")
    assert set(result.changes["indicator_id"]) == {"paid_job", "household_size"}
    assert result.score_changes.height == 0 and result.did.height == 0
    stored = result.frames()
    assert stored["changes"].columns[:2] == ["from_round", "pairing"]
    assert stored["changes"]["from_round"].unique().to_list() == ["baseline"]


def test_an_indicator_without_any_value_in_a_round_is_not_comparable() -> None:
    table = comparability({"x": ("q",), "y": ("q",)}, {"q": 5}, {"q": 6}, "baseline", "final",
                          {"x": 5, "y": 5}, {"x": 6, "y": 0}).table
    assert table.filter(pl.col("indicator_id") == "y").row(0, named=True) == {
        "indicator_id": "y", "comparable": False, "reason": "no respondent has a value in final",
        "reason_fr": "aucun répondant n'a de valeur en final", "fields": "q"}
    assert questionnaire_changes({"q": 5}, {"q": 6}).height == 0


def test_needs_that_became_or_stopped_being_priorities() -> None:
    before = pl.DataFrame({"community_id": ["kati", "kati", "kita", "kita"],
                           "issue_id": ["water", "health", "water", "health"],
                           "level": ["priority", "important", "none", "priority"]})
    after = pl.DataFrame({"community_id": ["kati", "kati", "kita", "kita"],
                          "issue_id": ["water", "health", "water", "health"],
                          "level": ["important", "priority", "none", "priority"]})
    changes = needs_change(before, after, "baseline", "midterm")
    assert changes.drop("reason", "reason_fr").to_dicts() == [
        {"community_id": "kati", "issue_id": "water", "level_from": "priority", "level_to": "important",
         "change": "no_longer_priority"},
        {"community_id": "kati", "issue_id": "health", "level_from": "important", "level_to": "priority",
         "change": "became_priority"},
        {"community_id": "kita", "issue_id": "water", "level_from": "none", "level_to": "none",
         "change": "unchanged"},
        {"community_id": "kita", "issue_id": "health", "level_from": "priority", "level_to": "priority",
         "change": "unchanged"}]
    assert set(changes["reason"]) == {""}
    assert needs_change(before, pl.DataFrame(), "baseline", "midterm").height == 0


def test_needs_not_assessed_in_a_round_are_not_compared() -> None:
    """An assessed need (needs.toml `[[assessed]]`, rounds = ["baseline"]) is `not_measured` at mid-term:
    not comparable, with the reason, never `no_longer_priority`; an analyst's override makes it a
    judgement again."""
    keys = {"community_id": ["kati"] * 4, "issue_id": ["infrastructure", "farming", "water", "energy"]}
    before = pl.DataFrame({**keys, "level": ["priority", "priority", "priority", "none"],
                           "basis": ["assessed", "assessed", "computed", "not_measured"],
                           "overridden": [False] * 4})
    after = pl.DataFrame({**keys, "level": ["none", "important", "none", "priority"],
                          "basis": ["not_measured", "not_measured", "computed", "not_measured"],
                          "overridden": [False, True, False, True]})
    changes = needs_change(before, after, "baseline", "midterm")
    by_issue = {row["issue_id"]: row for row in changes.iter_rows(named=True)}
    assert by_issue["infrastructure"]["change"] == "not_comparable"
    assert by_issue["infrastructure"]["reason"] == ("not assessed in midterm: neither a survey measure nor "
                                                   "an analyst's assessment")
    assert by_issue["infrastructure"]["reason_fr"].startswith("non apprécié en midterm")
    assert by_issue["farming"]["change"] == "no_longer_priority"  # overridden at mid-term: a judgement
    assert by_issue["water"]["change"] == "no_longer_priority" and by_issue["water"]["reason"] == ""
    assert by_issue["energy"]["change"] == "not_comparable"
    assert by_issue["energy"]["reason"].startswith("not assessed in baseline:")


def test_changes_are_adjusted_over_the_indicators_of_each_community_and_group() -> None:
    """p_adjusted is Benjamini-Hochberg within one community x group (the list a fact sheet or the
    dashboard reads), over the changes not suppressed."""
    from retour.gaps import benjamini_hochberg

    rng = np.random.default_rng(3)
    rows = [{"community_id": c, "group_dimension": d, "group": g, "indicator_id": f"i{k}",
             "p_value": float(rng.uniform()), "suppressed": bool(k == 0)}
            for c in ("kati", "kita") for d, g in (("all", "all"), ("sex", "women")) for k in range(12)]
    adjusted = adjust_within_domains(pl.DataFrame(rows).with_columns(p_adjusted=pl.lit(None, pl.Float64)))
    for (_c, _d, _g), part in adjusted.group_by("community_id", "group_dimension", "group"):
        tested = part.filter(~pl.col("suppressed"))
        np.testing.assert_allclose(tested["p_adjusted"], benjamini_hochberg(tested["p_value"].to_numpy()))
        assert part.filter(pl.col("suppressed"))["p_adjusted"].null_count() == 1


# --- study.compare_rounds and `retour compare` ------------------------------------------------------------


def _store_round(project, round_name: str, submissions: pl.DataFrame) -> None:
    """Write submissions to the store as ingest would (one batch, nothing quarantined)."""
    from retour.ingest import Batch

    text = {"code": pl.Utf8, "severity": pl.Utf8, "row": pl.Int64, "_uuid": pl.Utf8, "column": pl.Utf8,
            "value": pl.Utf8, "message": pl.Utf8, "hint": pl.Utf8, "source": pl.Utf8}
    accepted = submissions.with_columns(_submission_time=pl.lit(None, pl.Datetime("us")),
                                        _row=pl.int_range(pl.len(), dtype=pl.Int64) + 2,
                                        _content_hash=pl.int_range(pl.len(), dtype=pl.UInt64))
    quarantined = pl.DataFrame(schema={"_row": pl.Int64, "_uuid": pl.Utf8, "_content_hash": pl.UInt64,
                                       "raw": pl.Utf8, "reasons": pl.Utf8})
    batch = Batch(accepted=accepted, quarantined=quarantined, problem_frame=pl.DataFrame(schema=text),
                  rows_read=submissions.height, file_name=f"{round_name}.csv", file_sha256=round_name,
                  reader="test")
    con = store.connect(project.store_path)
    try:
        store.write_batch(con, batch, round_name)
    finally:
        con.close()


@pytest.fixture
def compared_study(study_dir, monkeypatch):
    """The example study with two stored rounds: the mid-term re-interviews 500 of the 604 baseline
    respondents, asks `beneficiary`, and no longer asks the questions of `family_or_friends_abroad`.

    Respondent-level indicators are simulated (their derivation is tested in test_indicators.py):
    `indicators.derive` is replaced by a function drawing them, every proportion 0.1 higher at mid-term.
    """
    from retour.config import load_project
    from retour.expressions import referenced_fields
    from retour.study import _index_catalogue, load_index_spec

    project = load_project(study_dir)
    catalogue = _index_catalogue(project)
    dropped = sorted(referenced_fields(catalogue.indicator("family_or_friends_abroad").formula))
    communities = ["bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane"]
    rng = np.random.default_rng(10)
    community = np.array(communities)[rng.integers(0, 7, 604)]
    answers = {q.name: pl.lit("x") for q in catalogue.instrument.questions
               if q.name and q.name not in ("case_id", "community", "beneficiary")}
    baseline = pl.DataFrame({"_uuid": [f"b{i}" for i in range(604)],
                             "case_id": [f"case{i}" for i in range(604)], "community": community})
    baseline = baseline.with_columns(**answers)
    midterm = baseline[:500].with_columns(
        _uuid=pl.format("m{}", pl.int_range(pl.len())), beneficiary=pl.Series(np.where(rng.random(500) < 0.5,
                                                                                       "yes", "no")),
        **{name: pl.lit(None, pl.Utf8) for name in dropped})
    _store_round(project, "baseline", baseline.with_columns(beneficiary=pl.lit(None, pl.Utf8)))
    _store_round(project, "midterm", midterm)

    def derive(submissions, catalogue, area_types=None, design=None):
        later = submissions["_uuid"][0].startswith("m")
        draw = np.random.default_rng(2 if later else 1)
        n = submissions.height
        communities_of = submissions["community"].to_numpy()
        columns = {"_uuid": submissions["_uuid"], "community_id": communities_of, "stratum": communities_of,
                   "psu": [f"{c}-{k}" for c, k in zip(communities_of, draw.integers(0, 8, n), strict=True)],
                   "weight": np.ones(n),
                   "migration_status": np.where(draw.random(n) < 0.3, "returnee", "non_migrant"),
                   "sex": np.where(draw.random(n) < 0.5, "women", "men"),
                   "age_band": np.where(draw.random(n) < 0.5, "15_24", "25_34"),
                   "area_type": np.where(np.isin(communities_of, ["bafoulabe", "kirane"]), "rural", "urban")}
        for indicator in catalogue.indicators:
            if indicator.kind == "mean":
                columns[indicator.id] = draw.normal(10 + later, 2, n)
            else:
                columns[indicator.id] = (draw.random(n) < 0.3 + 0.1 * later).astype(float)
        asked = {name for name in submissions.columns if submissions[name].null_count() < n}
        unasked = [i.id for i in catalogue.indicators if not referenced_fields(i.formula) <= asked]
        return pl.DataFrame(columns).with_columns([pl.lit(None, pl.Float64).alias(i) for i in unasked])

    monkeypatch.setattr("retour.indicators.derive", derive)
    spec = load_index_spec(project, catalogue)
    con = store.connect(project.store_path)
    try:
        respondents = derive(store.read_submissions(con, "baseline"), catalogue)
        kinds = {i.id: i.kind for i in catalogue.indicators if i.id in spec.indicator_ids}
        estimates = estimate(respondents, list(spec.indicator_ids), Design(), EstimationSpec(), groups=(),
                             kinds=kinds)
        store.write_results(con, "index_goalposts", build(estimates, spec).goalposts, "baseline")
        for name, level in (("baseline", "priority"), ("midterm", "important")):
            store.write_results(con, "needs", pl.DataFrame({"community_id": ["kati", "kita"],
                                                            "issue_id": ["water", "water"],
                                                            "level": [level, "none"]}), name)
    finally:
        con.close()
    return project, dropped


def test_compare_rounds_stores_every_change_of_a_study(compared_study) -> None:
    project, dropped = compared_study
    result = compare_rounds(project, "baseline", "midterm", did=True)
    assert result.linkage.pairing == "panel" and result.linkage.linked == 500
    assert {"field": dropped[0], "change": "dropped"}.items() <= result.questionnaire_changes.filter(
        pl.col("field") == dropped[0]).to_dicts()[0].items()
    added = result.questionnaire_changes.filter(pl.col("change") == "added")
    assert "beneficiary" in added["field"].to_list()
    not_comparable = result.comparability.filter(~pl.col("comparable"))
    assert "family_or_friends_abroad" in not_comparable["indicator_id"].to_list()
    assert "family_or_friends_abroad" not in result.changes["indicator_id"].to_list()
    whole = result.changes.filter((pl.col("community_id") == "all") & (pl.col("group_dimension") == "all")
                                  & (pl.col("indicator_id") == "paid_job_or_iga")).row(0, named=True)
    assert whole["ci_low"] < 0.1 < whole["ci_high"] and whole["p_value"] < 0.05
    assert result.score_changes.filter(pl.col("pillar") == "composite").height == 7
    assert result.did.filter(pl.col("community_id") == "all").height > 0
    stopped = result.need_changes.filter(pl.col("change") == "no_longer_priority")
    assert stopped["community_id"].to_list() == ["kati"]
    con = store.connect(project.store_path, read_only=True)
    try:
        stored = store.read_results(con, "changes", "midterm")
        run = store.latest_run(con, "compare", "midterm")
    finally:
        con.close()
    assert stored.height == result.changes.height and set(stored["from_round"]) == {"baseline"}
    assert json.loads(run["details"]) == {"from_round": "baseline", "pairing": "panel", "linked": 500,
                                          "did": True, "pairing_asked": "auto"}


def test_retour_compare_prints_every_section(compared_study, capsys) -> None:
    project, _ = compared_study
    main(["compare", str(project.root), "--from", "baseline", "--to", "midterm", "--format", "json",
          "--community", "kati"])
    records = json.loads(capsys.readouterr().out)
    sections = {record["section"] for record in records}
    assert sections == {"indicators", "scores", "needs", "questionnaire", "comparability"}
    shown = {r["community_id"] for r in records if r["section"] in ("indicators", "scores", "needs")}
    assert shown == {"kati"}
    assert all(r["group_dimension"] == "all" for r in records if r["section"] == "indicators")

    main(["compare", str(project.root), "--from", "baseline", "--to", "midterm", "--format", "json",
          "--community", "kati", "--indicator", "paid_job_or_iga", "--by", "sex", "--show", "indicators"])
    records = json.loads(capsys.readouterr().out)
    assert [r["group"] for r in records] == ["all", "women", "men"]  # the catalogue's order of levels

    main(["compare", str(project.root), "--from", "baseline", "--to", "midterm", "--did", "--show", "did",
          "--indicator", "paid_job_or_iga", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("section,community_id,indicator_id,change_beneficiaries,change_comparison,"
                               "did,se")
    assert len(lines) == 1 + 8  # seven communities and all

    main(["compare", str(project.root), "--from", "baseline", "--to", "midterm", "--show", "questionnaire",
          "--language", "fr"])
    out = capsys.readouterr().out
    assert "Indicateurs non comparables / indicators that cannot be compared" in out
    assert "retirée(s) depuis baseline" in out


def test_retour_compare_says_what_is_wrong(compared_study, capsys) -> None:
    project, _ = compared_study
    with pytest.raises(SystemExit) as done:
        main(["compare", str(project.root), "--from", "baseline", "--to", "baseline"])
    assert done.value.code == 1
    assert capsys.readouterr().err.strip() == ("Error: Both rounds are 'baseline'. Compare two different "
                                               "rounds: --from R1 --to R2.")
    with pytest.raises(SystemExit) as done:
        main(["compare", str(project.root), "--from", "baseline", "--to", "final"])
    assert done.value.code == 1
    assert "No submissions in round 'final'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["compare", str(project.root), "--from", "baseline", "--to", "midterm", "--by", "gender"])
    assert done.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "Error: No group 'gender' in indicators.toml (--by). Use one of the study's groups: "
        "migration_status, sex, age_band, area_type.")


# --- every pair of rounds is kept -------------------------------------------------------------------------

COMPARISON_TABLES = ("changes", "score_changes", "did_estimates", "need_changes", "indicator_comparability",
                     "questionnaire_changes")


def _stored_pairs(project, table: str, round_name: str) -> dict[str, pl.DataFrame]:
    """The stored rows of a comparison table into `round_name`, per `from_round`."""
    con = store.connect(project.store_path, read_only=True)
    try:
        stored = store.read_results(con, table, round_name)
        return {name: store.read_results(con, table, round_name, key={"from_round": name})
                for name in sorted(set(stored["from_round"].to_list()))}
    finally:
        con.close()


def test_two_comparisons_into_the_same_round_are_both_kept(compared_study) -> None:
    """baseline -> final, then midterm -> final: both stay stored and are read back by pair; comparing
    baseline -> final again replaces its rows only."""
    project, _ = compared_study
    con = store.connect(project.store_path)
    try:
        midterm = store.read_submissions(con, "midterm").drop("round", "_submission_time")
    finally:
        con.close()
    _store_round(project, "final", midterm.with_columns(_uuid=pl.format("f{}", pl.int_range(pl.len()))))
    con = store.connect(project.store_path)
    try:
        store.write_results(con, "needs", pl.DataFrame({"community_id": ["kati", "kita"], "issue_id": "water",
                                                        "level": ["none", "priority"]}), "final")
    finally:
        con.close()
    from_baseline = compare_rounds(project, "baseline", "final", did=True)
    from_midterm = compare_rounds(project, "midterm", "final", pairing="independent")
    for table in COMPARISON_TABLES:
        pairs = _stored_pairs(project, table, "final")
        for name, result in (("baseline", from_baseline), ("midterm", from_midterm)):
            kept = pairs[name].height if name in pairs else 0
            assert kept == result.frames()[table].height, (table, name)
    assert set(_stored_pairs(project, "changes", "final")) == {"baseline", "midterm"}
    assert set(_stored_pairs(project, "need_changes", "final")) == {"baseline", "midterm"}
    pairs = _stored_pairs(project, "changes", "final")
    assert pairs["baseline"].height == from_baseline.changes.height
    assert pairs["midterm"].height == from_midterm.changes.height
    assert set(pairs["baseline"]["pairing"]) == {"panel"}
    assert set(pairs["midterm"]["pairing"]) == {"independent"}
    kati = (pl.col("community_id") == "kati") & (pl.col("group_dimension") == "all") & (
        pl.col("indicator_id") == "paid_job_or_iga")
    assert pairs["baseline"].filter(kati)["change"][0] == pytest.approx(
        from_baseline.changes.filter(kati)["change"][0], rel=1e-12)
    assert pairs["midterm"].filter(kati)["change"][0] == pytest.approx(
        from_midterm.changes.filter(kati)["change"][0], rel=1e-12)
    assert _stored_pairs(project, "did_estimates", "final")["baseline"].height == from_baseline.did.height > 0

    again = compare_rounds(project, "baseline", "final", pairing="independent")
    pairs = _stored_pairs(project, "changes", "final")
    assert pairs["baseline"].height == again.changes.height  # replaced, not added to
    assert set(pairs["baseline"]["pairing"]) == {"independent"}
    assert pairs["midterm"].height == from_midterm.changes.height  # the other pair is untouched
    assert set(_stored_pairs(project, "did_estimates", "final")) == set()  # this run asked for no --did
    con = store.connect(project.store_path, read_only=True)
    try:
        runs = store.read_runs(con).filter(pl.col("stage") == "compare")
        latest = store.latest_run(con, "compare", "final", details={"from_round": "midterm"})
    finally:
        con.close()
    assert runs.height == 3 and json.loads(latest["details"])["from_round"] == "midterm"


def test_results_keyed_by_pair_replace_only_their_own_rows() -> None:
    con = store.connect()
    one = pl.DataFrame({"indicator_id": ["a", "b"], "change": [0.1, 0.2]})
    store.write_results(con, "changes", one, "final", key={"from_round": "baseline"})
    store.write_results(con, "changes", one.head(1), "final", key={"from_round": "midterm"})
    store.write_results(con, "changes", one, "midterm", key={"from_round": "baseline"})
    store.write_results(con, "changes", one.with_columns(change=pl.lit(0.5)), "final",
                        key={"from_round": "baseline"})
    stored = store.read_results(con, "changes").sort("round", "from_round", "indicator_id")
    assert stored.select("round", "from_round", "change").rows() == [
        ("final", "baseline", 0.5), ("final", "baseline", 0.5), ("final", "midterm", 0.1),
        ("midterm", "baseline", 0.1), ("midterm", "baseline", 0.2)]
    assert store.read_results(con, "changes", "final", key={"from_round": "midterm"}).height == 1
    assert store.read_results(con, "changes", "final", key={"from_round": "final"}).height == 0
    assert store.read_results(con, "changes", "final").height == 3  # no key: the whole round
    assert store.read_results(con, "estimates", "final", key={"from_round": "baseline"}).height == 0


# --- the synthetic mid-term round: stated shifts are recovered ----------------------------------------------

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"


def _synthetic_rounds(seed: int, panel: bool):
    """Baseline and mid-term generated by the example's generator from its shifts_midterm.toml."""
    from retour.synth import load_generator

    synth = load_generator(EXAMPLE / "generator")
    from retour.indicators import derive, load_catalogue
    from retour.schema import load_instrument

    catalogue = load_catalogue(EXAMPLE / "indicators.toml", load_instrument(EXAMPLE / "instrument.xlsx"))
    targets = synth.load_targets(EXAMPLE / "synth_targets.toml")
    shifts = synth.load_shifts(EXAMPLE / "shifts_midterm.toml")
    rounds = []
    for made in (synth.generate(targets, catalogue, seed),
                 synth.generate(targets, catalogue, seed, "midterm", shifts=shifts, panel=panel)):
        submissions = made.frame
        extra = [submissions["case_id"].cast(pl.Utf8)] if "case_id" in submissions.columns else []
        if "beneficiary" in submissions.columns:
            extra.append(submissions["beneficiary"].cast(pl.Utf8).replace_strict(
                {"yes": "beneficiary", "no": "comparison"}, default=None).alias(TREATMENT))
        respondents = derive(submissions, catalogue).with_columns(extra)
        rounds.append(RoundData(name=made.round_name, respondents=respondents,
                                answered=fields_answered(submissions), needs=pl.DataFrame()))
    return catalogue, shifts, rounds


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("panel", [False, True], ids=["fresh_sample", "panel"])
def test_stated_midterm_shifts_are_recovered_within_their_intervals(seed: int, panel: bool) -> None:
    from retour.expressions import referenced_fields

    catalogue, shifts, (baseline, midterm) = _synthetic_rounds(seed, panel)
    kinds = {i.id: i.kind for i in catalogue.indicators}
    fields = {i.id: tuple(sorted(referenced_fields(i.formula) | referenced_fields(i.universe)))
              for i in catalogue.indicators}
    did = TREATMENT in midterm.respondents.columns and bool(shifts.effects)
    spec = CompareSpec(indicators=catalogue.ids, indicator_fields=fields, design=Design(),
                       estimation=EstimationSpec(), kinds=kinds, groups={}, did=did,
                       pairing="panel" if panel else "independent")
    result = compare(baseline, midterm, spec)
    changes = result.changes.filter(pl.col("group_dimension") == "all")
    stated = [(community, indicator) for community, table in shifts.by_community.items()
              for indicator in table]
    stated += [(community, indicator) for indicator in shifts.default for community in
               changes["community_id"].unique().to_list() if community != "all"]
    checked, missed = 0, []
    for community, indicator in dict.fromkeys(stated):
        if indicator in shifts.effects or indicator not in set(changes["indicator_id"]):
            continue  # beneficiaries' effect comes on top of a community's stated change
        row = changes.filter((pl.col("community_id") == community) & (pl.col("indicator_id") == indicator))
        truth = shifts.change(indicator, community, kinds[indicator] == "mean")
        checked += 1
        if not row["ci_low"][0] <= truth <= row["ci_high"][0]:
            missed.append((community, indicator, truth, row["change"][0]))
    assert checked > 0
    assert len(missed) <= 0.05 * checked, missed
    if did:
        whole = result.did.filter(pl.col("community_id") == "all")
        for indicator in shifts.effects:
            row = whole.filter(pl.col("indicator_id") == indicator)
            truth = shifts.effect(indicator, kinds[indicator] == "mean")
            assert row["ci_low"][0] <= truth <= row["ci_high"][0], (indicator, truth, row["did"][0])


# --- the "change since baseline" section of the reports ---------------------------------------------------


def _report_with_changes(bundle):
    """A report bundle of the mid-term round with a stored comparison: kati's paid work up 12 points
    (clear: adjusted p 0.02), its borrowing up 9 points (interval above zero, but adjusted p 0.3: not
    clear), its composite score up by 0.08 and from rank 4 to 2, water no longer a priority there, and
    energy not assessed at mid-term (not compared)."""
    from dataclasses import replace

    rows = []
    for community in ("kati", "kita", "all"):
        for indicator, change, low, high, p_value, p_adjusted in (
                ("paid_job_or_iga", 0.12, 0.03, 0.21, 0.001, 0.02),
                ("can_borrow_money", 0.09, 0.01, 0.17, 0.03, 0.3),
                ("reduced_food_consumption", -0.02, -0.10, 0.06, 0.6, 0.9)):
            rows.append({"from_round": "baseline", "pairing": "panel", "community_id": community,
                         "group_dimension": "all", "group": "all", "indicator_id": indicator,
                         "estimate_from": 0.40, "estimate_to": 0.40 + change, "change": change, "se": 0.04,
                         "ci_low": low, "ci_high": high, "statistic": change / 0.04, "p_value": p_value,
                         "p_adjusted": p_adjusted, "df": 20.0, "n_from": 80, "n_to": 82, "suppressed": False})
    scores = pl.DataFrame([{"from_round": "baseline", "pairing": "panel", "community_id": c, "pillar": p,
                            "score_from": 0.5, "score_to": 0.58, "change": 0.08, "se": 0.03, "ci_low": 0.02,
                            "ci_high": 0.14, "statistic": 2.7, "p_value": 0.01, "df": 20.0, "rank_from": 4,
                            "rank_to": 2, "rank_change": -2}
                           for c in ("kati", "kita")
                           for p in ("economic", "social", "psychosocial", "composite")])
    needs = pl.DataFrame({"from_round": ["baseline"] * 3, "community_id": ["kati", "kita", "kati"],
                          "issue_id": ["water", "water", "energy"],
                          "level_from": ["priority", "none", "priority"],
                          "level_to": ["important", "none", "none"],
                          "change": ["no_longer_priority", "unchanged", "not_comparable"],
                          "reason": ["", "", "not assessed in midterm"],
                          "reason_fr": ["", "", "non apprécié"]})
    return replace(bundle, round_name="midterm", changes=pl.DataFrame(rows), score_changes=scores,
                   need_changes=needs)


def test_fact_sheets_and_synthesis_show_the_change_since_baseline() -> None:
    from report_bundle import bundle
    from retour.report import render_factsheet, render_synthesis

    plain = render_factsheet("kati", bundle(), "en").html
    assert "Change since" not in plain  # no comparison stored: no section
    data = _report_with_changes(bundle())
    english = render_factsheet("kati", data, "en").html
    assert "Change since Baseline" in english
    assert '<span data-indicator="paid_job_or_iga" class="tone-better">' in english
    assert "<strong>+12 pts</strong>" in english
    section = english.split("Change since")[1]
    assert 'data-indicator="reduced_food_consumption"' not in section  # its interval holds zero
    assert 'data-indicator="can_borrow_money"' not in section  # interval above zero, adjusted p 0.3
    assert "1 of 3 indicators changed clearly." in section
    assert "adjusted for the 3 indicators compared (Benjamini–Hochberg), is below 5%" in section
    assert "4 → 2" in english and "No longer priorities:</strong> Water." in english
    assert "Needs not assessed in one of the rounds, so not compared: Energy." in english
    french = render_factsheet("kati", data, "fr").html
    assert "Évolution depuis le passage « Situation de référence »" in french
    assert "Évolutions nettes" in french and "built-in" not in french
    assert "Ne sont plus prioritaires :</strong> Eau." in french
    assert "ajustée pour les 3 indicateurs comparés (Benjamini–Hochberg), est inférieure à 5" in french
    assert "donc non comparés : Énergie." in french
    synthesis = render_synthesis(data, "fr").html
    assert "Ensemble de l’échantillon" in synthesis and synthesis.count("4 → 2") == 2
    assert "Ne sont plus prioritaires :</strong> Eau (Kati)." in synthesis
    borrow = synthesis.split('data-indicator="can_borrow_money"')[1].split("</tr>")[0]
    assert "<td>+9 pts</td>" in borrow  # shown, not bold: not clear once adjusted


def _clear_on_fact_sheets(result, data) -> dict[str, list[str]]:
    """The indicators each community's fact sheet headlines as clear changes of a comparison."""
    from dataclasses import replace

    from retour.report.change import change_context
    from retour.report.i18n import Formatter

    frames = result.frames()
    data = replace(data, round_name="midterm", changes=frames["changes"], score_changes=pl.DataFrame(),
                   need_changes=pl.DataFrame())
    communities = [c for c in frames["changes"]["community_id"].unique().to_list() if c != "all"]
    return {c: [row["id"] for row in change_context(data, Formatter("en"), c)["change"]["indicators"]]
            for c in communities}


@pytest.mark.slow
def test_fact_sheets_headline_stated_shifts_and_not_chance_changes() -> None:
    """With the example's stated mid-term shifts (3 to 20 points, about 85 respondents in 9 PSUs per
    community), no fact sheet headlines a change that was not stated: picked by unadjusted intervals,
    several of the ~140 indicators of a community look clear by chance. Shifts large enough for the
    sample (45 points) are headlined in their community."""
    from dataclasses import replace

    from report_bundle import bundle
    from retour.expressions import referenced_fields

    catalogue, shifts, (baseline, midterm) = _synthetic_rounds(5, True)
    fields = {i.id: tuple(sorted(referenced_fields(i.formula) | referenced_fields(i.universe)))
              for i in catalogue.indicators}
    spec = CompareSpec(indicators=catalogue.ids, indicator_fields=fields, design=Design(),
                       estimation=EstimationSpec(), kinds={i.id: i.kind for i in catalogue.indicators},
                       groups={}, pairing="panel")
    data = bundle()
    stated = {(c, i) for c in ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane")
              for i in [*shifts.default, *shifts.by_community.get(c, {}), *shifts.effects]}
    headlined = _clear_on_fact_sheets(compare(baseline, midterm, spec), data)
    assert [(c, i) for c, ids in headlined.items() for i in ids if (c, i) not in stated] == []

    from retour.indicators import derive
    from retour.synth import load_generator

    synth = load_generator(EXAMPLE / "generator")
    strong = replace(shifts, by_community={**shifts.by_community,
                                           "kirane": {"access_psychosocial_services": 45},
                                           "bafoulabe": {"wants_psych_services": -45}})
    made = synth.generate(synth.load_targets(EXAMPLE / "synth_targets.toml"), catalogue, 5, "midterm",
                          shifts=strong, panel=True)
    extra = [made.frame["case_id"].cast(pl.Utf8)]
    later = RoundData(name="midterm", respondents=derive(made.frame, catalogue).with_columns(extra),
                      answered=fields_answered(made.frame), needs=pl.DataFrame())
    headlined = _clear_on_fact_sheets(compare(baseline, later, spec), data)
    assert "access_psychosocial_services" in headlined["kirane"]
    assert "wants_psych_services" in headlined["bafoulabe"]
    stated |= {("kirane", "access_psychosocial_services"), ("bafoulabe", "wants_psych_services")}
    assert [(c, i) for c, ids in headlined.items() for i in ids if (c, i) not in stated] == []


def _store_midterm_results(project) -> None:
    """The report bundle's estimates, gaps, index scores and needs, stored as the mid-term's results."""
    from report_bundle import bundle

    data = bundle()
    con = store.connect(project.store_path)
    try:
        for table in ("estimates", "gaps", "index_scores", "needs"):
            store.write_results(con, table, getattr(data, table), "midterm")
    finally:
        con.close()


def _compare_runs(project) -> pl.DataFrame:
    con = store.connect(project.store_path, read_only=True)
    try:
        return store.read_runs(con).filter(pl.col("stage") == "compare")
    finally:
        con.close()


def _report_html(project, lines: list[str]) -> tuple[str, str]:
    """`write_report` of the mid-term in English HTML: Kati's fact sheet and the synthesis as text."""
    from retour.study import write_report

    write_report(project, "midterm", ("en",), ("html",), workers=1, notify=lines.append)
    folder = project.output_dir / "midterm" / "en"
    return ((folder / "factsheet-kati.html").read_text(encoding="utf-8"),
            (folder / "synthesis.html").read_text(encoding="utf-8"))


def test_a_later_round_s_report_compares_with_the_baseline_itself(compared_study) -> None:
    """`retour compare` never ran: the mid-term report runs it, says so in one line, and shows the
    change since baseline; a second report of the unchanged study does not compare again."""
    from retour.study import comparison_inputs_hash

    project, _ = compared_study
    _store_midterm_results(project)
    assert _compare_runs(project).height == 0
    lines: list[str] = []
    factsheet, synthesis = _report_html(project, lines)
    assert lines == ["Comparaison baseline -> midterm recalculée (absente) / "
                     "baseline -> midterm compared first (none stored)."]
    assert "Change since Baseline" in factsheet and "Change since Baseline" in synthesis
    assert "Change = Mid-term − Baseline" in factsheet
    con = store.connect(project.store_path)
    try:
        run = store.latest_run(con, "compare", "midterm", details={"from_round": "baseline"})
        stored = store.read_results(con, "changes", "midterm", key={"from_round": "baseline"})
        assert run["data_hash"] == comparison_inputs_hash(project, con, "baseline", "midterm")
    finally:
        con.close()
    assert stored.height > 0 and json.loads(run["details"])["did"] is False

    lines.clear()
    again, _ = _report_html(project, lines)
    assert lines == [] and _compare_runs(project).height == 1  # nothing changed: not compared again
    assert "Change since Baseline" in again


def _add_late_midterm_submissions(project) -> None:
    """Twenty more mid-term submissions (copies of the first twenty under new ids), as a later upload."""
    con = store.connect(project.store_path)
    try:
        more = store.read_submissions(con, "midterm").head(20).drop("round", "_submission_time")
    finally:
        con.close()
    _store_round(project, "midterm", more.with_columns(_uuid=pl.format("m-late{}", pl.int_range(pl.len()))))


def test_a_report_compares_again_when_the_data_changed(compared_study) -> None:
    """New mid-term submissions after `retour compare ... --did` make the stored comparison stale: the
    next report compares again, with --did as last time; a comparison that cannot be made leaves the
    section out (never a stale one) and says why."""
    project, _ = compared_study
    _store_midterm_results(project)
    compare_rounds(project, "baseline", "midterm", did=True)
    lines: list[str] = []
    _report_html(project, lines)
    assert lines == [] and _compare_runs(project).height == 1

    _add_late_midterm_submissions(project)
    factsheet, _ = _report_html(project, lines)
    assert lines == ["Comparaison baseline -> midterm recalculée (données ou réglages modifiés) / "
                     "baseline -> midterm compared first (data or settings changed)."]
    runs = _compare_runs(project)
    assert runs.height == 2 and json.loads(runs["details"][-1])["did"] is True
    assert "Change since Baseline" in factsheet

    settings = project.root / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('reference_round = "baseline"',
                                                                     'reference_round = "final"'))
    from retour.config import load_project

    lines.clear()
    factsheet, synthesis = _report_html(load_project(project.root), lines)
    assert len(lines) == 1 and lines[0].startswith("Évolution depuis baseline omise / change since baseline "
                                                   "left out: The index of the reference round 'final'")
    assert "Change since" not in factsheet and "Change since" not in synthesis
    assert _compare_runs(project).height == 2


def _latest(project, stage: str, round_name: str) -> dict:
    con = store.connect(project.store_path, read_only=True)
    try:
        return store.latest_run(con, stage, round_name)
    finally:
        con.close()


def test_a_report_is_stamped_with_its_estimates_and_refuses_results_older_than_the_data(compared_study):
    """The stamp carries the data and config hashes of the estimate run; after new submissions (or a
    changed settings file) and no new `retour estimate`, the report and the dashboard's PDF are refused
    with the stages to run again, instead of old numbers under today's stamp."""
    from types import SimpleNamespace

    from retour.config import load_project
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.exports import current_results
    from retour.dashboard.web import PageError
    from retour.study import estimate_round, write_report

    project, _ = compared_study
    _store_midterm_results(project)
    estimate_round(project, "midterm")
    run = _latest(project, "estimate", "midterm")
    factsheet, _ = _report_html(project, [])
    assert f"config {run['config_hash']} · data {run['data_hash']} · round" in factsheet
    assert _latest(project, "report", "midterm")["data_hash"] == run["data_hash"]

    _add_late_midterm_submissions(project)
    with pytest.raises(EstimationError) as refused:
        write_report(project, "midterm", ("en",), ("html",), workers=1)
    message = str(refused.value)
    assert message.startswith("The results of round 'midterm' are out of date: its submissions changed "
                              f"after `retour estimate` ran (data {run['data_hash']}; the store now holds "
                              "520 submissions")
    folder = project.root
    assert message.endswith(f"Run again: retour estimate {folder} --round midterm, then retour index "
                            f"{folder} --round midterm, then retour needs {folder} --round midterm.")
    dashboard = SimpleNamespace(project=project, access=StoreAccess(project.store_path))
    with pytest.raises(PageError) as page:
        current_results(dashboard, "midterm")
    assert page.value.status == 409 and page.value.detail == message

    estimate_round(project, "midterm")
    current_results(dashboard, "midterm")  # current again
    factsheet, _ = _report_html(project, [])
    assert f"data {_latest(project, 'estimate', 'midterm')['data_hash']} · round" in factsheet

    actors = project.root / "actors.yaml"  # read by no stored result: the results stay current
    actors.write_text(actors.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    current_results(SimpleNamespace(project=load_project(project.root), access=dashboard.access), "midterm")
    settings = project.root / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    with pytest.raises(EstimationError,
                       match=r"the study's retour.toml changed after `retour estimate` ran \(config"):
        write_report(load_project(project.root), "midterm", ("en",), ("html",), workers=1)


def test_needs_computed_before_the_latest_estimates_are_refused(compared_study):
    """Estimates run again after the needs: the report names `retour needs` as the stage to run."""
    from retour.study import estimate_round, results_record

    project, _ = compared_study
    con = store.connect(project.store_path)
    try:
        store.record_run(con, "needs", "midterm", {"retour_version": "0",
                                                  "config_hash": project.config_hash(),
                                                  "data_hash": store.data_hash(con, "midterm")})
    finally:
        con.close()
    estimate_round(project, "midterm")
    con = store.connect(project.store_path, read_only=True)
    try:
        record = results_record(project, con, "midterm")
    finally:
        con.close()
    assert record.rerun == ("needs",)
    assert record.why == "`retour needs` ran before the latest `retour estimate`"


def test_the_store_can_be_read_while_a_report_renders(compared_study, monkeypatch):
    """The report reads the store, closes it and renders: a read-only connection (the dashboard's) opens
    while the documents are made; the run is recorded afterwards."""
    from retour.study import write_report

    project, _ = compared_study
    _store_midterm_results(project)
    read_while_rendering = []

    def render(data, folder, languages, formats, progress=None, workers=None):
        con = store.open_read_only(project.store_path)
        try:
            read_while_rendering.append(store.read_results(con, "estimates", "midterm").height)
        finally:
            con.close()
        return []

    monkeypatch.setattr("retour.report.write_outputs", render)
    write_report(project, "midterm", ("en",), ("html",), workers=1)
    assert read_while_rendering and read_while_rendering[0] > 0
    assert _latest(project, "report", "midterm") is not None


def test_the_store_can_be_read_while_two_rounds_are_compared(compared_study, monkeypatch):
    """compare_rounds reads, closes the store while it computes, then writes: the dashboard's read-only
    connection opens in between."""
    import retour.comparison
    from retour.study import compare_rounds

    project, _ = compared_study
    computing = retour.comparison.compare
    read_while_computing = []

    def compare(*arguments, **keywords):
        con = store.open_read_only(project.store_path)
        try:
            read_while_computing.append(store.read_submissions(con, "midterm").height)
        finally:
            con.close()
        return computing(*arguments, **keywords)

    monkeypatch.setattr(retour.comparison, "compare", compare)
    compare_rounds(project, "baseline", "midterm")
    assert read_while_computing and read_while_computing[0] > 0
    assert _latest(project, "compare", "midterm") is not None


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 6])
def test_demo_midterm_round_recovers_its_stated_shifts_through_the_pipeline(study_dir, seed: int) -> None:
    """retour synth (baseline, then --round midterm --shift FILE --panel), ingest, estimate, index, compare:
    the panel links on the hashed case ids, and every stated change lies in its interval."""
    from retour.config import load_project
    from retour.study import build_index, estimate_round, ingest_export, synthesise

    settings = study_dir / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("bootstrap_replicates = 500",
                                                                     "bootstrap_replicates = 10"))
    project = load_project(study_dir)
    shifts_file = project.path("shifts_midterm.toml")
    for round_name, shift in (("baseline", None), ("midterm", shifts_file)):
        made = synthesise(project, round_name, seed=seed, shift=shift, panel=shift is not None)
        ingest_export(project, next(p for p in made.paths if p.suffix == ".csv"), round_name)
        estimate_round(project, round_name)
    build_index(project, "baseline")
    result = compare_rounds(project, "baseline", "midterm", did=True)
    assert result.linkage.pairing == "panel" and result.linkage.linked > 0.8 * result.linkage.respondents_to
    from retour.study import _index_catalogue
    from retour.synth import load_generator

    shifts = load_generator(project.path("generator")).load_shifts(shifts_file)
    means = {i.id for i in _index_catalogue(project).indicators if i.kind == "mean"}
    changes = result.changes.filter(pl.col("group_dimension") == "all")
    compared = set(changes["indicator_id"].to_list())
    missed, checked = [], 0
    for community in [c for c in changes["community_id"].unique().to_list() if c != "all"]:
        for indicator in set(shifts.default) | set(shifts.by_community.get(community, {})):
            if indicator in shifts.effects or indicator not in compared:
                continue  # beneficiaries' effect comes on top of a community's stated change
            row = changes.filter((pl.col("community_id") == community)
                                 & (pl.col("indicator_id") == indicator))
            truth = shifts.change(indicator, community, indicator in means)
            checked += 1
            if not row["ci_low"][0] <= truth <= row["ci_high"][0]:
                missed.append((community, indicator, truth, row["change"][0]))
    assert checked >= 7 and len(missed) <= 0.05 * checked, missed
    whole = result.did.filter(pl.col("community_id") == "all")
    for indicator in shifts.effects:
        row = whole.filter(pl.col("indicator_id") == indicator)
        truth = shifts.effect(indicator, indicator in means)
        assert row["ci_low"][0] <= truth <= row["ci_high"][0], (indicator, truth, row["did"][0])


def test_scores_are_compared_on_the_reference_round_s_goalposts(compared_study) -> None:
    """Both rounds are scored with the goalposts stored by the reference round's index; a reference
    round whose index was never built is an error that says what to run."""
    from retour.study import load_index_spec

    project, _ = compared_study
    spec = load_index_spec(project)
    unit = pl.DataFrame({"indicator_id": list(spec.indicator_ids), "low": 0.0, "high": 1.0,
                         "direction": "higher_is_better"})
    con = store.connect(project.store_path)
    try:
        store.write_results(con, "index_goalposts", unit, "baseline")
    finally:
        con.close()
    result = compare_rounds(project, "baseline", "midterm")
    estimates = result.changes.filter((pl.col("community_id") == "kati")
                                      & (pl.col("group_dimension") == "all"))
    value = dict(zip(estimates["indicator_id"], estimates["estimate_from"], strict=True))
    for pillar in spec.pillars:
        members = [i for i in spec.indicators if i.pillar == pillar and value.get(i.indicator_id) is not None]
        expected = sum(i.weight * (value[i.indicator_id] if i.higher_is_better else 1 - value[i.indicator_id])
                       for i in members) / sum(i.weight for i in members)
        row = result.score_changes.filter((pl.col("community_id") == "kati") & (pl.col("pillar") == pillar))
        assert row["score_from"][0] == pytest.approx(expected, rel=1e-12)

    settings = project.root / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('reference_round = "baseline"',
                                                                     'reference_round = "final"'))
    from retour.config import load_project

    with pytest.raises(EstimationError, match="reference round 'final' has not been built"):
        compare_rounds(load_project(project.root), "baseline", "midterm")
