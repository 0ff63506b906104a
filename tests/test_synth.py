"""The example study's calibrated synthetic data (its generator package, loaded as `retour synth` does):
exact calibration, Tableau 1, Kobo-shaped export through the real ingest, determinism, later rounds
(fresh and panel) and the `retour synth` command on the example."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from retour.cli import app
from retour.errors import ConfigError, SpecError
from retour.indicators import PILLARS, derive, load_catalogue
from retour.schema import load_instrument
from retour.synth import load_generator, write_export

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"
GENERATOR = load_generator(EXAMPLE / "generator")  # the example's own package, as `retour synth` loads it
calibrate = GENERATOR.calibrate
check, check_calibration, generate = GENERATOR.check, GENERATOR.check_calibration, GENERATOR.generate
load_shifts, load_targets = GENERATOR.load_shifts, GENERATOR.load_targets
SEED = 20180305


@pytest.fixture(scope="module")
def instrument():
    return load_instrument(EXAMPLE / "instrument.xlsx")


@pytest.fixture(scope="module")
def catalogue(instrument):
    return load_catalogue(EXAMPLE / "indicators.toml", instrument)


@pytest.fixture(scope="module")
def targets():
    return load_targets(EXAMPLE / "synth_targets.toml")


@pytest.fixture(scope="module")
def baseline(targets, catalogue):
    return generate(targets, catalogue, SEED)


@pytest.fixture(scope="module")
def derived(baseline, catalogue):
    return derive(baseline.frame, catalogue)


# --- calibration arithmetic ---------------------------------------------------------------------------


def test_exact_counts_round_halves_up():
    assert calibrate.exact_counts(np.array([0.5, 0.35, 0.29]), np.array([3, 90, 84])).tolist() == [2, 32, 24]


def test_largest_remainder_splits_a_total_that_published_shares_do_not_reach():
    parts = calibrate.largest_remainder([42, 18, 39], 604)
    assert parts.sum() == 604
    assert parts.tolist() == [256, 110, 238]


def test_round_controlled_keeps_both_margins():
    rng = np.random.default_rng(1)
    expected = rng.random((7, 4)) * 10
    rows = calibrate.round_half_up(expected.sum(axis=1))
    columns = calibrate.largest_remainder(expected.sum(axis=0), int(rows.sum()))
    table = calibrate.round_controlled(expected, rows, columns)
    assert (table.sum(axis=1) == rows).all() and (table.sum(axis=0) == columns).all()
    assert (np.abs(table - expected) < 1).all()


def test_assign_top_gives_exact_counts_to_the_highest_scores():
    score = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2])
    cell = np.array([0, 0, 0, 1, 1, 1])
    chosen = calibrate.assign_top(score, cell, np.array([2, 1]))
    assert chosen.tolist() == [False, True, True, False, True, False]


def test_cell_counts_hold_community_totals_and_the_sample_gap():
    sizes = np.array([[20, 60], [30, 50], [25, 55]])  # returnees, others
    totals = np.array([40, 35, 50])
    gap = calibrate.GapTarget(np.array([True, False]), np.array([False, True]), 0.13)
    counts = calibrate.solve_cell_counts(totals, sizes, [gap])
    assert (counts.sum(axis=1) == totals).all()
    rates = counts.sum(axis=0) / sizes.sum(axis=0)
    assert rates[0] - rates[1] == pytest.approx(0.13, abs=1.0 / sizes[:, 0].sum())


def test_fit_sizes_finds_the_sizes_that_reproduce_the_means():
    shares = np.array([[0.2, 0.6, 0.4], [0.5, 0.1, 0.3]])
    true_sizes = np.array([10, 14, 12])
    means = calibrate.exact_counts(shares, true_sizes).sum(axis=1) / true_sizes.sum()
    sizes = calibrate.fit_sizes(shares, means, 36, 9, 15)
    assert sizes.sum() == 36
    assert np.allclose(calibrate.exact_counts(shares, sizes).sum(axis=1) / 36, means)


@pytest.mark.slow
def test_shipped_sizes_are_the_best_fit(targets):
    ids = [i for i in targets.fiche_ids if i != "paid_job_or_iga"]
    shares = np.array([targets.fiche(i) for i in ids])
    means = np.array(
        [targets.sample_means.get(i) or targets.service_means[i.removeprefix("satisfied_")] for i in ids]
    )
    low, high = targets.size_range
    sizes = calibrate.fit_sizes(
        shares,
        means,
        targets.respondents,
        low,
        high,
        required_row=ids.index("return_migrants_share"),
        required_count=targets.findings["returnees"],
    )
    assert tuple(sizes) == targets.sizes


def test_replica_index_is_minmax_then_means():
    values = np.array([[0.2, 0.4, 0.6], [0.9, 0.5, 0.1]])
    scores = calibrate.index_scores(values, np.array([True, False]), ["economic", "economic"], np.ones(2))
    assert scores["economic"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert scores["composite"].tolist() == pytest.approx([0.0, 0.5, 1.0])


# --- the baseline -------------------------------------------------------------------------------------


def test_baseline_meets_every_calibration_target(baseline, catalogue, targets):
    rows = check_calibration(baseline.frame, catalogue, targets)
    missed = [row.as_record() for row in rows if not row.ok]
    assert missed == []
    sources = {row.source for row in rows}
    assert {"fiche", "services", "finding", "gap", "tableau_1", "design"} <= sources


def test_baseline_sample_design(baseline, targets):
    frame = baseline.frame
    assert frame.height == 604
    sizes = frame.group_by("community").len()
    assert dict(sizes.iter_rows()) == dict(zip(targets.communities, targets.sizes, strict=True))
    assert frame.get_column("age").is_between(15, 34).all()
    assert (frame.get_column("stratum") == frame.get_column("community")).all()
    assert frame.get_column("weight").n_unique() == 1
    cluster_sizes = frame.group_by("cluster").len().get_column("len")
    assert cluster_sizes.min() >= 8 and cluster_sizes.max() <= 12
    assert frame.get_column("_uuid").n_unique() == 604
    assert frame.get_column("case_id").n_unique() == 604


def test_fiche_shares_within_one_respondent(derived, targets):
    means = derived.group_by("community_id").agg(pl.col("paid_job_or_iga", "satisfied_justice_police").mean())
    kita = means.filter(pl.col("community_id") == "kita").row(0, named=True)
    assert kita["paid_job_or_iga"] == pytest.approx(0.39, abs=1 / 86)
    bafoulabe = means.filter(pl.col("community_id") == "bafoulabe").row(0, named=True)
    assert bafoulabe["satisfied_justice_police"] == pytest.approx(0.28 + 0.54, abs=1 / 84)


def test_published_sample_wide_findings(derived):
    returnees = derived.filter(pl.col("migration_status") == "returnee")
    assert returnees.height == 171
    assert (returnees.get_column("sex") == "men").mean() == pytest.approx(0.88, abs=0.02)

    def rate(column, **where):
        data = derived
        for key, value in where.items():
            data = data.filter(pl.col(key) == value)
        return data.get_column(column).mean()

    assert rate("paid_job_or_iga", migration_status="returnee") - rate(
        "paid_job_or_iga", migration_status="non_migrant"
    ) == pytest.approx(0.13, abs=0.02)
    assert rate("paid_job_or_iga", sex="women") - rate("paid_job_or_iga", sex="men") == pytest.approx(
        -0.33, abs=0.02
    )
    assert rate("desire_to_leave_leave", sex="men") == pytest.approx(0.48, abs=0.02)
    assert rate("desire_to_leave_leave", sex="women") == pytest.approx(0.20, abs=0.02)
    assert rate("no_skills", community_id="kirane") == pytest.approx(0.58, abs=1 / 89)
    assert rate("off_grid", community_id="kirane") == pytest.approx(0.98, abs=1 / 89)
    assert derived.get_column("social_media_user").sum() == 353
    assert rate("platform_whatsapp") == pytest.approx(0.90, abs=0.02)
    assert rate("consults_religious_leaders") == pytest.approx(0.70, abs=0.02)
    assert rate("debt_above_monthly_income") == pytest.approx(0.25, abs=0.02)


def test_unpublished_answers_are_correlated(derived):
    """Latent levels make economic answers go together within communities."""
    saving = derived.get_column("has_savings").to_numpy()
    food = derived.get_column("reduced_food_consumption").to_numpy()
    assert np.corrcoef(saving, food)[0, 1] < -0.05


def test_replica_reproduces_tableau_1(baseline, catalogue, targets):
    rows = [row for row in check_calibration(baseline.frame, catalogue, targets) if row.source == "tableau_1"]
    assert len(rows) == 7 * 4 * 2
    assert all(row.ok for row in rows)


def test_reproduces_tableau_1(derived, catalogue, targets):
    """The real index (min-max across communities, catalogue weights, composite = mean of pillars) on
    the synthetic data gives the study's Tableau 1: same ranks, every score within 0.03."""
    from retour.index import build
    from retour.index.spec import IndexSpec

    ids = [m.id for p in PILLARS for m in catalogue.pillar(p)]
    means = (
        derived.group_by("community_id")
        .agg(pl.col(ids).mean())
        .unpivot(index="community_id", variable_name="indicator_id", value_name="estimate")
    )
    estimates = means.with_columns(pl.lit("all").alias("group_dimension"), pl.lit("all").alias("group"))
    spec = IndexSpec.from_toml(EXAMPLE / "index.toml", catalogue.indicators)
    scores = build(estimates, spec).scores()
    for pillar in (*PILLARS, "composite"):
        got = scores.filter(pl.col("pillar") == pillar)
        printed = dict(zip(targets.communities, targets.tableau(pillar), strict=True))
        for community, score, rank in got.select("community_id", "score", "rank").iter_rows():
            assert score == pytest.approx(printed[community], abs=0.03), (pillar, community)
            expected_rank = 1 + sum(value > printed[community] for value in printed.values())
            assert rank == expected_rank, (pillar, community)


