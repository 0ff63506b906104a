"""Run retour's stages over a study folder: read the store, call the pure steps, write results.

The CLI and the dashboard both call these functions, so neither orchestrates on its own. Each stage
function opens the store, reads what it needs, calls pure functions from the statistics modules, writes
their results with a stamp, and returns them.
"""

from __future__ import annotations

import codecs
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retour import __version__
from retour.config import Project, load_project
from retour.errors import ConfigError, Problem, RetourError

SYNTHETIC_NOTE = {
    "fr": "Données synthétiques calibrées sur des agrégats publiés",
    "en": "Synthetic data calibrated to published aggregates",
}


def example_study_path(name: str = "mali-2018") -> Path:
    """Folder of a study shipped inside the package."""
    path = Path(str(resources.files("retour") / "examples" / name))
    if not path.is_dir():
        known = ", ".join(sorted(p.name for p in path.parent.iterdir() if p.is_dir()))
        raise ConfigError(f"No example study called '{name}'.", f"Shipped examples: {known}.")
    return path


def init_study(target: Path, template: str = "mali-2018", force: bool = False) -> Project:
    """Create a study folder from a shipped example study; refuse to overwrite unless `force`."""
    target = Path(target)
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"{target} exists and is not empty.", "Choose a new folder, or pass --force.")
    source = example_study_path(template)
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.duckdb", "out", "data"))
    return load_project(target)


def stamp(project: Project, data_hash: str, round_name: str | None = None) -> dict[str, str]:
    """What every output carries: retour version, config hash, data hash (and the round)."""
    result = {
        "retour_version": __version__,
        "config_hash": project.config_hash(),
        "data_hash": data_hash,
        "round": round_name or "",
    }
    if project.settings.study.synthetic:
        result["synthetic_note_fr"] = SYNTHETIC_NOTE["fr"]
        result["synthetic_note_en"] = SYNTHETIC_NOTE["en"]
    return result


# --- needs and actors (issue 8) --------------------------------------------------------------------

if TYPE_CHECKING:
    import polars as pl

    from retour.actors import ActorRegister
    from retour.needs import NeedsSpec


def _community_ids(project: Project) -> tuple[str, ...]:
    """Community ids in register order: communities.yaml, else the questionnaire's `community` choices."""
    from retour.registers import community_ids, read_yaml

    if project.path("communities.yaml").exists():
        found = community_ids(read_yaml(project.path("communities.yaml")))
        if found:
            return found
    from retour.schema import load_instrument

    instrument = load_instrument(project.path("instrument.xlsx"))
    field = project.settings.design.community
    for question in instrument.questions:
        if question.name == field and question.choices:
            return tuple(choice.name for choice in question.choices)
    raise ConfigError("The study lists no communities.",
                      "Add communities.yaml (a list of entries with `id`) to the study folder.")


def _indicator_labels(project: Project) -> dict[str, Any]:
    """How each catalogue indicator is named in needs evidence, and whether it is a proportion."""
    from retour.needs import IndicatorLabel
    from retour.registers import catalogue_indicators, read_toml

    path = project.path("indicators.toml")
    if not path.exists():
        return {}
    try:
        from retour.indicators import load_catalogue
        from retour.schema import load_instrument

        catalogue = load_catalogue(path, load_instrument(project.path("instrument.xlsx")))
        entries = {i.id: {"label_fr": i.label_fr, "label_en": i.label_en, "kind": i.kind}
                   for i in catalogue.indicators}
    except (ImportError, OSError, RetourError):
        entries = catalogue_indicators(read_toml(path))
    return {indicator_id: IndicatorLabel(label_en=str(entry.get("label_en") or indicator_id),
                                         label_fr=str(entry.get("label_fr") or indicator_id),
                                         proportion=entry.get("kind", "proportion") != "mean")
            for indicator_id, entry in entries.items()}


def load_needs_spec(project: Project, labels: dict[str, Any] | None = None,
                    communities: tuple[str, ...] | None = None) -> NeedsSpec:
    """The study's needs.toml, checked against its catalogue, communities and rounds."""
    from retour.needs import parse_spec
    from retour.registers import read_toml

    labels = _indicator_labels(project) if labels is None else labels
    return parse_spec(read_toml(project.path("needs.toml")), source="needs.toml",
                      indicator_ids=set(labels) if labels else None,
                      community_ids=communities or _community_ids(project),
                      round_names=[r.name for r in project.settings.rounds])


def load_actor_register(project: Project, spec: NeedsSpec | None = None,
                        communities: tuple[str, ...] | None = None) -> ActorRegister:
    """The study's actors.yaml, value_chains.yaml and recommendations.yaml, checked together."""
    from retour.actors import load_register

    communities = communities or _community_ids(project)
    spec = spec or load_needs_spec(project, communities=communities)
    return load_register(project.root, communities, spec.issue_ids())


def _needs_data_hash(con: Any, round_name: str) -> str:
    """The data hash of the round's latest index (or estimate) run, which the needs rest on."""
    from retour import store

    for stage in ("index", "estimate"):
        run = store.latest_run(con, stage, round_name)
        if run is not None:
            return str(run["data_hash"])
    return ""


