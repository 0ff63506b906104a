"""Make the svy reference estimates that tests/test_estimate.py and tests/test_gaps.py compare with.

Run from the repository root (svy is a dev dependency):

    .venv/bin/python tests/golden/make_svy_golden.py

It writes, for each synthetic survey below, the respondent data (`svy_data_<survey>.csv`) and, for each
case (a survey with a design rule and an interval method), svy's estimates for every community x
group x indicator (`svy_estimates_<case>.csv`) and svy's contrasts for every gap
(`svy_gaps_<case>.csv`). Each CSV starts with `#` lines saying which tool and version made it.
The test module imports `CASES`, `svy_estimates` and `svy_gaps` from here to compare with svy live too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "src"))

from retour.estimate import Design, EstimationSpec  # noqa: E402

SEED = 20180305
LEVELS = {  # the groups of the synthetic surveys, each with its levels in report order
    "migration_status": ("returnee", "non_migrant"),
    "sex": ("women", "men"),
    "age_band": ("15_24", "25_34"),
    "area_type": ("urban", "rural"),
}
GROUPS = tuple(LEVELS)
PAIRS = {  # the levels (a, b) each group compares: gaps a - b
    "migration_status": ("returnee", "non_migrant"),
    "sex": ("women", "men"),
    "age_band": ("25_34", "15_24"),
    "area_type": ("urban", "rural"),
}
INDICATORS = ("paid_job", "can_borrow", "all_yes_in_kati", "none_in_kita", "household_size")
KINDS = {"household_size": "mean"}


@dataclass(frozen=True)
class Case:
    """A synthetic survey estimated under one design and one spec."""

    name: str
    survey: str
    design: Design
    spec: EstimationSpec
    kinds: dict[str, str] = field(default_factory=lambda: dict(KINDS))


STRATIFIED = Design("stratum", "psu", "weight")
CASES = (
    Case("stratified_logit", "stratified", STRATIFIED, EstimationSpec(ci_method="logit")),
    Case("stratified_wilson", "stratified", STRATIFIED, EstimationSpec(ci_method="wilson")),
    Case("lonely_certainty", "stratified", STRATIFIED,
         EstimationSpec(ci_method="wilson", lonely_psu="certainty")),
    Case("lonely_remove_90", "stratified", STRATIFIED,
         EstimationSpec(confidence=0.90, ci_method="logit", lonely_psu="remove")),
    Case("fpc_wilson", "fpc", Design("stratum", "psu", "weight", "fpc"), EstimationSpec(ci_method="wilson")),
    Case("clustered_logit", "clustered", Design(None, "psu", "weight"), EstimationSpec(ci_method="logit")),
    Case("element_wilson", "element", Design("stratum", None, "weight"), EstimationSpec(ci_method="wilson")),
    Case("weights_only_logit", "weights_only", Design(None, None, "weight"),
         EstimationSpec(ci_method="logit")),
)


def make_survey(name: str) -> pl.DataFrame:
    """A small synthetic survey: 3 communities with the quirks the tests need.

    kati has no respondent aged 25-34 (an empty domain) and a single returnee (a domain of one); in kati
    `all_yes_in_kati` is always 1 and in kita `none_in_kita` is always 0 (proportions of 1 and 0); about
    10% of answers are missing. In the `stratified` survey the stratum `kita-rural` has one PSU.
    """
    rng = np.random.default_rng([SEED, len(name)])
    sizes = {"kati": 40, "kita": 70, "bafoulabe": 90}
    community = np.repeat(list(sizes), list(sizes.values()))
    n = len(community)
    area = np.where(rng.random(n) < 0.5, "urban", "rural")
    psu_number = rng.integers(0, 4, n)
    if name == "stratified":  # kita-rural: one PSU
        psu_number = np.where((community == "kita") & (area == "rural"), 0, psu_number)
    migration = np.where(rng.random(n) < 0.35, "returnee", "non_migrant")
    kati = community == "kati"
    migration[kati] = "non_migrant"
    migration[np.flatnonzero(kati)[0]] = "returnee"
    age = np.where(rng.random(n) < 0.5, "15_24", "25_34")
    age[kati] = "15_24"
    sex = np.where(rng.random(n) < 0.5, "women", "men").astype(object)
    sex[rng.random(n) < 0.03] = None  # a few respondents without a group value
    frame = pl.DataFrame({
        "community_id": community,
        "stratum": np.char.add(np.char.add(community, "-"), area),
        "psu": [f"{c}-{a}-{p}" for c, a, p in zip(community, area, psu_number, strict=True)],
        "weight": rng.uniform(0.5, 4.0, n) * np.where(area == "urban", 1.0, 2.5),
        "fpc": np.where(area == "urban", 12.0, 9.0),
        "migration_status": migration, "sex": pl.Series(sex, dtype=pl.Utf8), "age_band": age,
        "area_type": area,
        "paid_job": (rng.random(n) < np.where(migration == "returnee", 0.55, 0.35)).astype(float),
        "can_borrow": (rng.random(n) < 0.3).astype(float),
        "all_yes_in_kati": np.where(kati, 1.0, (rng.random(n) < 0.6).astype(float)),
        "none_in_kita": np.where(community == "kita", 0.0, (rng.random(n) < 0.2).astype(float)),
        "household_size": rng.poisson(7, n) + 1.0,
    })
    missing = {c: rng.random(n) < 0.1 for c in INDICATORS}
    frame = frame.with_columns([pl.when(pl.Series(m)).then(None).otherwise(pl.col(c)).alias(c)
                                for c, m in missing.items()])
    if name == "clustered":  # PSUs cross communities; no strata
        frame = frame.with_columns(psu=pl.format("cluster-{}", pl.col("psu").str.slice(-1)))
    return frame


def svy_design(case: Case):
    """The svy design of a case."""
    import svy

    design = case.design
    singleton = {"adjust": "center", "certainty": "skip", "remove": "skip"}[case.spec.lonely_psu]
    options = {"singleton": singleton} if design.stratum else {}
    return svy.Design(stratum=design.stratum, psu=design.psu, wgt=design.weight, pop_size=design.fpc,
                      **options)


def _domains(frame: pl.DataFrame):
    """(community, dimension, svy by, svy where) for every domain family."""
    import svy

    yield "all", "all", None, None
    for dim in GROUPS:
        yield "all", dim, dim, None
    for community in sorted(frame["community_id"].unique().to_list()):
        where = svy.col("community_id") == community
        yield community, "all", None, where
        for dim in GROUPS:
            yield community, dim, dim, where


def svy_estimates(frame: pl.DataFrame, case: Case) -> pl.DataFrame:
    """svy's point, SE, interval, df, n and deff for every community x group x indicator it can estimate."""
    import svy

    sample = svy.Sample(frame, svy_design(case))
    alpha = 1 - case.spec.confidence
    rows = []
    for community, dim, by, where in _domains(frame):
        for indicator in INDICATORS:
            kind = case.kinds.get(indicator, "proportion")
            options = {"by": by, "where": where, "drop_nulls": True, "alpha": alpha}
            means = _svy_mean(sample, indicator, options)
            if means is None:
                continue
            if by is None:
                means = means.with_columns(pl.lit("all").alias("group"))
            else:
                means = means.rename({by: "group"})
            if kind == "proportion":
                props = sample.estimation.prop(indicator, ci_method=case.spec.ci_method, **options)
                props = props.to_polars()
                props = props.rename({by: "group"}) if by else props.with_columns(group=pl.lit("all"))
                ones = props.filter(pl.col(indicator) == 1).select("group", "lci", "uci")
                means = means.drop("lci", "uci").join(ones, on="group", how="left")
            for row in means.iter_rows(named=True):
                rows.append({"community_id": community, "group_dimension": dim, "group": row["group"],
                             "indicator_id": indicator, "estimate": row["est"], "se": row["se"],
                             "ci_low": row["lci"], "ci_high": row["uci"], "df": row["df"], "n": row["n"],
                             "deff": row["deff"]})
    return pl.DataFrame(rows).with_columns(pl.col("ci_low", "ci_high", "deff").fill_nan(None))