# --- export -------------------------------------------------------------------------------------------


def test_export_is_kobo_shaped_and_goes_through_ingest(baseline, instrument, tmp_path):
    from retour.ingest import ingest

    paths = write_export(baseline.frame, instrument, tmp_path / "data", "mali-2018-baseline", "Synthetic")
    xlsx, csv, readme = paths
    assert xlsx.name == "mali-2018-baseline-synthetic.xlsx" and csv.name == "mali-2018-baseline-synthetic.csv"
    header = pl.read_csv(csv, n_rows=1).columns
    assert header[:3] == ["design/interview_date", "design/community", "design/stratum"]
    assert "work/skills_held" in header and "work/skills_held/none" in header
    assert header[-4:] == ["_id", "_uuid", "_submission_time", "_index"]
    table = pl.read_csv(csv, infer_schema=False)
    ticked = table.select(pl.col("work/skills_held").str.contains(r"\bnone\b").cast(pl.Int64)).to_series()
    assert (ticked == table.get_column("work/skills_held/none").cast(pl.Int64)).all()
    for path in (xlsx, csv):
        batch = ingest(path, instrument, round_name="baseline", secret=b"test-secret")
        assert batch.accepted.height == 604
        assert batch.quarantined.height == 0
        assert not [p for p in batch.problems if p.severity.value == "blocking"]
    assert "synthetic" in readme.read_text(encoding="utf-8").lower()
    properties = openpyxl.load_workbook(xlsx, read_only=True).properties
    assert "synthetic" in (properties.title or "").lower() and properties.keywords == "synthetic"