def compute_needs(project: Project, round_name: str) -> pl.DataFrame:
    """Classify every community's needs for a round, keep analysts' overrides, store needs and gaps.

    Reads the stored `estimates` (and `index_scores` when a rule uses a pillar) of the round; writes
    the `needs` table (contract 6) and `actor_gaps` (priority and important needs with the actors who
    can address them), and records a `needs` run. Returns the needs matrix.
    """
    from retour import needs, store
    from retour.actors import match_needs
    from retour.errors import EstimationError

    project.settings.round(round_name)
    communities, labels = _community_ids(project), _indicator_labels(project)
    spec = load_needs_spec(project, labels, communities)
    register = load_actor_register(project, spec, communities) if project.path("actors.yaml").exists() \
        else None
    con = store.connect(project.store_path)
    try:
        estimates = store.read_results(con, "estimates", round_name)
        if estimates.height == 0:
            raise EstimationError(f"No estimates for round '{round_name}'.",
                                  f"Run `retour estimate {project.root} --round {round_name}` first.")
        scores = store.read_results(con, "index_scores", round_name)
        if spec.uses_pillars() and scores.height == 0:
            raise EstimationError(f"No index scores for round '{round_name}', and needs.toml has rules "
                                  "on pillars.",
                                  f"Run `retour index {project.root} --round {round_name}` first.")
        present = set(estimates.get_column("community_id").unique().to_list()) - {"all"}
        order = [c for c in communities if c in present] + sorted(present - set(communities))
        matrix = needs.classify(estimates, scores, spec, round_name, labels=labels, communities=order)
        matrix = needs.apply_overrides(matrix, store.read_need_overrides(con, round_name, latest=True))
        store.write_results(con, "needs", matrix, round_name)
        if register is not None:
            gaps = match_needs(matrix, register, levels=("priority", "important"))
            store.write_results(con, "actor_gaps", gaps, round_name)
        run_stamp = stamp(project, _needs_data_hash(con, round_name), round_name)
        store.record_run(con, "needs", round_name, run_stamp)
    finally:
        con.close()
    return matrix


def set_need_override(project: Project, round_name: str, community_id: str, issue_id: str, level: str,
                      why: str, by: str | None = None) -> pl.DataFrame:
    """Record an analyst's level for one needs cell (who, when, why) and return the updated matrix.

    `by` defaults to the operating-system user. The override is kept in the store and applied by every
    later `compute_needs` of the round, until another override of the same cell replaces it.
    """
    import polars as pl

    from retour import needs, store

    project.settings.round(round_name)
    communities = _community_ids(project)
    spec = load_needs_spec(project, communities=communities)
    needs.check_override(spec, communities, community_id, issue_id, level, why)
    con = store.connect(project.store_path)
    try:
        stored = store.read_results(con, "needs", round_name)
        has_cell = stored.height > 0 and stored.filter(
            (pl.col("community_id") == community_id) & (pl.col("issue_id") == issue_id)).height > 0
        if not has_cell:  # the cell must be stored before it can be overridden
            con.close()
            compute_needs(project, round_name)
            con = store.connect(project.store_path)
        store.set_need_override(con, round_name, community_id, issue_id, level, why.strip(),
                                (by or _user_name()).strip())
    finally:
        con.close()
    return compute_needs(project, round_name)


def _user_name() -> str:
    """The operating-system user, who records an override when no name is given."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def list_actors(project: Project, community_id: str | None = None, dimension: str | None = None,
                include_national: bool = False) -> pl.DataFrame:
    """Actors by community and dimension (economic, social, psychosocial, c4d); contacts left out."""
    from retour import actors

    communities = _community_ids(project)
    register = load_actor_register(project, communities=communities)
    if community_id is not None and community_id not in communities:
        raise ConfigError(f"Unknown community '{community_id}'.",
                          f"Communities of the study: {', '.join(communities)}.")
    if dimension is not None and dimension not in actors.DIMENSIONS:
        raise ConfigError(f"Unknown dimension '{dimension}'.", f"Use one of: {', '.join(actors.DIMENSIONS)}.")
    return actors.list_actors(register, community_id, dimension, include_national=include_national)


def actor_gaps(project: Project, round_name: str, include_important: bool = False) -> pl.DataFrame:
    """Per community, each priority need (and important ones if asked) with the actors who can address
    it; `covered` is false where no actor of the community does. Computes the needs if not yet stored."""
    from retour import store
    from retour.actors import match_needs

    project.settings.round(round_name)
    con = store.connect(project.store_path)
    try:
        stored = store.read_results(con, "needs", round_name)
    finally:
        con.close()
    matrix = stored if stored.height else compute_needs(project, round_name)
    levels = ("priority", "important") if include_important else ("priority",)
    return match_needs(matrix, load_actor_register(project), levels=levels)


def list_value_chains(project: Project) -> pl.DataFrame:
    """Value chains of the study with the communities each concerns and its partners."""
    from retour.actors import list_value_chains as listing

    return listing(load_actor_register(project))


# --- index (issue 6) -------------------------------------------------------------------------------

if TYPE_CHECKING:
    from collections.abc import Callable

    from retour.index import IndexSpec
    from retour.index.tables import IndexTables


def _index_catalogue(project: Project) -> Any:
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    instrument = load_instrument(project.path("instrument.xlsx"))
    return load_catalogue(project.path("indicators.toml"), instrument)


def load_index_spec(project: Project, catalogue: Any = None) -> IndexSpec:
    """The study's IndexSpec: index.toml with the pillars, directions and weights of indicators.toml."""
    from retour.index import IndexSpec

    return IndexSpec.from_toml(project.path("index.toml"), catalogue or _index_catalogue(project),
                               reference_round=project.settings.index.reference_round)