def _svy_mean(sample, indicator: str, options: dict) -> pl.DataFrame | None:
    """svy's mean with its design effect; without it where svy finds none (p = 0 or 1 everywhere)."""
    try:
        return sample.estimation.mean(indicator, deff="wr", **options).to_polars()
    except Exception as error:  # svy raises when no deff is computable, or no domain has an answer
        if "DEFF_NOT_COMPUTABLE" not in str(error):
            return None
    means = sample.estimation.mean(indicator, **options).to_polars()
    return means.with_columns(deff=pl.lit(None, pl.Float64))


def svy_gaps(frame: pl.DataFrame, case: Case) -> pl.DataFrame:
    """svy's contrast (group a minus group b) for every community x gap x indicator it can estimate."""
    import svy

    sample = svy.Sample(frame, svy_design(case))
    alpha = 1 - case.spec.confidence
    rows = []
    for community, dim, by, where in _domains(frame):
        if by is None or dim not in PAIRS:
            continue
        a, b = PAIRS[dim]
        for indicator in INDICATORS:
            try:
                means = sample.estimation.mean(indicator, by=by, where=where, drop_nulls=True, alpha=alpha)
                if not {a, b} <= set(means.keys()):
                    continue
                gap = means.contrast(svy.estd(a) - svy.estd(b)).to_polars().row(0, named=True)
            except Exception:  # a group without any answer: no contrast
                continue
            rows.append({"community_id": community, "group_dimension": dim, "group_a": a, "group_b": b,
                         "indicator_id": indicator, "difference": gap["est"], "se": gap["se"],
                         "ci_low": gap["lci"], "ci_high": gap["uci"], "statistic": gap["t"],
                         "p_value": gap["p_value"], "df": gap["df"]})
    return pl.DataFrame(rows).with_columns(pl.col("ci_low", "ci_high", "statistic", "p_value").fill_nan(None))