def test_same_seed_same_bytes_other_seed_other_data(targets, catalogue, instrument, tmp_path):
    digests = []
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        data = generate(targets, catalogue, seed)
        paths = write_export(data.frame, instrument, tmp_path / folder, "round", "note")
        digests.append([hashlib.sha256(path.read_bytes()).hexdigest() for path in paths[:2]])
    assert digests[0] == digests[1]
    assert digests[0][1] != digests[2][1]


# --- later rounds -------------------------------------------------------------------------------------


def _did(before, after, catalogue, indicator, rows=None):
    first, second = derive(before.frame, catalogue), derive(after.frame, catalogue)
    gaps = []
    for data, respondents in ((first, before.frame), (second, after.frame)):
        if rows is not None and data is first:
            data, respondents = data[rows], respondents[rows]
        treated = respondents.get_column("beneficiary").to_numpy() == "yes"
        values = data.get_column(indicator).to_numpy().astype(float)
        gaps.append(np.nanmean(values[treated]) - np.nanmean(values[~treated]))
    return gaps[1] - gaps[0]


def test_midterm_moves_communities_and_gives_the_stated_programme_effect(baseline, catalogue, targets):
    shifts = load_shifts(EXAMPLE / "shifts_midterm.toml")
    later = generate(targets, catalogue, SEED, round_name="midterm", shifts=shifts)
    assert [row.as_record() for row in check(later, catalogue, targets) if not row.ok] == []
    assert later.frame.get_column("interview_date").min().year == 2020
    assert set(later.frame.get_column("case_id")) != set(baseline.frame.get_column("case_id"))
    for indicator, effect in shifts.effects.items():
        assert _did(baseline, later, catalogue, indicator) == pytest.approx(effect / 100, abs=0.025), (
            indicator
        )
    kirane = derive(later.frame, catalogue).filter(pl.col("community_id") == "kirane")
    assert kirane.get_column("off_grid").mean() == pytest.approx(0.98 - 0.08, abs=1 / 89)