def _index_area_types(project: Project) -> dict[str, str] | None:
    """Urban or rural per community from communities.yaml (`type`); None to use the catalogue's."""
    from retour.registers import entries, read_yaml

    path = project.path("communities.yaml")
    if not path.exists():
        return None
    found = {str(entry["id"]): str(entry["type"]) for entry in entries(read_yaml(path), "communities")
             if isinstance(entry, dict) and entry.get("id") and entry.get("type")}
    return found or None


def _frozen_index_spec(con: Any, spec: IndexSpec, round_name: str) -> IndexSpec:
    """The spec with the reference round's goalposts, for every round after it (design.md section 5)."""
    from retour import store
    from retour.errors import EstimationError
    from retour.index import frozen_goalposts

    if spec.goalposts_from != "reference_round" or round_name == spec.reference_round:
        return spec
    stored = store.read_results(con, "index_goalposts", spec.reference_round)
    if stored.height == 0:
        raise EstimationError(f"The index of the reference round '{spec.reference_round}' has not been "
                              f"built, so round '{round_name}' has no goalposts to be compared with.",
                              f"Run `retour index DIR --round {spec.reference_round}` first.")
    frozen = spec.with_goalposts(frozen_goalposts(stored))
    missing = sorted(set(frozen.indicator_ids) - {g.indicator_id for g in frozen.goalposts})
    if missing:
        raise EstimationError(f"No goalposts from round '{spec.reference_round}' for indicator(s) "
                              f"{', '.join(missing)}.",
                              "Rebuild the reference round's index: "
                              f"retour index DIR --round {spec.reference_round}")
    return frozen


@dataclass(frozen=True)
class RoundEstimates:
    """A round's stored estimates (contract 4, table `estimates`) and gaps (table `gaps`)."""

    estimates: pl.DataFrame
    gaps: pl.DataFrame


def estimate_round(project: Project, round_name: str | None = None,
                   progress: Callable[[str, float], None] | None = None) -> RoundEstimates:
    """Estimate every catalogue indicator for a round and store the estimates and the gaps.

    Derives the respondent-level indicators from the round's stored submissions, estimates them under
    the study design (retour.toml [design], [estimation]) for every community and the whole sample,
    overall and by group, computes the gaps between groups, writes the `estimates` and `gaps` tables
    and records an `estimate` run. `progress(step, share)` is told how far the work is (0..1).
    """
    from retour import store
    from retour.errors import EstimationError
    from retour.estimate import EstimationSpec, estimates_of
    from retour.gaps import GAP_PAIRS, gaps_of
    from retour.indicators import derive
    from retour.linearise import Design, linearise

    settings = project.settings
    round_name = round_name or settings.rounds[0].name
    settings.round(round_name)
    step = progress or (lambda _step, _share: None)
    catalogue = _index_catalogue(project)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con, round_name)
        if submissions.height == 0:
            raise EstimationError(f"No submissions for round '{round_name}'.",
                                  f"Ingest an export first: retour ingest {project.root} FILE "
                                  f"--round {round_name}")
        step("derive", 0.1)
        respondents = derive(submissions, catalogue, _index_area_types(project), settings.design)
        design = Design("stratum", "psu", "weight", "fpc" if settings.design.fpc else None)
        spec = EstimationSpec.from_settings(settings.estimation)
        groups = tuple(group.id for group in catalogue.groups)
        step("estimate", 0.3)
        linearised = linearise(respondents, catalogue.ids, design, ("community_id",), groups,
                               {i.id: i.kind for i in catalogue.indicators}, spec.lonely_psu,
                               {group.id: group.levels for group in catalogue.groups})
        estimates = estimates_of(linearised, spec)
        step("gaps", 0.6)
        gaps = gaps_of(linearised, spec, {dim: pair for dim, pair in GAP_PAIRS.items() if dim in groups})
        step("write", 0.9)
        store.write_results(con, "estimates", estimates, round_name)
        store.write_results(con, "gaps", gaps, round_name)
        run_stamp = stamp(project, store.data_hash(con, round_name), round_name)
        store.record_run(con, "estimate", round_name, run_stamp)
    finally:
        con.close()
    step("done", 1.0)
    return RoundEstimates(estimates=estimates, gaps=gaps)


