"""Make the svy reference changes between two rounds that tests/test_rounds.py compares with.

Run from the repository root (svy is a dev dependency):

    .venv/bin/python tests/golden/make_svy_change_golden.py

Two synthetic rounds of a stratified cluster sample (`make_rounds`): the second re-interviews most
respondents of the first (same case id, a new cluster label, a new weight; 60% of their answers are
the same as before), adds a refreshment sample,
and marks programme beneficiaries. svy estimates each change as a contrast of round means of one
stacked design, built here independently of `retour.rounds`:

- `svy_change_independent.csv`: rounds stacked as separate strata (stratum = round / stratum), the
  change of each community (x sex) domain as mean(by=round, where=domain).contrast(b - a);
- `svy_change_panel.csv`: linked respondents (a case id seen once in each round) keep their first-round
  stratum and cluster in both rounds; others keep their own;
- `svy_change_did.csv`: the panel stack, contrast (B,to - B,from) - (C,to - C,from), the first round
  taking each linked respondent's programme group from the second;
- `svy_change_differences.csv`: a complete panel (everyone re-interviewed with the same weight, every
  answer given): svy's mean of the within-person difference y_to - y_from.
Each CSV starts with `#` lines saying which tool and version made it.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
SEED = 20200302
INDICATORS = ("paid_job", "can_borrow", "household_size")
KINDS = {"household_size": "mean"}
COMMUNITIES = {"kati": 60, "kita": 90, "bafoulabe": 110}


def _round_frame(rng: np.random.Generator, community: np.ndarray, psu: list[str],
                 shift: float) -> pl.DataFrame:
    n = len(community)
    return pl.DataFrame({
        "community_id": community, "stratum": community, "psu": psu,
        "weight": rng.uniform(0.5, 3.0, n) * np.where(community == "kati", 2.0, 1.0),
        "sex": np.where(rng.random(n) < 0.5, "women", "men"),
        "paid_job": (rng.random(n) < 0.35 + shift).astype(float),
        "can_borrow": (rng.random(n) < 0.25 + shift / 2).astype(float),
        "household_size": rng.poisson(7, n) + 1.0 + 10 * shift,
    })


def _with_missing(rng: np.random.Generator, frame: pl.DataFrame, share: float) -> pl.DataFrame:
    return frame.with_columns([pl.when(pl.Series(rng.random(frame.height) < share)).then(None)
                               .otherwise(pl.col(c)).alias(c) for c in INDICATORS])


def make_rounds(complete: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(first round, second round) respondents with case ids; `complete`: a full panel, same weights,
    no missing answers and no refreshment sample."""
    rng = np.random.default_rng([SEED, int(complete)])
    community = np.repeat(list(COMMUNITIES), list(COMMUNITIES.values()))
    cluster = rng.integers(0, 5, len(community))
    first = _round_frame(rng, community, [f"{c}-{k}" for c, k in zip(community, cluster, strict=True)], 0.0)
    first = first.with_columns(case_id=pl.format("p{}", pl.int_range(pl.len())),
                               programme_group=pl.lit(None, pl.Utf8))
    stay = rng.random(first.height) < (1.0 if complete else 0.8)
    again = _round_frame(rng, community[stay], [f"v2-{c}-{k}" for c, k in
                                                zip(community[stay], cluster[stay], strict=True)], 0.1)
    again = again.with_columns(case_id=first["case_id"].filter(pl.Series(stay)))
    keep = pl.Series(rng.random(again.height) < 0.6)  # a re-interviewed respondent often answers as before
    again = again.with_columns([pl.when(keep).then(first[c].filter(pl.Series(stay))).otherwise(pl.col(c))
                                .alias(c) for c in INDICATORS])
    if complete:
        again = again.with_columns(weight=first["weight"].filter(pl.Series(stay)),
                                   sex=first["sex"].filter(pl.Series(stay)))
    beneficiary = (cluster[stay] % 2 == 0) & (rng.random(int(stay.sum())) < 0.9)
    again = again.with_columns(programme_group=pl.Series(np.where(beneficiary, "beneficiary", "comparison")))
    if not complete:
        refresh_community = rng.choice(list(COMMUNITIES), 50)
        refresh = _round_frame(rng, refresh_community,
                               [f"v2-{c}-{k}" for c, k in zip(refresh_community, rng.integers(3, 7, 50),
                                                               strict=True)], 0.1)
        refresh = refresh.with_columns(case_id=pl.format("n{}", pl.int_range(pl.len())),
                                       programme_group=pl.Series(rng.choice(["beneficiary", "comparison"],
                                                                            50)))
        refresh = refresh.with_columns(case_id=pl.when(pl.int_range(pl.len()) < 2).then(pl.lit("n-twice"))
                                       .otherwise(pl.col("case_id")))  # a duplicated id: never linked
        again = pl.concat([again, refresh])
        first, again = _with_missing(rng, first, 0.08), _with_missing(rng, again, 0.08)
    return first, again


