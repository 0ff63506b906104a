"""Compare stage: change between two rounds and the programme's effect (issue 10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retour.config import Project
from retour.errors import ConfigError
from retour.study import _community_ids, _index_area_types, _index_catalogue, stamp
from retour.study.index import group_levels, load_index_spec

if TYPE_CHECKING:
    import polars as pl

    from retour.comparison import Comparison


COMPARISON_TABLES = ("changes", "score_changes", "did_estimates", "need_changes", "indicator_comparability",
                     "questionnaire_changes")


def compare_rounds(project: Project, from_round: str, to_round: str, did: bool = False,
                   pairing: str = "auto") -> Comparison:
    """Compare two rounds and store the result: indicator, score and needs changes (and the
    difference-in-differences between beneficiaries and comparison respondents when `did`).

    Reads both rounds' submissions (re-derived with the catalogue, broken down by its groups) and
    stored needs; scores use the reference round's stored goalposts. Writes the COMPARISON_TABLES
    under the later round with a `from_round` column: each pair of rounds is kept, and comparing the
    same pair again replaces only its rows. Records a `compare` run whose data hash covers what was
    read (`comparison_inputs_hash`).
    `pairing`: auto, independent or panel (see `retour.rounds`).
    """
    import json

    from retour import store
    from retour.comparison import CompareSpec, compare
    from retour.estimate import Design, EstimationSpec
    from retour.expressions import referenced_fields

    settings = project.settings
    for name in (from_round, to_round):
        settings.round(name)
    if from_round == to_round:
        raise ConfigError(f"Both rounds are '{from_round}'.",
                          "Compare two different rounds: --from R1 --to R2.")
    catalogue = _index_catalogue(project)
    fields = {i.id: tuple(sorted(referenced_fields(i.formula) | referenced_fields(i.universe)))
              for i in catalogue.indicators}
    # Read, then compute with the store closed (the dashboard keeps reading it), then write.
    con = (store.open_read_only(project.store_path) if project.store_path.exists()
           else store.connect(project.store_path))
    try:
        data = [_comparison_round(project, con, catalogue, name, did) for name in (from_round, to_round)]
        spec = CompareSpec(
            indicators=catalogue.ids, indicator_fields=fields,
            design=Design(stratum="stratum", psu="psu", weight="weight",
                          fpc="fpc" if settings.design.fpc else None),
            estimation=EstimationSpec.from_settings(settings.estimation),
            kinds={i.id: i.kind for i in catalogue.indicators}, groups=group_levels(catalogue),
            index=_comparison_index_spec(project, con, catalogue, from_round),
            pairing=pairing, case_id=settings.design.case_id, did=did, communities=_community_ids(project))
        inputs = comparison_inputs_hash(project, con, from_round, to_round)
    finally:
        con.close()
    result = compare(*data, spec)
    con = store.connect(project.store_path)
    try:
        frames = result.frames()
        for table in COMPARISON_TABLES:
            store.write_results(con, table, frames[table], to_round, key={"from_round": from_round})
        details = {"from_round": from_round, "pairing": result.linkage.pairing,
                   "linked": result.linkage.linked, "did": did, "pairing_asked": pairing}
        store.record_run(con, "compare", to_round, stamp(project, inputs, to_round), json.dumps(details))
    finally:
        con.close()
    return result


def baseline_round(project: Project) -> str | None:
    """The study's baseline: the first survey round of retour.toml (None when it has no survey round)."""
    return next((r.name for r in project.settings.rounds if r.kind == "survey"), None)


def comparison_inputs_hash(project: Project, con: Any, from_round: str, to_round: str) -> str:
    """SHA-256 (first 12 hex) of what a comparison of two rounds reads: both rounds' submissions (their
    data hashes), their stored needs levels and the reference round's stored goalposts."""
    import hashlib

    from retour import store

    parts = [f"{name}:{store.data_hash(con, name)}" for name in (from_round, to_round)]
    for name in (from_round, to_round):
        needs = store.read_results(con, "needs", name)
        if needs.height:
            parts.append(needs.select("community_id", "issue_id", "level")
                         .sort("community_id", "issue_id").write_csv())
    goalposts = store.read_results(con, "index_goalposts", project.settings.index.reference_round)
    if goalposts.height:
        parts.append(goalposts.drop("round").sort("indicator_id").write_csv())
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]