def build_index(project: Project, round_name: str | None = None,
                progress: Callable[[str, float], None] | None = None) -> IndexTables:
    """Build, store and return a round's index (contract 5) with its bootstrap and method intervals.

    Reads the round's stored `estimates` and submissions; later rounds take their goalposts from the
    reference round's stored index. Writes `index_scores`, `index_contributions`,
    `index_rank_probabilities`, `index_method_rank_probabilities`, `index_goalposts` and `index_specs`,
    records an `index` run, and returns the `IndexTables`. `progress(step, share)` is told how far the
    work is (share of 0..1).
    """
    from retour import store
    from retour.errors import EstimationError
    from retour.index import build
    from retour.index.tables import index_tables
    from retour.index.uncertainty import method_uncertainty, sampling_uncertainty
    from retour.indicators import derive

    settings = project.settings
    round_name = round_name or settings.index.reference_round
    settings.round(round_name)
    catalogue = _index_catalogue(project)
    con = store.connect(project.store_path)
    try:
        estimates = store.read_results(con, "estimates", round_name)
        if estimates.height == 0:
            raise EstimationError(f"No estimates for round '{round_name}'.",
                                  f"Run `retour estimate {project.root} --round {round_name}` first.")
        spec = _frozen_index_spec(con, load_index_spec(project, catalogue), round_name)
        result = build(estimates.drop("round"), spec)
        respondents = derive(store.read_submissions(con, round_name), catalogue, _index_area_types(project),
                             settings.design)
        step = progress or (lambda _step, _share: None)
        sampling = sampling_uncertainty(respondents, result, settings.index.bootstrap_replicates,
                                        settings.index.seed, settings.index.interval_level,
                                        lambda share: step("bootstrap", 0.9 * share))
        step("method", 0.9)
        tables = index_tables(result, sampling, method_uncertainty(result, settings.index.interval_level))
        step("write", 0.95)
        for table, frame in tables.frames().items():
            store.write_results(con, table, frame, round_name)
        run_stamp = stamp(project, store.data_hash(con, round_name), round_name)
        store.record_run(con, "index", round_name, run_stamp)
    finally:
        con.close()
    step("done", 1.0)
    return tables


def explain_index(project: Project, community_id: str, round_name: str | None = None) -> pl.DataFrame:
    """A community's stored contributions: each indicator to its pillar and each pillar to the composite.

    contribution = weight x normalised / (sum of the weights of the components with a value); under the
    default arithmetic aggregation a pillar's contributions add up to its score.
    """
    import polars as pl

    from retour import store
    from retour.errors import EstimationError

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    con = store.connect(project.store_path)
    try:
        stored = store.read_results(con, "index_contributions", round_name)
    finally:
        con.close()
    if stored.height == 0:
        raise EstimationError(f"No index stored for round '{round_name}'.",
                              f"Run `retour index {project.root} --round {round_name}` first.")
    known = sorted(stored["community_id"].unique().to_list())
    if community_id not in known:
        raise ConfigError(f"No community '{community_id}' in the index of round '{round_name}'.",
                          f"Communities: {', '.join(known)}.")
    return stored.filter(pl.col("community_id") == community_id).drop("round")


# --- ingest and problems (issue 4) ------------------------------------------------------------------

INSTRUMENT_FILE = "instrument.xlsx"
CLEANING_LOG_COLUMNS = ("round", "file", "row", "uuid", "column", "value", "code", "severity", "message",
                        "fix_hint", "correction")


@dataclass(frozen=True)
class IngestSummary:
    """What `retour ingest` did with one export: counts, problems by kind, and the round's data hash.

    rows_read = accepted + quarantined; accepted = new + already_stored. `already_ingested` is true when
    this very file (same bytes) was ingested into the round before: then nothing was written.
    """

    round: str
    file_name: str
    reader: str
    rows_read: int
    accepted: int
    new: int
    already_stored: int
    quarantined: int
    released: int
    blank_rows: int
    problems: tuple[Problem, ...]
    already_ingested: bool
    batch_id: int | None
    data_hash: str

    def problems_by_kind(self) -> dict[tuple[str, str], int]:
        """(code, severity) -> number of problems, blocking first, then most frequent."""
        counts: dict[tuple[str, str], int] = {}
        for problem in self.problems:
            key = (problem.code, problem.severity.value)
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (item[0][1] != "blocking", -item[1], item[0][0])))

    def records(self) -> list[dict[str, object]]:
        """The summary as `item, count` records (the table `retour ingest` prints)."""
        rows: list[dict[str, object]] = [
            {"item": "rows read", "count": self.rows_read},
            {"item": "accepted", "count": self.accepted},
            {"item": "  new", "count": self.new},
            {"item": "  already stored", "count": self.already_stored},
            {"item": "quarantined", "count": self.quarantined},
            {"item": "released from quarantine", "count": self.released},
            {"item": "blank rows skipped", "count": self.blank_rows},
        ]
        rows += [{"item": f"problem: {code} ({severity})", "count": count}
                 for (code, severity), count in self.problems_by_kind().items()]
        return rows


def _design_fields(project: Project) -> tuple[str, ...]:
    design = project.settings.design
    return tuple(name for name in (design.community, design.psu, design.weight, design.fpc) if name)


def _stored_problems(con: Any, batch_id: int) -> tuple[Problem, ...]:
    from retour import store
    from retour.errors import Severity

    found = store.read_problems(con, open_only=False)
    return tuple(Problem(code=r["code"], row=r["row"], column=r["column"], value=r["value"],
                         message=r["message"], hint=r["hint"] or "", severity=Severity(r["severity"]),
                         source=r["file"])
                 for r in found.filter(found["batch_id"] == batch_id).iter_rows(named=True))


