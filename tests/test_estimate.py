"""Design-based estimates: agreement with svy 0.35 (golden files and live), formulas, flags and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retour.errors import EstimationError
from retour.estimate import Design, EstimationSpec, estimate, proportion_interval
from svy_golden import CASES, GOLDEN, TOLERANCE, golden

KEYS = ["community_id", "group_dimension", "group", "indicator_id"]


def _ours(case) -> pl.DataFrame:
    frame = golden.read(GOLDEN / f"svy_data_{case.survey}.csv")
    return estimate(frame, golden.INDICATORS, case.design, case.spec, groups=golden.GROUPS, kinds=case.kinds,
                    levels=golden.LEVELS)


def _compare_with_svy(ours: pl.DataFrame, svy: pl.DataFrame) -> None:
    """Point, SE, interval, n and deff agree where svy has them; where svy has none, we say why."""
    both = svy.join(ours, on=KEYS, how="left", suffix="_ours", validate="1:1")
    assert both["estimate_ours"].null_count() == 0, "a domain svy estimates has no estimate here"
    for column in ("estimate", "se", "n"):
        np.testing.assert_allclose(both[f"{column}_ours"], both[column], **TOLERANCE, err_msg=column)
    with_interval = both.filter(pl.col("ci_low").is_not_null())
    for column in ("ci_low", "ci_high"):
        np.testing.assert_allclose(with_interval[f"{column}_ours"], with_interval[column], **TOLERANCE,
                                   err_msg=column)
    # svy gives no interval at p = 0 or 1 (nor without degrees of freedom); we give the Wilson interval
    # at the respondent count there, so it is only absent when there are no degrees of freedom.
    no_interval = both.filter(pl.col("ci_low").is_null())
    at_boundary = no_interval.filter(pl.col("estimate").is_in([0.0, 1.0]) & (pl.col("df") > 0))
    assert at_boundary.height > 0
    assert at_boundary["ci_low_ours"].null_count() == 0
    assert ((at_boundary["ci_low_ours"] <= at_boundary["estimate"])
            & (at_boundary["estimate"] <= at_boundary["ci_high_ours"])).all()
    assert no_interval.filter(pl.col("df") == 0)["ci_low_ours"].null_count() == no_interval.filter(
        pl.col("df") == 0).height
    # deff: svy reports 0 or NaN at p = 0 or 1 depending on rounding; we report none (0/0)
    inside = both.filter(~pl.col("estimate").is_in([0.0, 1.0]) & pl.col("deff").is_not_null())
    np.testing.assert_allclose(inside["deff_ours"], inside["deff"], rtol=1e-9, err_msg="deff")
    # domains svy cannot estimate (no answer at all) are here with n = 0 and no estimate
    absent = ours.join(svy, on=KEYS, how="anti")
    assert (absent["n"] == 0).all() and absent["estimate"].null_count() == absent.height


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_svy_golden_files(name: str) -> None:
    case = CASES[name]
    reference = golden.read(GOLDEN / f"svy_estimates_{name}.csv")
    header = (GOLDEN / f"svy_estimates_{name}.csv").read_text(encoding="utf-8").splitlines()[1]
    assert header.startswith("# made by svy 0.35")
    _compare_with_svy(_ours(case), reference)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stratified_logit", "lonely_certainty", "fpc_wilson", "clustered_logit",
                                  "element_wilson", "weights_only_logit"])
def test_agrees_with_svy_live(name: str) -> None:
    case = CASES[name]
    frame = golden.read(GOLDEN / f"svy_data_{case.survey}.csv")
    _compare_with_svy(_ours(case), golden.svy_estimates(frame, case))


def test_golden_data_is_what_the_script_makes() -> None:
    """The stored inputs are reproducible from the seeded generator (so the goldens can be remade)."""
    for survey in ("stratified", "clustered"):
        stored = golden.read(GOLDEN / f"svy_data_{survey}.csv")
        made = golden.make_survey(survey)
        assert stored.columns == made.columns
        np.testing.assert_allclose(stored["weight"], made["weight"], rtol=1e-15)
        assert stored["psu"].to_list() == made["psu"].to_list()


# --- a reference implementation with explicit loops, independent of svy and of the vectorised code


def _loop_reference(frame: pl.DataFrame, y: str, member: np.ndarray, design: Design, rule: str) -> tuple:
    """ybar, variance and df of one domain, by the textbook formulas, one PSU at a time."""
    values = frame[y].to_numpy().astype(float)
    w = frame[design.weight].to_numpy()
    used = member & ~np.isnan(values)
    ybar = np.sum(w[used] * values[used]) / np.sum(w[used])
    z = np.where(used, w * (np.nan_to_num(values) - ybar) / np.sum(w[used]), 0.0)
    strata = frame[design.stratum].to_list() if design.stratum else ["one"] * frame.height
    psus = frame[design.psu].to_list() if design.psu else list(range(frame.height))
    totals: dict = {}
    for i in range(frame.height):
        key = (strata[i], psus[i])
        totals[key] = totals.get(key, 0.0) + z[i]
    variance, df, grand = 0.0, 0, sum(totals.values()) / len(totals)
    for stratum in sorted(set(strata)):
        psu_totals = [t for (s, _), t in totals.items() if s == stratum]
        n_h = len(psu_totals)
        if n_h == 1:
            variance += (psu_totals[0] - grand) ** 2 if rule == "adjust" else 0.0
        else:
            variance += n_h / (n_h - 1) * np.sum((np.array(psu_totals) - np.mean(psu_totals)) ** 2)
        active = {p for (s, p), i in zip(zip(strata, psus, strict=True), range(frame.height), strict=True)
                  if s == stratum and used[i]}
        df += max(len(active) - 1, 0)
    return ybar, variance, df


@pytest.mark.parametrize("rule", ["adjust", "certainty"])
def test_matches_textbook_formulas_computed_psu_by_psu(rule: str) -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    design = Design("stratum", "psu", "weight")
    spec = EstimationSpec(lonely_psu=rule)
    ours = estimate(frame, ["paid_job"], design, spec, groups=("sex",))
    for community, group in [("kita", "women"), ("all", "men"), ("bafoulabe", "all")]:
        member = np.ones(frame.height, dtype=bool)
        if community != "all":
            member &= (frame["community_id"] == community).to_numpy()
        if group != "all":
            member &= (frame["sex"] == group).fill_null(False).to_numpy()
        ybar, variance, df = _loop_reference(frame, "paid_job", member, design, rule)
        row = ours.filter(pl.col("community_id") == community, pl.col("group") == group).row(0, named=True)
        assert row["estimate"] == pytest.approx(ybar, rel=1e-12)
        assert row["se"] == pytest.approx(np.sqrt(variance), rel=1e-10)
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
        assert df > 0


def test_domains_keep_the_design_instead_of_cutting_it() -> None:
    """Urban respondents live in 2 of the 5 PSUs of each stratum. Inside the full design the 3 other PSUs
    count with z = 0 (n_h = 5); on a frame cut to urban respondents they vanish (n_h = 2): another SE."""
    frame = _survey().with_columns(
        area_type=pl.when(pl.col("psu").str.slice(-1).is_in(["0", "1"])).then(pl.lit("urban")).otherwise(
            pl.lit("rural")))
    full = estimate(frame, ["paid_job"], Design(), EstimationSpec(), groups=("area_type",))
    inside = full.filter(pl.col("community_id") == "all", pl.col("group") == "urban").row(0, named=True)
    cut = estimate(frame.filter(pl.col("area_type") == "urban"), ["paid_job"], Design(), EstimationSpec(),
                   groups=())
    alone = cut.filter(pl.col("community_id") == "all").row(0, named=True)
    assert inside["estimate"] == pytest.approx(alone["estimate"], rel=1e-12)
    assert abs(inside["se"] - alone["se"]) > 1e-3
    member = (frame["area_type"] == "urban").to_numpy()
    _, variance, _ = _loop_reference(frame, "paid_job", member, Design(), "adjust")
    assert inside["se"] == pytest.approx(np.sqrt(variance), rel=1e-10)


def test_lonely_psu_rules() -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    design = Design("stratum", "psu", "weight")
    by_rule = {rule: estimate(frame, ["paid_job"], design, EstimationSpec(lonely_psu=rule), groups=())
               for rule in ("adjust", "certainty", "remove")}
    kita = {rule: result.filter(pl.col("community_id") == "kita")["se"][0] for rule, result in
            by_rule.items()}
    assert kita["certainty"] == kita["remove"]
    assert kita["adjust"] > kita["certainty"]  # the lonely PSU (kita-rural) adds variance under adjust
    kati = {rule: result.filter(pl.col("community_id") == "kati")["se"][0] for rule, result in
            by_rule.items()}
    assert kati["adjust"] == kati["certainty"]  # kati has no lonely stratum


# --- output shape, counts and flags

LEVELS = {"migration_status": ("returnee", "non_migrant"), "sex": ("women", "men"),
          "age_band": ("15_24", "25_34"), "area_type": ("urban", "rural")}


def _survey(n: int = 400, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    community = rng.choice(["kita", "kati", "kayes"], n)
    paid = (rng.random(n) < 0.4).astype(float)
    paid[rng.random(n) < 0.15] = np.nan
    return pl.DataFrame({
        "community_id": community, "stratum": community,
        "psu": [f"{c}-{k}" for c, k in zip(community, rng.integers(0, 5, n), strict=True)],
        "weight": rng.uniform(1, 3, n),
        "migration_status": rng.choice(["returnee", "non_migrant"], n),
        "sex": rng.choice(["women", "men"], n),
        "age_band": rng.choice(["15_24", "25_34"], n), "area_type": rng.choice(["urban", "rural"], n),
        "paid_job": paid, "household_size": rng.poisson(6, n).astype(float),
    }).with_columns(pl.col("paid_job").fill_nan(None))


def test_output_follows_the_estimates_contract() -> None:
    frame = _survey()
    result = estimate(frame, ["paid_job", "household_size"], Design(), EstimationSpec(), groups=tuple(LEVELS),
                      kinds={"household_size": "mean"}, levels=LEVELS)
    assert result.columns == ["community_id", "group_dimension", "group", "indicator_id", "estimate", "se",
                              "ci_low", "ci_high", "n", "weighted_n", "deff", "n_missing", "suppressed"]
    assert result.schema["n"] == pl.Int64 and result.schema["suppressed"] == pl.Boolean
    assert result.height == 4 * 9 * 2  # (3 communities + all) x 9 groups x 2 indicators
    assert result["community_id"].unique(maintain_order=True).to_list() == ["kati", "kayes", "kita", "all"]
    assert result["group"].unique(maintain_order=True).to_list() == [
        "all", "returnee", "non_migrant", "women", "men", "15_24", "25_34", "urban", "rural"]
    sizes = dict(result.group_by("group_dimension").len().iter_rows())
    assert sizes == {"all": 8, "migration_status": 16, "sex": 16, "age_band": 16, "area_type": 16}


def test_counts_missing_answers_and_weights() -> None:
    frame = _survey()
    result = estimate(frame, ["paid_job"], Design(), EstimationSpec(), groups=("sex",))
    for community in ("kita", "all"):
        members = frame if community == "all" else frame.filter(pl.col("community_id") == community)
        women = members.filter(pl.col("sex") == "women")
        row = result.filter(pl.col("community_id") == community,
                            pl.col("group") == "women").row(0, named=True)
        assert row["n"] == women["paid_job"].count()
        assert row["n_missing"] == women["paid_job"].null_count() > 0
        answered = women.filter(pl.col("paid_job").is_not_null())
        assert row["weighted_n"] == pytest.approx(answered["weight"].sum(), rel=1e-12)
        assert row["estimate"] == pytest.approx((answered["weight"] * answered["paid_job"]).sum()
                                                / answered["weight"].sum(), rel=1e-12)


def test_small_and_empty_domains_are_flagged() -> None:
    frame = golden.read(GOLDEN / "svy_data_stratified.csv")
    result = estimate(frame, ["paid_job"], Design("stratum", "psu", "weight"), EstimationSpec(min_cell=10),
                      groups=golden.GROUPS, levels=golden.LEVELS)
    kati = result.filter(pl.col("community_id") == "kati")
    empty = kati.filter(pl.col("group") == "25_34").row(0, named=True)
    assert (empty["n"], empty["estimate"], empty["se"], empty["suppressed"]) == (0, None, None, True)
    single = kati.filter(pl.col("group") == "returnee").row(0, named=True)
    assert single["n"] == 1 and single["suppressed"] and single["ci_low"] is None  # one PSU: no df
    assert (result["suppressed"] == (result["n"] < 10)).all()


def test_equal_weights_without_clusters_design_effect() -> None:
    """Simple random sampling: v = s^2 / n for the whole sample, so deff = 1; a domain of n_d out of N
    respondents has deff = N / (N - 1) (n_d - 1) / n_d (its zeros outside count in the variance)."""
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"community_id": rng.choice(["a", "b"], 300), "weight": np.full(300, 2.5),
                          "y": rng.normal(50, 10, 300), "p": (rng.random(300) < 0.3).astype(float)})
    result = estimate(frame, ["y", "p"], Design(None, None, "weight"), EstimationSpec(), groups=(),
                      kinds={"y": "mean"})
    whole = result.filter(pl.col("community_id") == "all")
    np.testing.assert_allclose(whole["deff"], 1.0, rtol=1e-9)
    domains = result.filter(pl.col("community_id") != "all")
    expected = 300 / 299 * (domains["n"] - 1) / domains["n"]
    np.testing.assert_allclose(domains["deff"], expected, rtol=1e-9)


def test_groups_are_optional() -> None:
    frame = _survey()
    result = estimate(frame, ["paid_job"], Design(), EstimationSpec(), groups=())
    assert result.select("community_id", "group").rows() == [
        ("kati", "all"), ("kayes", "all"), ("kita", "all"), ("all", "all")]


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 1000.0), seed=st.integers(0, 10_000))
def test_scaling_all_weights_changes_nothing(scale: float, seed: int) -> None:
    frame = _survey(120, seed)
    kinds = {"household_size": "mean"}
    base = estimate(frame, ["paid_job", "household_size"], Design(), EstimationSpec(), groups=tuple(LEVELS),
                    kinds=kinds)
    scaled = estimate(frame.with_columns(pl.col("weight") * scale), ["paid_job", "household_size"], Design(),
                      EstimationSpec(), groups=tuple(LEVELS), kinds=kinds)
    for column in ("estimate", "se", "ci_low", "ci_high", "deff"):
        np.testing.assert_allclose(scaled[column].to_numpy().astype(float),
                                   base[column].to_numpy().astype(float), rtol=1e-9, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.0, 1.0), se=st.floats(0.0, 0.5), df=st.integers(0, 200), n=st.integers(0, 500),
       method=st.sampled_from(["wilson", "logit"]))
def test_proportion_intervals_stay_within_zero_and_one(p: float, se: float, df: int, n: int,
                                                        method: str) -> None:
    low, high = proportion_interval(np.array([p]), np.array([se]), np.array([df]), np.array([n]), 0.95,
                                    method)
    at_boundary = p <= 1e-12 or p >= 1 - 1e-12
    undefined = df == 0 or (at_boundary and n == 0)
    assert np.isnan(low[0]) == np.isnan(high[0]) == undefined
    if undefined:
        return
    assert 0.0 <= low[0] <= high[0] <= 1.0
    assert low[0] <= p + 1e-12 and p - 1e-12 <= high[0]


def test_boundary_interval_is_one_sided() -> None:
    low, high = proportion_interval(np.array([0.0, 1.0]), np.zeros(2), np.array([20, 20]), np.array([40, 40]),
                                    0.95, "logit")
    assert low[0] == 0.0 and 0.0 < high[0] < 0.15
    assert high[1] == 1.0 and 0.85 < low[1] < 1.0


# --- errors a user can fix


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop("weight"), "Columns missing from the respondent frame: weight"),
    (lambda f: f.with_columns(
        weight=pl.when(pl.int_range(pl.len()) == 4).then(0.0).otherwise(pl.col("weight"))),
     "1 respondents have a missing, zero or negative weight in 'weight' (first at row 5: 0.0)"),
    (lambda f: f.with_columns(paid_job=pl.col("paid_job") * 2), "values other than 0 and 1: paid_job"),
    (lambda f: f.with_columns(community_id=pl.lit("all")), "'all' is reserved"),
    (lambda f: f.with_columns(psu=pl.lit(None, pl.Utf8)), "no value in the design column 'psu'"),
    (lambda f: f.head(0), "No respondents"),
])
def test_bad_input_is_reported_with_a_hint(change, message: str) -> None:
    with pytest.raises(EstimationError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        estimate(change(_survey()), ["paid_job"], Design(), EstimationSpec())
    assert error.value.hint


def test_bad_spec_is_refused() -> None:
    with pytest.raises(EstimationError, match="Unknown interval method 'wald'"):
        EstimationSpec(ci_method="wald")
    with pytest.raises(EstimationError, match="Unknown lonely PSU rule"):
        EstimationSpec(lonely_psu="collapse")
    with pytest.raises(EstimationError, match="Unknown indicator kind: paid_job=median"):
        estimate(_survey(), ["paid_job"], Design(), EstimationSpec(), kinds={"paid_job": "median"})


def test_spec_from_study_settings(study_dir: Path) -> None:
    from retour.config import load_project

    settings = load_project(study_dir).settings.estimation
    spec = EstimationSpec.from_settings(settings)
    assert (spec.confidence, spec.ci_method, spec.lonely_psu, spec.min_cell) == (0.95, "logit", "adjust", 10)


@pytest.mark.parametrize("indicators", [["household_size"], ["paid_job", "household_size"]])
def test_the_frame_is_not_modified(indicators: list[str]) -> None:
    frame = _survey()
    before = frame.clone()
    estimate(frame, indicators, Design(), EstimationSpec(), kinds={"household_size": "mean"})
    assert frame.equals(before)


# --- the stage over a study folder: `study.estimate_round` and `retour estimate`


@pytest.fixture(scope="module")
def ingested_study(tmp_path_factory):
    """The example study with its synthetic baseline generated and ingested (as `retour demo` does)."""
    from retour.study import _index_catalogue, ingest_export, init_study, synthesise

    project = init_study(tmp_path_factory.mktemp("estimate") / "study")
    made = synthesise(project, "baseline", seed=20180305)
    ingest_export(project, next(f for f in made.paths if f.suffix == ".csv"), "baseline")
    return project, _index_catalogue(project)


def _run(arguments: list[str]) -> int:
    from retour.cli import main

    try:
        main(arguments)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.mark.slow
def test_estimate_round_stores_estimates_gaps_and_a_run(ingested_study):
    from retour import store
    from retour.study import estimate_round

    project, catalogue = ingested_study
    result = estimate_round(project, "baseline")
    n_communities = 7 + 1
    assert result.estimates.height == n_communities * 9 * len(catalogue.ids)
    assert result.gaps.height == n_communities * 4 * len(catalogue.ids)
    assert result.groups_without_comparison == ()
    con = store.connect(project.store_path, read_only=True)
    try:
        estimates = store.read_results(con, "estimates", "baseline")
        gap_table = store.read_results(con, "gaps", "baseline")
        run = store.latest_run(con, "estimate", "baseline")
        respondents = store.read_submissions(con, "baseline").height
    finally:
        con.close()
    assert estimates.drop("round").equals(result.estimates) and gap_table.drop("round").equals(result.gaps)
    assert run is not None and run["config_hash"] == project.config_hash()
    whole = result.estimates.filter(pl.col("community_id") == "all", pl.col("group_dimension") == "all")
    assert ((whole["n"] + whole["n_missing"]) == respondents).all()
    share = whole.filter(pl.col("indicator_id") == "return_migrants_share").row(0, named=True)
    assert 0.2 < share["estimate"] < 0.4 and share["ci_low"] < share["estimate"] < share["ci_high"]


@pytest.mark.slow
def test_cli_prints_filtered_estimates_and_gaps(ingested_study, capsys):
    project, _ = ingested_study
    assert _run(["estimate", str(project.root), "--community", "kati", "--indicator", "paid_job_or_iga",
                 "--format", "csv"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0] == ("community_id,group_dimension,group,indicator_id,estimate,se,ci_low,ci_high,n,"
                        "weighted_n,deff,n_missing,suppressed")
    assert len(lines) == 1 + 9 and all(line.startswith("kati,") for line in lines[1:])
    assert "estimates and" in out.err and "estimations et" in out.err
    assert "Synthetic data calibrated to published aggregates" in out.err

    assert _run(["estimate", str(project.root), "--gaps", "--group-dimension", "sex",
                 "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {(r["group_a"], r["group_b"]) for r in records} == {("women", "men")}
    assert {"difference", "p_value", "p_adjusted", "statistic"} <= set(records[0])


@pytest.mark.slow
def test_cli_names_the_known_values_of_a_bad_filter(ingested_study, capsys):
    project, _ = ingested_study
    assert _run(["estimate", str(project.root), "--community", "timbuktu"]) == 1
    err = capsys.readouterr().err
    assert "Error: No community_id 'timbuktu' in the estimates of round 'baseline'." in err
    assert "bafoulabe" in err


_OTHER_GROUPS = """
[[groups]]
id = "gender"
levels = ["female", "male"]
compare = ["female", "male"]
expression = "if(${sex} = 'female', 'female', if(${sex} = 'male', 'male', ''))"