def comparison_state(project: Project, con: Any, from_round: str, to_round: str) -> str:
    """`current`, `missing` or `stale`: whether the stored comparison of `from_round` -> `to_round`
    still matches the study (its run's data hash and config hash are today's)."""
    from retour import store

    run = store.latest_run(con, "compare", to_round, details={"from_round": from_round})
    stored = store.read_results(con, "changes", to_round, key={"from_round": from_round})
    if run is None or stored.height == 0:
        return "missing"
    if (run["config_hash"] != project.config_hash()
            or run["data_hash"] != comparison_inputs_hash(project, con, from_round, to_round)):
        return "stale"
    return "current"


def refresh_comparison(project: Project, from_round: str, to_round: str) -> str:
    """Compare two rounds again when the stored comparison is missing or stale; return the state found.

    The new comparison asks for what the last one of the pair asked for (its pairing and `did`).
    """
    import json

    from retour import store

    con = store.connect(project.store_path)
    try:
        state = comparison_state(project, con, from_round, to_round)
        run = store.latest_run(con, "compare", to_round, details={"from_round": from_round})
    finally:
        con.close()
    if state != "current":
        asked = json.loads(str(run["details"])) if run is not None and run.get("details") else {}
        compare_rounds(project, from_round, to_round, did=bool(asked.get("did")),
                       pairing=str(asked.get("pairing_asked", "auto")))
    return state


def _comparison_round(project: Project, con: Any, catalogue: Any, round_name: str, did: bool) -> Any:
    """One round's respondents (with case id and programme group), fields answered and stored needs."""
    import polars as pl

    from retour import store
    from retour.comparison import RoundData, fields_answered
    from retour.errors import EstimationError
    from retour.indicators import derive
    from retour.rounds import TREATMENT

    design = project.settings.design
    submissions = store.read_submissions(con, round_name)
    if submissions.height == 0:
        raise EstimationError(f"No submissions in round '{round_name}'.", "Ingest an export first: "
                              f"retour ingest {project.root} FILE --round {round_name}")
    answered = fields_answered(submissions)
    submissions = _with_absent_fields(submissions, catalogue)
    respondents = derive(submissions, catalogue, _index_area_types(project), design)
    extra = []
    if design.case_id and design.case_id in submissions.columns:
        extra.append(submissions[design.case_id].cast(pl.Utf8).alias(design.case_id))
    if did:
        answer = (submissions[design.beneficiary].cast(pl.Utf8) if design.beneficiary in submissions.columns
                  else pl.Series(design.beneficiary, [None] * submissions.height, dtype=pl.Utf8))
        extra.append(answer.replace_strict({"yes": "beneficiary", "no": "comparison"}, default=None)
                     .alias(TREATMENT))
    needs = store.read_results(con, "needs", round_name)
    return RoundData(name=round_name, respondents=respondents.with_columns(extra), answered=answered,
                     needs=needs.drop("round", strict=False))


def _with_absent_fields(submissions: pl.DataFrame, catalogue: Any) -> pl.DataFrame:
    """Submissions with a null column for each questionnaire field no round has stored yet, so that the
    catalogue can be derived and the comparison can say the question was not asked."""
    import polars as pl

    types = {"integer": pl.Int64, "decimal": pl.Float64, "date": pl.Date}
    absent = [q for q in catalogue.instrument.questions if q.name and q.name not in submissions.columns]
    return submissions.with_columns([pl.lit(None, dtype=types.get(q.type, pl.Utf8)).alias(q.name)
                                     for q in absent])


def _comparison_index_spec(project: Project, con: Any, catalogue: Any, from_round: str) -> Any:
    """The index spec with the reference round's stored goalposts; without them, the first round's
    min and max when it is the reference round; None when the study has no index.toml."""
    from retour import store
    from retour.errors import EstimationError
    from retour.index import frozen_goalposts

    if not project.path("index.toml").exists():
        return None
    spec = load_index_spec(project, catalogue)
    stored = store.read_results(con, "index_goalposts", spec.reference_round)
    if stored.height:
        return spec.with_goalposts(frozen_goalposts(stored))
    if spec.reference_round != from_round:
        raise EstimationError(f"The index of the reference round '{spec.reference_round}' has not been "
                              "built, so the scores of the two rounds have no common goalposts.",
                              f"Run `retour index {project.root} --round {spec.reference_round}` first.")
    return spec


def change_base(project: Project, con: Any, round_name: str) -> str | None:
    """The round a report's "change since" section starts from: the baseline, when `round_name` is a
    later survey round and both rounds have stored submissions; None otherwise."""
    from retour import store

    base = baseline_round(project)
    if base is None or round_name == base or project.settings.round(round_name).kind != "survey":
        return None
    counted = store.count_submissions(con, project.settings.design.community)
    stored = set(counted["round"].to_list()) if counted.height else set()
    return base if {base, round_name} <= stored else None