def ingest_export(project: Project, path: Path | str, round_name: str,
                  progress: Callable[[str, float], None] | None = None,
                  reader: str | None = None) -> IngestSummary:
    """Ingest one Kobo or ODK export into the study store: check, quarantine, write in one transaction.

    The same file ingested again into the same round changes nothing (and says so). Identifying fields
    are hashed with the study secret (see `retour.ingest.privacy`). Records an `ingest` run.
    """
    import json

    from retour import store
    from retour.ingest import ingest, privacy, readers
    from retour.schema import load_instrument

    project.settings.round(round_name)
    path = Path(path)
    file_sha256 = readers.file_digest(readers.read_bytes(path))
    instrument = load_instrument(project.path(INSTRUMENT_FILE))
    needs_secret = any(question.identifying == "hash" for question in instrument.questions)
    con = store.connect(project.store_path)
    try:
        previous = store.find_batch(con, round_name, file_sha256)
        if previous is not None:
            return IngestSummary(
                round=round_name, file_name=path.name, reader=str(previous["reader"]),
                rows_read=int(previous["rows_read"]), accepted=int(previous["rows_accepted"]), new=0,
                already_stored=int(previous["rows_accepted"]), quarantined=int(previous["rows_quarantined"]),
                released=0, blank_rows=int(previous["blank_rows"]),
                problems=_stored_problems(con, int(previous["batch_id"])),
                already_ingested=True, batch_id=int(previous["batch_id"]),
                data_hash=store.data_hash(con, round_name))
        secret = (privacy.load_secret(project.root, project.settings.privacy.secret_env)
                  if needs_secret else None)
        batch = ingest(path, instrument, round_name=round_name, stored=store.read_submission_ids(con),
                       design=_design_fields(project), secret=secret,
                       gps_decimals=project.settings.privacy.gps_precision_decimals,
                       language=project.settings.study.languages[0], reader=reader, progress=progress)
        if progress is not None:
            progress("write", 0.95)
        written = store.write_batch(con, batch, round_name, instrument.form_id, instrument.version)
        data_hash = store.data_hash(con, round_name)
        details = {"file": path.name, "file_sha256": batch.file_sha256, "batch_id": written["batch_id"],
                   "rows_read": batch.rows_read, "accepted": batch.accepted.height,
                   "quarantined": batch.quarantined.height}
        store.record_run(con, "ingest", round_name, stamp(project, data_hash, round_name),
                         json.dumps(details))
    finally:
        con.close()
    if progress is not None:
        progress("done", 1.0)
    return IngestSummary(
        round=round_name, file_name=path.name, reader=batch.reader, rows_read=batch.rows_read,
        accepted=batch.accepted.height, new=written["new"], already_stored=written["already_stored"],
        quarantined=batch.quarantined.height, released=written["released"], blank_rows=batch.blank_rows,
        problems=tuple(batch.problems), already_ingested=False, batch_id=written["batch_id"],
        data_hash=data_hash)


def list_problems(project: Project, round_name: str | None = None) -> pl.DataFrame:
    """Open problems of the study's ingested exports (all rounds, or one), oldest batch first."""
    from retour import store

    if round_name is not None:
        project.settings.round(round_name)
    con = store.connect(project.store_path if project.store_path.exists() else ":memory:")
    try:
        return store.read_problems(con, round_name)
    finally:
        con.close()


def write_cleaning_log(project: Project, target: Path | str, round_name: str | None = None) -> int:
    """Write the open problems as a CSV cleaning log for a field supervisor; return how many rows.

    Columns: round, file, row, uuid, column, value, code, severity, message, fix_hint and an empty
    `correction` column to fill in. UTF-8 with a BOM, so that Excel shows accents.
    """
    import polars as pl

    problems = list_problems(project, round_name)
    log = problems.select("round", "file", "row", "uuid", "column", "value", "code", "severity", "message",
                          pl.col("hint").alias("fix_hint"), pl.lit("").alias("correction"))
    target = Path(target)
    try:
        with target.open("wb") as file:
            file.write(codecs.BOM_UTF8)
            log.write_csv(file)
    except OSError as error:
        raise ConfigError(f"Cannot write the cleaning log {target}: {error.strerror}.") from None
    return log.height


# --- dashboard: serving it and its users (issue 11) -------------------------------------------------


def serve_dashboard(project: Project, host: str = "127.0.0.1", port: int = 8000,
                    notify: Callable[[str], None] | None = None) -> None:
    """Run the dashboard of a study with uvicorn until interrupted (Ctrl+C)."""
    import uvicorn

    from retour.dashboard import create_app
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import list_users

    access = StoreAccess(project.store_path)
    if notify is not None:
        if not list_users(access):
            notify(f"No dashboard user yet: add one with `retour users {project.root} add NAME --role admin`.")
        notify(f"Dashboard of '{project.settings.study.name}' on http://{host}:{port}/ (Ctrl+C to stop).")
    uvicorn.run(create_app(project, access), host=host, port=port, log_level="warning")


def add_dashboard_user(project: Project, name: str, password: str, role: str,
                       language: str = "fr") -> dict[str, Any]:
    """Create a dashboard user with a role (viewer, analyst, admin); the password is stored hashed."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import add_user

    return add_user(StoreAccess(project.store_path), name, password, role, language)


def list_dashboard_users(project: Project) -> list[dict[str, Any]]:
    """Every dashboard user: name, role, language, when created, when the password last changed."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import list_users

    return list_users(StoreAccess(project.store_path))