def test_panel_reinterviews_baseline_respondents(baseline, catalogue, targets):
    shifts = load_shifts(EXAMPLE / "shifts_midterm.toml")
    later = generate(targets, catalogue, SEED, round_name="midterm", shifts=shifts, panel=True)
    assert [row.as_record() for row in check(later, catalogue, targets) if not row.ok] == []
    cases = later.frame.get_column("case_id")
    assert set(cases) <= set(baseline.frame.get_column("case_id"))
    aged_out = (baseline.frame.get_column("age") > 32).sum()
    assert later.frame.height == 604 - aged_out
    joined = later.frame.select("case_id", "age", "sex").join(
        baseline.frame.select("case_id", "age", "sex"), on="case_id", suffix="_before"
    )
    assert (joined.get_column("age") - joined.get_column("age_before") == 2).all()
    assert (joined.get_column("sex") == joined.get_column("sex_before")).all()


def test_a_programme_effect_on_a_mean_is_refused(targets, catalogue, tmp_path):
    path = tmp_path / "shifts.toml"
    path.write_text('round = "midterm"\n[programme.effects]\nmonthly_income = 5000\n', encoding="utf-8")
    with pytest.raises(SpecError, match="monthly_income"):
        generate(targets, catalogue, 1, round_name="midterm", shifts=load_shifts(path))


# --- the command --------------------------------------------------------------------------------------