def stacked(first: pl.DataFrame, second: pl.DataFrame, pairing: str) -> pl.DataFrame:
    """Both rounds in one frame (round a, b) with the design svy is given, and the DID groups."""
    a, b = first.with_columns(round=pl.lit("a")), second.with_columns(round=pl.lit("b"))
    if pairing == "independent":
        a = a.with_columns(stratum=pl.lit("a/") + pl.col("stratum"))
        b = b.with_columns(stratum=pl.lit("b/") + pl.col("stratum"))
    else:
        once = [frame.group_by("case_id").len().filter(pl.col("len") == 1).select("case_id")
                for frame in (a, b)]
        linked = once[0].join(once[1], on="case_id")
        design = a.join(linked, on="case_id").select("case_id", pl.col("stratum").alias("_s"),
                                                     pl.col("psu").alias("_p"))
        groups = b.join(linked, on="case_id").select("case_id", pl.col("programme_group").alias("_g"))
        b = b.join(design, on="case_id", how="left", maintain_order="left").with_columns(
            stratum=pl.coalesce("_s", "stratum"), psu=pl.coalesce("_p", "psu")).drop("_s", "_p")
        a = a.join(groups, on="case_id", how="left", maintain_order="left").with_columns(
            programme_group=pl.coalesce("_g", "programme_group")).drop("_g")
    both = pl.concat([a, b], how="diagonal_relaxed")
    return both.with_columns(round_group=pl.col("round") + "|" + pl.col("programme_group"))


def _sample(frame: pl.DataFrame):
    import svy

    return svy.Sample(frame, svy.Design(stratum="stratum", psu="psu", wgt="weight"))


def _domains(frame: pl.DataFrame):
    import svy

    yield "all", None
    for community in sorted(COMMUNITIES):
        yield community, svy.col("community_id") == community


def svy_changes(frame: pl.DataFrame) -> pl.DataFrame:
    """svy's change (round b minus round a) per community x (all, women, men) x indicator."""
    import svy

    sample, rows = _sample(frame), []
    for community, where in _domains(frame):
        for dimension, level in (("all", "all"), ("sex", "women"), ("sex", "men")):
            # the change's domain is community x group: its df counts the PSUs answering in it
            domain = where if level == "all" else (svy.col("sex") == level) if where is None else (
                where & (svy.col("sex") == level))
            for indicator in INDICATORS:
                means = sample.estimation.mean(indicator, by="round", where=domain, drop_nulls=True)
                found = means.contrast(svy.estd("b") - svy.estd("a")).to_polars().row(0, named=True)
                rows.append({"community_id": community, "group_dimension": dimension, "group": level,
                             "indicator_id": indicator, **_contrast_values(found)})
    return pl.DataFrame(rows)


def svy_did(frame: pl.DataFrame) -> pl.DataFrame:
    """svy's difference-in-differences per community x indicator."""
    import svy

    sample, rows = _sample(frame), []
    for community, where in _domains(frame):
        for indicator in INDICATORS:
            means = sample.estimation.mean(indicator, by="round_group", where=where, drop_nulls=True)
            combination = (svy.estd("b|beneficiary") - svy.estd("a|beneficiary") - svy.estd("b|comparison")
                           + svy.estd("a|comparison"))
            found = means.contrast(combination).to_polars().row(0, named=True)
            values = _contrast_values(found)
            rows.append({"community_id": community, "indicator_id": indicator, "did": values.pop("change"),
                         **values})
    return pl.DataFrame(rows)


def svy_differences(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """svy's mean of y_b - y_a over a complete panel, with the first round's design."""
    later = second.select("case_id", *[pl.col(i).alias(f"{i}_b") for i in INDICATORS])
    wide = first.join(later, on="case_id")
    wide = wide.with_columns([(pl.col(f"{i}_b") - pl.col(i)).alias(f"d_{i}") for i in INDICATORS])
    sample, rows = _sample(wide), []
    for community, where in _domains(wide):
        for indicator in INDICATORS:
            found = sample.estimation.mean(f"d_{indicator}", where=where, drop_nulls=True).to_polars()
            row = found.row(0, named=True)
            rows.append({"community_id": community, "indicator_id": indicator, "change": row["est"],
                         "se": row["se"], "ci_low": row["lci"], "ci_high": row["uci"], "df": row["df"]})
    return pl.DataFrame(rows)


def _contrast_values(found: dict) -> dict:
    return {"change": found["est"], "se": found["se"], "ci_low": found["lci"], "ci_high": found["uci"],
            "statistic": found["t"], "p_value": found["p_value"], "df": found["df"]}


def provenance(what: str) -> str:
    """The `#` header lines of a golden file."""
    return "\n".join([
        f"# {what}",
        f"# made by svy {version('svy')} (svy_rs {version('svy_rs')}), polars {version('polars')}, "
        f"numpy {version('numpy')}",
        f"# script: tests/golden/make_svy_change_golden.py (seeded numpy Generator, seed {SEED}); "
        "do not edit by hand"]) + "\n"


def read(path: Path) -> pl.DataFrame:
    """Read a golden CSV, skipping its provenance lines."""
    return pl.read_csv(path, comment_prefix="#", infer_schema_length=None)


def main() -> None:
    first, second = make_rounds()
    outputs = {
        "independent": (svy_changes(stacked(first, second, "independent")),
                        "svy changes, rounds as separate strata: mean(by=round).contrast(estd(b) - estd(a))"),
        "panel": (svy_changes(stacked(first, second, "panel")),
                  "svy changes, linked respondents in their first-round PSU: mean(by=round).contrast(...)"),
        "did": (svy_did(stacked(first, second, "panel")),
                "svy difference-in-differences on the panel stack: mean(by=round|group).contrast(...)"),
        "differences": (svy_differences(*make_rounds(complete=True)),
                        "svy mean of within-person differences over a complete panel"),
    }
    for name, (frame, what) in outputs.items():
        (HERE / f"svy_change_{name}.csv").write_text(provenance(what) + frame.write_csv(), encoding="utf-8")
        print(f"wrote svy_change_{name}.csv")


if __name__ == "__main__":
    main()