def remove_dashboard_user(project: Project, name: str) -> dict[str, Any]:
    """Delete a dashboard user; their open sessions end at their next request."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import remove_user

    return remove_user(StoreAccess(project.store_path), name)


def change_dashboard_password(project: Project, name: str, password: str) -> dict[str, Any]:
    """Give a dashboard user a new password; their sessions opened with the old one end."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import change_password

    return change_password(StoreAccess(project.store_path), name, password)


# --- individual scores and the monitoring form (issue 7) --------------------------------------------

if TYPE_CHECKING:
    from retour.form import FormCheck
    from retour.score_spec import ScoreSpec

MONITORING_XFORM = "monitoring.xml"


@dataclass(frozen=True)
class ScoredRound:
    """What `retour score` computed for a round: every scored visit (`score.SCORE_COLUMNS`), the share
    of returnees at or above the threshold per community and dimension, and the weight set used."""

    round: str
    scores: pl.DataFrame
    summary: pl.DataFrame
    weights: str
    weights_hash: str
    threshold: float


def _scoring_catalogue(project: Project, instrument: Any) -> Any:
    """The indicator catalogue read against the study's questionnaire without requiring all of it to fit:
    a study whose questionnaire is the short monitoring form lacks most of the catalogue's questions,
    and the score checks the indicators it uses itself."""
    from retour.indicators import check_catalogue
    from retour.registers import read_toml

    path = project.path("indicators.toml")
    return check_catalogue(read_toml(path), instrument, str(path))[0]


def load_score_weights(project: Project, weights_file: Path | str | None = None) -> ScoreSpec:
    """The weight set of the individual score: `scoring.weights_file`, or `weights_file` read over it."""
    from retour.schema import load_instrument
    from retour.score_spec import load_score_spec

    instrument = load_instrument(project.path(INSTRUMENT_FILE))
    scoring = project.settings.scoring
    return load_score_spec(project.path(scoring.weights_file), _scoring_catalogue(project, instrument),
                           Path(weights_file) if weights_file is not None else None,
                           scoring.threshold, scoring.min_answered_share)


def _all_visits(project: Project, submissions: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """Every scored visit of every round, each compared with the case's previous visit."""
    from retour.score import score_visits

    rounds = project.settings.rounds
    return score_visits(submissions, spec, project.settings.design, [r.name for r in rounds],
                        [r.name for r in rounds if r.kind == "monitoring"])


def score_round(project: Project, round_name: str | None = None,
                weights_file: Path | str | None = None) -> ScoredRound:
    """Score every returnee of a round (every visit of a monitoring round), flag them, store the scores
    (`scores`) and the share above the threshold per community and dimension (`score_estimates`).

    Previous visits come from all rounds, scored again with the same weights so the comparison holds.
    `round_name` defaults to the first round of retour.toml. Records a `score` run.
    """
    import json

    import polars as pl

    from retour import store
    from retour.errors import EstimationError
    from retour.estimate import EstimationSpec
    from retour.score import RETURNEE_FIELD, SCORE_COLUMNS, summarise

    settings = project.settings
    round_settings = settings.round(round_name) if round_name else settings.rounds[0]
    name = round_settings.name
    spec = load_score_weights(project, weights_file)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con)  # every round: previous visits may be in any of them
        in_round = submissions.filter(pl.col("round") == name)
        if in_round.height == 0:
            raise EstimationError(f"No accepted submissions in round '{name}'.",
                                  f"Ingest an export first: retour ingest {project.root} FILE --round {name}")
        if round_settings.kind == "survey" and (RETURNEE_FIELD not in in_round.columns
                                                or in_round[RETURNEE_FIELD].null_count() == in_round.height):
            raise ConfigError(f"Round '{name}' is a survey round, whose return migrants are scored, and its "
                              f"submissions have no '{RETURNEE_FIELD}' answer.",
                              'If it holds follow-up visits, set kind = "monitoring" for it in retour.toml.')
        visits = _all_visits(project, submissions, spec).filter(pl.col("round") == name)
        if visits.height == 0:
            raise EstimationError(f"No return migrant to score in round '{name}'.",
                                  f"A survey round scores those with {RETURNEE_FIELD} = 'yes' only.")
        summary = summarise(visits, spec, EstimationSpec.from_settings(settings.estimation))
        scores = visits.select("round", *SCORE_COLUMNS)
        store.write_results(con, "scores", scores, name)
        store.write_results(con, "score_estimates", summary, name)
        details = {"weights": spec.name, "weights_hash": spec.weights_hash, "threshold": spec.threshold,
                   "min_answered_share": spec.min_answered_share, "visits": scores.height,
                   "flagged": int(scores["flagged"].sum())}
        store.record_run(con, "score", name, stamp(project, store.data_hash(con), name), json.dumps(details))
    finally:
        con.close()
    return ScoredRound(round=name, scores=scores, summary=summary, weights=spec.name,
                       weights_hash=spec.weights_hash, threshold=spec.threshold)