[[groups]]
id = "birthplace"
levels = ["native", "newcomer"]
compare = ["native", "newcomer"]
expression = "if(${born_in_community} = 'yes', 'native', if(${born_in_community} = 'no', 'newcomer', ''))"

[[groups]]
id = "marital"
levels = ["single", "married"]
expression = "if(${marital_status} = 'single', 'single', if(${marital_status} = 'married', 'married', ''))"

[[groups]]
id = "return_status"
levels = ["stayed", "returned"]
compare = ["returned", "stayed"]
expression = "if(${lived_abroad_3m} = 'yes', 'returned', if(${lived_abroad_3m} = 'no', 'stayed', ''))"
"""


@pytest.fixture
def other_groups_study(ingested_study, tmp_path):
    """A copy of the ingested study whose indicators.toml has other groups: ids, levels and comparisons
    that no shipped study has, and one group (marital) that compares nothing."""
    import shutil

    from retour.config import load_project

    project, _ = ingested_study
    root = shutil.copytree(project.root, tmp_path / "study")
    path = root / "indicators.toml"
    kept, in_group = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            in_group = line.strip() == "[[groups]]"
        if not in_group:
            kept.append(line)
    path.write_text("\n".join(kept) + "\n" + _OTHER_GROUPS, encoding="utf-8")
    return load_project(root)


@pytest.mark.slow
def test_cli_estimates_the_groups_of_any_catalogue(other_groups_study, capsys):
    """Groups are data (issue 15): gaps for exactly the compared groups, a - b as `compare` says, and
    one line naming the group that compares nothing and the setting to add."""
    root = str(other_groups_study.root)
    assert _run(["estimate", root, "--gaps", "--community", "all", "--indicator", "paid_job_or_iga",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    assert [(r["group_dimension"], r["group_a"], r["group_b"]) for r in records] == [
        ("gender", "female", "male"), ("birthplace", "native", "newcomer"),
        ("return_status", "returned", "stayed")]
    notice = [line for line in out.err.splitlines() if "without a comparison" in line]
    assert notice == ["Pas d'écarts pour les groupes sans comparaison : marital / No gaps for groups without "
                      'a comparison: marital; add compare = ["a", "b"] (two of its levels) to the group in '
                      "indicators.toml."]

    assert _run(["estimate", root, "--community", "all", "--indicator", "paid_job_or_iga",
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert [line.split(",")[2] for line in lines] == [
        "all", "female", "male", "native", "newcomer", "single", "married", "stayed", "returned"]

    assert _run(["estimate", root, "--gaps", "--group-dimension", "marital"]) == 1
    assert "Error: Group 'marital' compares no levels, so it has no gaps. Add compare = " in (
        capsys.readouterr().err)
    assert _run(["estimate", root, "--group-dimension", "sex"]) == 1
    assert ("Error: No group 'sex' in indicators.toml. Use all, or a group of the study: gender, birthplace, "
            "marital, return_status.") in capsys.readouterr().err


def test_cli_needs_submissions_first(study_dir, capsys):
    assert _run(["estimate", str(study_dir)]) == 1
    err = capsys.readouterr().err
    assert "Error: No submissions for round 'baseline'." in err and "retour ingest" in err


def test_without_domains_only_the_whole_sample_is_estimated() -> None:
    result = estimate(_survey(), ["paid_job"], Design(), EstimationSpec(), domains=(), groups=("sex",),
                      levels={"sex": ("women", "men")})
    assert result.columns[:3] == ["group_dimension", "group", "indicator_id"]
    assert result["group"].to_list() == ["all", "women", "men"]
    with_domains = estimate(_survey(), ["paid_job"], Design(), EstimationSpec(), groups=("sex",),
                            levels={"sex": ("women", "men")})
    whole = with_domains.filter(pl.col("community_id") == "all").drop("community_id")
    assert whole.select("group", "n", "n_missing", "suppressed").equals(
        result.select("group", "n", "n_missing", "suppressed"))
    for column in ("estimate", "se", "ci_low", "ci_high", "weighted_n", "deff"):
        np.testing.assert_allclose(result[column], whole[column], rtol=1e-12)