def test_synth_check_writes_nothing_and_says_whether_the_exports_are_this_seeds(study_dir):
    """A user who generated with --seed 3 and ingested it keeps their files when checking another seed."""
    data = study_dir / "data"
    xlsx, csv = data / "mali-2018-baseline-synthetic.xlsx", data / "mali-2018-baseline-synthetic.csv"
    result = CliRunner().invoke(app, ["synth", str(study_dir), "--seed", "3", "--check"])
    assert result.exit_code == 0, result.output
    assert not data.exists()
    assert result.stderr.splitlines()[1:3] == [
        "Checked in memory, no file written / vérifié en mémoire, aucun fichier écrit.",
        "No export of this round in data/ yet: run without --check to write it / pas encore d'export de ce "
        "tour dans data/ : relancez sans --check pour l'écrire.",
    ]
    assert CliRunner().invoke(app, ["synth", str(study_dir), "--seed", "3"]).exit_code == 0
    written = {path: path.read_bytes() for path in data.iterdir()}

    result = CliRunner().invoke(app, ["synth", str(study_dir), "--seed", "3", "--check", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "target,scope,source,expected,achieved,gap,tolerance,ok"
    assert any(line.startswith("paid_job_or_iga,kita,fiche,0.39,") for line in lines)
    assert all(line.endswith(",True") for line in lines[1:])
    assert result.stderr.splitlines()[2:4] == [
        f"{xlsx}: what seed 3 gives / ce que donne la graine 3.",
        f"{csv}: what seed 3 gives / ce que donne la graine 3.",
    ]

    result = CliRunner().invoke(app, ["synth", str(study_dir), "--check", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert {path: path.read_bytes() for path in data.iterdir()} == written
    assert result.stderr.splitlines()[2:4] == [
        f"Warning: {path} is not what seed 20180305 gives (another seed, or edited) / n'est pas ce que donne "
        "la graine 20180305 (autre graine, ou fichier modifié)."
        for path in (xlsx, csv)
    ]


def test_synth_check_exits_1_when_a_target_is_missed(study_dir):
    path = study_dir / "synth_targets.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("returnees = 171 ", "returnees = 200 "), encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", str(study_dir), "--check", "--format", "csv"])
    assert result.exit_code == 1
    assert "returnees,all,finding,0.33" in result.stdout
    assert "missed" in result.output


def test_midterm_needs_stated_changes(study_dir):
    from retour.config import load_project
    from retour.study import synthesise

    with pytest.raises(ConfigError, match="--shift"):
        synthesise(load_project(study_dir), "midterm", write=False)
    run = synthesise(load_project(study_dir), "midterm", shift=study_dir / "shifts_midterm.toml", panel=True)
    assert run.paths[0].name == "mali-2018-midterm-panel-synthetic.xlsx"
    rounds = tomllib.loads((study_dir / "retour.toml").read_text(encoding="utf-8"))["rounds"]
    midterm_date = next(r["date"] for r in rounds if r["name"] == "midterm")
    first = openpyxl.load_workbook(run.paths[0], read_only=True).active.cell(2, 1).value
    assert first == midterm_date.isoformat() or first > midterm_date.isoformat()


def _shifts_file(study_dir, text: str):
    path = study_dir / "my_shifts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _synth_error(capsys, study_dir, *args: str) -> str:
    """What `retour synth` prints on stderr when it stops with an error (exit code 1)."""
    from retour.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["synth", str(study_dir), *args])
    assert exited.value.code == 1
    return capsys.readouterr().err


def test_a_misspelt_indicator_in_a_shifts_file_is_refused_with_the_closest_id(study_dir, capsys):
    path = _shifts_file(study_dir, 'round = "midterm"\n[default]\npaid_jobb_or_iga = 3\nseeking_job = 2\n'
                                   "[communities.kita]\nownes_business = 4\n[programme.effects]\nzzz = 5\n")
    assert _synth_error(capsys, study_dir, "--round", "midterm", "--shift", str(path)) == (
        f"Error: {path}: 3 indicator id(s) the synthetic data do not calibrate: "
        "default.paid_jobb_or_iga (did you mean paid_job_or_iga?), "
        "communities.kita.ownes_business (did you mean owns_business?), "
        "programme.effects.zzz. Name a fact-sheet indicator or a [[free]] indicator of synth_targets.toml; a "
        "change on any other id would be lost.\n"
    )
    assert not (study_dir / "data").exists()


def test_a_shifts_file_for_another_round_is_refused(study_dir, capsys):
    path = _shifts_file(study_dir, 'round = "final"\n[default]\npaid_job_or_iga = 3\n')
    assert _synth_error(capsys, study_dir, "--round", "midterm", "--shift", str(path)) == (
        f"Error: {path} is for round 'final' (round = \"final\"), not 'midterm'. Give the shifts file of "
        "round 'midterm', or pass --round final.\n"
    )


def test_a_shifts_file_with_an_unknown_key_is_refused(study_dir, capsys):
    path = _shifts_file(study_dir, 'round = "midterm"\n[defaults]\npaid_job_or_iga = 3\n')
    assert _synth_error(capsys, study_dir, "--round", "midterm", "--shift", str(path)) == (
        f"Error: {path}: unknown key(s) defaults. Keys allowed: round, years_after_baseline, fieldwork, "
        "default, communities, programme, programme.effects.\n"
    )


def test_a_missing_shifts_file_names_the_right_file(study_dir, capsys):
    path = study_dir / "shifts_final.toml"
    assert _synth_error(capsys, study_dir, "--round", "midterm", "--shift", str(path)) == (
        f"Error: Shifts file {path} not found. Give the path of the round's shifts file, e.g. "
        "DIR/shifts_midterm.toml.\n"
    )


def test_a_study_without_targets_cannot_be_synthesised(study_dir):
    from retour.config import load_project
    from retour.study import synthesise

    (study_dir / "synth_targets.toml").unlink()
    with pytest.raises(ConfigError, match="synth_targets.toml"):
        synthesise(load_project(study_dir))