def case_history(project: Project, case_id: str, weights_file: Path | str | None = None) -> pl.DataFrame:
    """One returnee's scores at every visit, oldest first, found by the case id as typed on the form
    (hashed with the study secret, as ingest does)."""
    import polars as pl

    from retour import store
    from retour.ingest import privacy
    from retour.score import SCORE_COLUMNS, chronological

    secret = privacy.load_secret(project.root, project.settings.privacy.secret_env)
    hashed = privacy.hash_values(pl.Series([case_id], dtype=pl.Utf8), secret)[0]
    if hashed is None:
        raise ConfigError("The case id is empty.", "Type the case id as it was written on the form.")
    spec = load_score_weights(project, weights_file)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con)
    finally:
        con.close()
    visits = _all_visits(project, submissions, spec).filter(pl.col("case_id") == hashed)
    if visits.height == 0:
        raise ConfigError(f"No scored visit of case '{case_id}'.",
                          "Check the case id as written on the form; only return migrants and monitoring "
                          "visits are scored, and the study secret must be the one used at ingest.")
    history = chronological(visits, [r.name for r in project.settings.rounds])
    return history.select("round", *SCORE_COLUMNS)


def write_monitoring_form(project: Project, validate: bool = True,
                          weights_file: Path | str | None = None) -> FormCheck:
    """Write the short monitoring form (`out/monitoring.xlsx`) for the study's score, check it with
    retour, pyxform and ODK Validate, and write its XForm (`out/monitoring.xml`) when it is valid."""
    from retour.form import FormCheck, check_form
    from retour.monitoring import FORM_FILE, derive_form, write_form

    spec = load_score_weights(project, weights_file)
    form = derive_form(project.path(INSTRUMENT_FILE), spec, project.settings.design)
    target = write_form(form, project.output_dir / FORM_FILE)
    check, xform = check_form(target, validate=validate)
    if xform is None:
        return check
    xml = project.output_dir / MONITORING_XFORM
    xml.write_text(xform, encoding="utf-8")
    return FormCheck(xlsform=check.xlsform, problems=check.problems, xform_path=xml)


# --- reports: fact sheets, synthesis and tables (issue 9) -------------------------------------------


def _report_indicators(project: Project) -> list[dict[str, Any]]:
    """Catalogue entries the reports label and colour indicators with (choice shares expanded)."""
    from retour.registers import catalogue_indicators, read_toml

    path = project.path("indicators.toml")
    if not path.exists():
        return []
    try:
        from retour.indicators import load_catalogue
        from retour.schema import load_instrument

        catalogue = load_catalogue(path, load_instrument(project.path(INSTRUMENT_FILE)))
        return [{"id": i.id, "label_fr": i.label_fr, "label_en": i.label_en, "kind": i.kind,
                 "higher_is_better": i.higher_is_better, "pillar": i.pillar, "theme": i.theme,
                 "fiche_block": i.fiche_block} for i in catalogue.indicators]
    except (ImportError, OSError, RetourError):
        return list(catalogue_indicators(read_toml(path)).values())


def report_data(project: Project, round_name: str, con: Any) -> Any:
    """The `ReportData` bundle of a round: stored results, catalogue and registers (nothing computed)."""
    import datetime as dt
    import json

    from retour import store
    from retour.errors import EstimationError
    from retour.report import ReportData, indicator_frame, load_communities

    estimates = store.read_results(con, "estimates", round_name)
    if estimates.height == 0:
        raise EstimationError(f"No estimates for round '{round_name}': there is nothing to report yet.",
                              f"Run `retour estimate {project.root} --round {round_name}` first.")
    specs = store.read_results(con, "index_specs", round_name)
    register = load_actor_register(project) if project.path("actors.yaml").exists() else None
    return ReportData(
        settings=project.settings,
        round_name=round_name,
        stamp=stamp(project, store.data_hash(con, round_name), round_name),
        communities=load_communities(project.root),
        indicators=indicator_frame(_report_indicators(project)),
        estimates=estimates.drop("round"),
        gaps=store.read_results(con, "gaps", round_name).drop("round", strict=False),
        index_scores=store.read_results(con, "index_scores", round_name).drop("round", strict=False),
        index_spec=json.loads(specs["spec"][0]) if specs.height and "spec" in specs.columns else {},
        needs=store.read_results(con, "needs", round_name).drop("round", strict=False),
        actors=register.actors if register else (),
        recommendations=register.recommendations if register else (),
        generated_on=dt.date.today(),
        changes=store.read_results(con, "changes", round_name).drop("round", strict=False),
        score_changes=store.read_results(con, "score_changes", round_name).drop("round", strict=False),
        need_changes=store.read_results(con, "need_changes", round_name).drop("round", strict=False),
    )


def write_report(project: Project, round_name: str | None = None, languages: tuple[str, ...] = ("fr", "en"),
                 formats: tuple[str, ...] = ("html", "pdf"),
                 progress: Callable[[str], None] | None = None, workers: int | None = None) -> list[Any]:
    """Write a round's fact sheets, synthesis and tables to `out/<round>/` and record a `report` run.

    Reads stored results only (estimates, gaps, index scores, needs) and the study's registers; returns
    the `OutputFile`s written. `progress(message)` is called as each document is finished. Documents
    are made by `workers` processes (None: one per two CPUs, at most 4; 1: in this process); see
    `retour.report.render_documents` for the `if __name__ == "__main__":` guard scripts then need.
    """
    import json

    from retour import store
    from retour.report import write_outputs

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    con = store.connect(project.store_path)
    try:
        data = report_data(project, round_name, con)
        written = write_outputs(data, project.output_dir, languages, formats, progress, workers)
        details = json.dumps({"files": len(written), "languages": list(languages), "formats": list(formats)})
        store.record_run(con, "report", round_name, dict(data.stamp), details)
    finally:
        con.close()
    return written