def provenance(case: Case | None, what: str) -> str:
    """The `#` header lines of a golden file."""
    lines = [f"# {what}",
             f"# made by svy {version('svy')} (svy_rs {version('svy_rs')}), polars {version('polars')}, "
             f"numpy {version('numpy')}",
             "# script: tests/golden/make_svy_golden.py (seeded numpy Generator, seed "
             f"{SEED}); do not edit by hand"]
    if case is not None:
        lines.append(f"# case: {case.name}; data: svy_data_{case.survey}.csv; design: {case.design}; "
                     f"spec: {case.spec}; kinds: {case.kinds}")
    return "\n".join(lines) + "\n"


def write(frame: pl.DataFrame, path: Path, header: str) -> None:
    """Write a CSV preceded by its provenance lines."""
    path.write_text(header + frame.write_csv(), encoding="utf-8")


def read(path: Path) -> pl.DataFrame:
    """Read a golden CSV, skipping its provenance lines."""
    return pl.read_csv(path, comment_prefix="#", infer_schema_length=None)


def main() -> None:
    for survey in sorted({case.survey for case in CASES}):
        write(make_survey(survey), HERE / f"svy_data_{survey}.csv",
              provenance(None, f"Synthetic respondents of survey '{survey}' (input of the svy cases)."))
    for case in CASES:
        frame = read(HERE / f"svy_data_{case.survey}.csv")
        write(svy_estimates(frame, case), HERE / f"svy_estimates_{case.name}.csv",
              provenance(case, "svy estimates: Sample.estimation.mean (deff='wr') and .prop (intervals)"))
        write(svy_gaps(frame, case), HERE / f"svy_gaps_{case.name}.csv",
              provenance(case, "svy gaps: Sample.estimation.mean(by=group).contrast(estd(a) - estd(b))"))
        print(f"wrote {case.name}")


if __name__ == "__main__":
    main()