# --- change between rounds and the programme's effect (issue 10) ------------------------------------

if TYPE_CHECKING:
    from retour.comparison import Comparison


def compare_rounds(project: Project, from_round: str, to_round: str, did: bool = False,
                   pairing: str = "auto") -> Comparison:
    """Compare two rounds and store the result: indicator, score and needs changes (and the
    difference-in-differences between beneficiaries and comparison respondents when `did`).

    Reads both rounds' submissions (re-derived with the catalogue) and stored needs; scores use the
    reference round's stored goalposts. Writes `changes`, `score_changes`, `did_estimates`,
    `need_changes`, `indicator_comparability` and `questionnaire_changes` under the later round (with a
    `from_round` column; a new comparison into the same round replaces the previous one) and records a
    `compare` run. `pairing`: auto, independent or panel (see `retour.rounds`).
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
    con = store.connect(project.store_path)
    try:
        data = [_comparison_round(project, con, catalogue, name, did) for name in (from_round, to_round)]
        spec = CompareSpec(
            indicators=catalogue.ids, indicator_fields=fields,
            design=Design(stratum="stratum", psu="psu", weight="weight",
                          fpc="fpc" if settings.design.fpc else None),
            estimation=EstimationSpec.from_settings(settings.estimation),
            kinds={i.id: i.kind for i in catalogue.indicators},
            index=_comparison_index_spec(project, con, catalogue, from_round),
            pairing=pairing, case_id=settings.design.case_id, did=did, communities=_community_ids(project))
        result = compare(*data, spec)
        for table, frame in result.frames().items():
            store.write_results(con, table, frame, to_round)
        details = {"from_round": from_round, "pairing": result.linkage.pairing,
                   "linked": result.linkage.linked, "did": did}
        store.record_run(con, "compare", to_round, stamp(project, store.data_hash(con), to_round),
                         json.dumps(details))
    finally:
        con.close()
    return result


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


# --- synthetic example data (issue 3) --------------------------------------------------------------

SYNTH_SEED = 20180305  # default seed of `retour synth`: the first day of the 2018 fieldwork


@dataclass(frozen=True)
class SynthRun:
    """What `synthesise` made: the files written (if any), the calibration rows, the respondents."""

    round_name: str
    seed: int
    respondents: int
    paths: tuple[Path, ...]
    checks: tuple[Any, ...]

    @property
    def missed(self) -> int:
        return sum(not row.ok for row in self.checks)


def synthesise(project: Project, round_name: str = "baseline", seed: int = SYNTH_SEED,
               shift: Path | str | None = None, panel: bool = False, check: bool = False,
               write: bool = True) -> SynthRun:
    """Generate a synthetic round calibrated to the study's synth_targets.toml and write it into
    `data/` as a Kobo export (`<study>-<round>-synthetic.xlsx` and `.csv`), ready for `retour ingest`.

    A later round needs `shift` (stated changes per community and the programme's effect); its fieldwork
    starts on the round's date in retour.toml unless the shifts file gives one. `panel` re-interviews the
    baseline respondents. With `check`, every calibration target is compared with the data.
    """
    import dataclasses
    import datetime as dt

    from retour import synth
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    project.settings.round(round_name)
    targets_path = project.path("synth_targets.toml")
    if not targets_path.exists():
        raise ConfigError(f"{targets_path} not found: this study has no calibration targets.",
                          "Only studies made from the example (`retour init`) can be synthesised.")
    instrument = load_instrument(project.path("instrument.xlsx"))
    catalogue = load_catalogue(project.path("indicators.toml"), instrument)
    targets = synth.load_targets(targets_path)
    shifts = None
    if shift is not None:
        shifts = synth.load_shifts(Path(shift))
        date = project.settings.round(round_name).date
        if shifts.fieldwork is None and date is not None:
            shifts = dataclasses.replace(shifts, fieldwork=(date, date + dt.timedelta(days=14)))
    elif round_name != "baseline":
        raise ConfigError(f"Round '{round_name}' needs stated changes.",
                          f"Pass --shift FILE, e.g. --shift {project.path('shifts_midterm.toml')}.")
    data = synth.generate(targets, catalogue, seed, round_name=round_name, shifts=shifts, panel=panel)
    paths: tuple[Path, ...] = ()
    if write:
        note = f"{SYNTHETIC_NOTE['fr']} / {SYNTHETIC_NOTE['en']} (seed {seed})"
        stem = f"{project.settings.study.id}-{round_name}" + ("-panel" if panel else "")
        paths = tuple(synth.write_export(data.frame, instrument, project.root / "data", stem, note))
    checks = tuple(synth.check(data, catalogue, targets)) if check else ()
    return SynthRun(round_name=round_name, seed=seed, respondents=data.frame.height, paths=paths,
                    checks=checks)
