"""Classify each community's needs, issue by issue, from estimates and index scores (the study's Tableau 2).

A `NeedsSpec` (read from the study's `needs.toml`) lists the issues (water, education, ...); each names
the indicators that measure it and rules that set its level: `priority`, `important`, or `none` when no
rule holds. Issues the study places out of direct reach (documentation, justice/police in the example)
are `outside_reach`: a matter for national advocacy. Issues the survey cannot measure take their level
from recorded analyst assessments, shown as such. Analyst overrides are applied last and kept apart.

Rule conditions (thresholds in percentage points for proportions, estimate x 100):
    below_mean_by t:  100 (p_c - p_all) <= -t    above_mean_by t:  100 (p_c - p_all) >= t
    below t:          100 p_c < t                above t:          100 p_c > t
    among_lowest k:   rank_c > N - k  (N ranked communities, rank 1 = best)
    score_below s:    score_c < s
where p_c is the community's estimate and p_all the whole-sample estimate (`community_id == "all"`).
A suppressed or missing estimate makes its condition unknown, which never meets a rule.

Every cell carries the numbers it rests on and the rule that produced it, in English (`rule`,
`evidence`) and French (`rule_fr`, `evidence_fr`). This module is pure: it reads no file and no store.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from retour.keydocs import KeyDoc, allowed_keys_hint, unknown_keys
from retour.registers import SpecProblem, problem, raise_problems

LEVELS = ("priority", "important", "outside_reach", "none")
RULE_LEVELS = ("priority", "important")
DIMENSIONS = ("economic", "social", "psychosocial")
PILLARS = ("economic", "social", "psychosocial", "composite")
INDICATOR_TESTS = ("below_mean_by", "above_mean_by", "below", "above")
PILLAR_TESTS = ("among_lowest", "score_below")
BASES = ("computed", "assessed", "outside_reach", "not_measured")

LEVEL_LABELS = {
    "priority": ("priority", "prioritaire"),
    "important": ("important", "important"),
    "outside_reach": ("outside direct reach (national advocacy)",
                      "hors de portée directe (plaidoyer national)"),
    "none": ("none", "aucun"),
}
PILLAR_LABELS = {
    "economic": ("economic", "économique"),
    "social": ("social", "social"),
    "psychosocial": ("psychosocial", "psychosocial"),
    "composite": ("composite", "composite"),
}
_ROUNDING = 9  # differences are compared after rounding, so 36% - 46% counts as exactly 10 points

# The keys of needs.toml and of its tables (docs/study-files.md is generated from them; the parser
# refuses any other key).
NEEDS_KEY_DOCS = (
    KeyDoc("issues", "list of tables", "", "The issues, in the order of the needs matrix (keys below)."),
    KeyDoc("assessed", "list of tables", "none", "Analysts' recorded judgements of issues (keys below)."),
)
ISSUE_KEY_DOCS = (
    KeyDoc("id", "text", "", "Stable identifier of the issue, named by assessments, overrides and the "
           "registers' `issues` and `needs`."),
    KeyDoc("label_fr", "text", "", "What French readers see."),
    KeyDoc("label_en", "text", "", "What English readers see."),
    KeyDoc("dimension", "text", "", "The dimension the issue belongs to.", DIMENSIONS),
    KeyDoc("indicators", "list of texts", "none", "Indicators of indicators.toml shown as evidence."),
    KeyDoc("rules", "list of tables", "none (not measured)", "Rules setting the level, priority rules "
           "first (keys below)."),
    KeyDoc("outside_reach", "boolean", "false", "Out of direct reach: a matter for national advocacy; "
           "no rule applies."),
    KeyDoc("note_fr", "text", "none", "For an issue outside reach: the verdict French readers see."),
    KeyDoc("note_en", "text", "none", "For an issue outside reach: the verdict English readers see."),
)
RULE_KEY_DOCS = (
    KeyDoc("level", "text", "", "The level the rule sets when it is met.", RULE_LEVELS),
    KeyDoc("match", "text", "any", "Met when any, or all, of its conditions hold.", ("any", "all")),
    KeyDoc("conditions", "list of tables", "", "The tests (keys below)."),
)
_ONE_TEST = "one test per condition"
CONDITION_KEY_DOCS = (
    KeyDoc("indicator", "text", "or `pillar`", "The indicator tested, with one of below_mean_by, "
           "above_mean_by, below, above."),
    KeyDoc("pillar", "text", "or `indicator`", "The index pillar tested, with among_lowest or score_below.",
           PILLARS),
    KeyDoc("below_mean_by", "number", _ONE_TEST, "Holds when 100 (p_c - p_all) <= -t: t points below "
           "the sample mean."),
    KeyDoc("above_mean_by", "number", _ONE_TEST, "Holds when 100 (p_c - p_all) >= t."),
    KeyDoc("below", "number", _ONE_TEST, "Holds when 100 p_c < t (p_c for a mean)."),
    KeyDoc("above", "number", _ONE_TEST, "Holds when 100 p_c > t (p_c for a mean)."),
    KeyDoc("among_lowest", "integer", _ONE_TEST, "Holds when the community is among the k lowest-ranked "
           "on the pillar."),
    KeyDoc("score_below", "number", _ONE_TEST, "Holds when the community's pillar score is below s."),
)
ASSESSMENT_KEY_DOCS = (
    KeyDoc("community", "text", "", "The community (an id of communities.yaml)."),
    KeyDoc("issue", "text", "", "The issue (an id of [[issues]])."),
    KeyDoc("level", "text", "", "The level the analyst gives.", LEVELS),
    KeyDoc("reason_fr", "text", "", "Why, for French readers."),
    KeyDoc("reason_en", "text", "", "Why, for English readers."),
    KeyDoc("source", "text", "", "Where the judgement comes from (e.g. focus groups)."),
    KeyDoc("rounds", "list of texts", "every round", "The rounds (retour.toml [[rounds]]) it applies to."),
)


def _unknown_keys(entry: Mapping[str, Any], keys: tuple[KeyDoc, ...], what: str, source: str,
                  label: Any, problems: list[SpecProblem]) -> None:
    """A problem for each key of `entry` that `keys` does not declare, naming the keys allowed."""
    problems += [problem(source, label, key, None, f"is not a key of {what}.", allowed_keys_hint(keys))
                 for key in unknown_keys(entry, keys)]

NEEDS_SCHEMA = {
    "community_id": pl.Utf8, "issue_id": pl.Utf8, "issue_label_fr": pl.Utf8, "issue_label_en": pl.Utf8,
    "dimension": pl.Utf8, "level": pl.Utf8, "basis": pl.Utf8, "computed_level": pl.Utf8,
    "rule": pl.Utf8, "rule_fr": pl.Utf8, "evidence": pl.Utf8, "evidence_fr": pl.Utf8,
    "overridden": pl.Boolean, "override_by": pl.Utf8, "override_why": pl.Utf8,
    "override_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class IndicatorLabel:
    """How an indicator is named in evidence text, and whether it is a proportion (shown in %)."""

    label_en: str
    label_fr: str
    proportion: bool = True


@dataclass(frozen=True)
class Condition:
    """One test on an indicator estimate (`indicator`) or on a pillar score or rank (`pillar`)."""

    test: str
    threshold: float
    indicator: str | None = None
    pillar: str | None = None


@dataclass(frozen=True)
class Rule:
    """A level reached when any (or all) of its conditions hold."""

    level: str
    conditions: tuple[Condition, ...]
    match: str = "any"


@dataclass(frozen=True)
class Issue:
    """A row of the needs matrix: what measures it and which rules set its level."""

    id: str
    label_fr: str
    label_en: str
    dimension: str
    indicators: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    outside_reach: bool = False
    note_fr: str = ""
    note_en: str = ""

    def measured_by(self) -> tuple[str, ...]:
        """Indicators shown as evidence: those listed, then any other named by a rule."""
        named = [c.indicator for r in self.rules for c in r.conditions if c.indicator]
        return tuple(dict.fromkeys([*self.indicators, *named]))

    def pillars(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.pillar for r in self.rules for c in r.conditions if c.pillar))


@dataclass(frozen=True)
class Assessment:
    """An analyst's recorded judgement of one community's issue, from observation or interviews."""

    community_id: str
    issue_id: str
    level: str
    reason_fr: str
    reason_en: str
    source: str
    rounds: tuple[str, ...] = ()

    def applies_to(self, round_name: str) -> bool:
        return not self.rounds or round_name in self.rounds


@dataclass(frozen=True)
class NeedsSpec:
    """The study's needs rules: issues in display order and analyst assessments."""

    issues: tuple[Issue, ...]
    assessments: tuple[Assessment, ...] = ()
    source: str = "needs.toml"

    def issue_ids(self) -> tuple[str, ...]:
        return tuple(issue.id for issue in self.issues)

    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for issue in self.issues for i in issue.measured_by()))

    def uses_pillars(self) -> bool:
        return any(issue.pillars() for issue in self.issues)


# --- reading a spec -------------------------------------------------------------------------------


def parse_spec(raw: Mapping[str, Any], *, source: str = "needs.toml",
               indicator_ids: Collection[str] | None = None, community_ids: Collection[str] | None = None,
               round_names: Collection[str] | None = None) -> NeedsSpec:
    """Validate a parsed `needs.toml` and build its `NeedsSpec`; one SpecError lists every problem.

    Indicator, community and round ids are checked against the collections given (None: not checked).
    """
    problems: list[SpecProblem] = []
    _unknown_keys(raw, NEEDS_KEY_DOCS, "the top level", source, None, problems)
    issues: list[Issue] = []
    seen: set[str] = set()
    raw_issues = raw.get("issues", [])
    if not isinstance(raw_issues, list) or not raw_issues:
        problems.append(problem(source, None, "issues", None, "no issues are defined.",
                                "Add [[issues]] tables with id, label_fr, label_en and dimension."))
        raw_issues = []
    for position, entry in enumerate(raw_issues, start=1):
        issue = _parse_issue(entry, position, source, indicator_ids, problems)
        if issue is None:
            continue
        if issue.id in seen:
            problems.append(problem(source, issue.id, "id", issue.id, "is defined twice.",
                                    "Give each issue a unique id."))
        seen.add(issue.id)
        issues.append(issue)
    assessments = [a for position, entry in enumerate(raw.get("assessed", []) or [], start=1)
                   if (a := _parse_assessment(entry, position, source, seen, community_ids, round_names,
                                              problems)) is not None]
    raise_problems(problems, f"{source} is invalid")
    return NeedsSpec(issues=tuple(issues), assessments=tuple(assessments), source=source)


def _parse_issue(entry: Any, position: int, source: str, indicator_ids: Collection[str] | None,
                 problems: list[SpecProblem]) -> Issue | None:
    if not isinstance(entry, Mapping):
        problems.append(problem(source, position, None, entry, "an issue must be a table."))
        return None
    label = entry.get("id") if isinstance(entry.get("id"), str) else position
    _unknown_keys(entry, ISSUE_KEY_DOCS, "an issue", source, label, problems)
    texts = {}
    for name in ("id", "label_fr", "label_en", "dimension"):
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(problem(source, label, name, value, "is required and must be text.",
                                    f"Add `{name} = \"...\"` to this issue."))
            value = ""
        texts[name] = value.strip()
    if texts["dimension"] and texts["dimension"] not in DIMENSIONS:
        problems.append(problem(source, label, "dimension", texts["dimension"], "is not a dimension.",
                                f"Use one of: {', '.join(DIMENSIONS)}."))
    indicators = entry.get("indicators", [])
    if not isinstance(indicators, list) or not all(isinstance(i, str) for i in indicators):
        problems.append(problem(source, label, "indicators", indicators, "must be a list of indicator ids."))
        indicators = []
    for indicator in indicators:
        _check_indicator(indicator, label, "indicators", source, indicator_ids, problems)
    rules = tuple(r for index, raw_rule in enumerate(entry.get("rules", []) or [], start=1)
                  if (r := _parse_rule(raw_rule, f"{label} rule {index}", source, indicator_ids,
                                       problems)) is not None)
    outside = entry.get("outside_reach", False)
    if not isinstance(outside, bool):
        problems.append(problem(source, label, "outside_reach", outside, "must be true or false."))
        outside = False
    return Issue(id=texts["id"], label_fr=texts["label_fr"], label_en=texts["label_en"],
                 dimension=texts["dimension"], indicators=tuple(indicators), rules=rules,
                 outside_reach=outside, note_fr=str(entry.get("note_fr", "")),
                 note_en=str(entry.get("note_en", "")))


def _check_indicator(indicator: str, label: Any, where: str, source: str,
                     indicator_ids: Collection[str] | None, problems: list[SpecProblem]) -> None:
    if indicator_ids is not None and indicator not in indicator_ids:
        problems.append(problem(source, label, where, indicator, "is not an indicator of the catalogue.",
                                "Use an id defined in the study's indicators.toml."))


def _parse_rule(raw: Any, label: str, source: str, indicator_ids: Collection[str] | None,
                problems: list[SpecProblem]) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.append(problem(source, label, None, raw, "a rule must be a table."))
        return None
    _unknown_keys(raw, RULE_KEY_DOCS, "a rule", source, label, problems)
    level = raw.get("level")
    if level not in RULE_LEVELS:
        problems.append(problem(source, label, "level", level, "is not a level a rule can set.",
                                f"Use one of: {', '.join(RULE_LEVELS)}."))
    match = raw.get("match", "any")
    if match not in ("any", "all"):
        problems.append(problem(source, label, "match", match, "must be `any` or `all`."))
    conditions = []
    raw_conditions = raw.get("conditions", [])
    if not isinstance(raw_conditions, list) or not raw_conditions:
        problems.append(problem(source, label, "conditions", raw_conditions, "a rule needs conditions.",
                                "Add e.g. conditions = [{ indicator = \"...\", below_mean_by = 10 }]."))
        raw_conditions = []
    for raw_condition in raw_conditions:
        condition = _parse_condition(raw_condition, label, source, indicator_ids, problems)
        if condition is not None:
            conditions.append(condition)
    return Rule(level=str(level), conditions=tuple(conditions), match=str(match))


def _parse_condition(raw: Any, label: str, source: str, indicator_ids: Collection[str] | None,
                     problems: list[SpecProblem]) -> Condition | None:
    if not isinstance(raw, Mapping):
        problems.append(problem(source, label, "conditions", raw, "a condition must be a table."))
        return None
    indicator, pillar = raw.get("indicator"), raw.get("pillar")
    allowed = INDICATOR_TESTS if indicator is not None else PILLAR_TESTS
    tests = [key for key in raw if key not in ("indicator", "pillar")]
    if (indicator is None) == (pillar is None):
        problems.append(problem(source, label, "conditions", dict(raw),
                                "a condition names either an indicator or a pillar.",
                                "Write { indicator = \"...\", below_mean_by = 10 } or "
                                "{ pillar = \"social\", among_lowest = 2 }."))
        return None
    if indicator is not None:
        _check_indicator(str(indicator), label, "indicator", source, indicator_ids, problems)
    elif pillar not in PILLARS:
        problems.append(problem(source, label, "pillar", pillar, "is not a pillar.",
                                f"Use one of: {', '.join(PILLARS)}."))
    if len(tests) != 1 or tests[0] not in allowed:
        problems.append(problem(source, label, "conditions", ", ".join(tests) or None,
                                "a condition needs exactly one test.", f"Use one of: {', '.join(allowed)}."))
        return None
    threshold = raw[tests[0]]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        problems.append(problem(source, label, tests[0], threshold, "must be a number."))
        return None
    return Condition(test=tests[0], threshold=float(threshold),
                     indicator=None if indicator is None else str(indicator),
                     pillar=None if pillar is None else str(pillar))


def _parse_assessment(raw: Any, position: int, source: str, issue_ids: Collection[str],
                      community_ids: Collection[str] | None, round_names: Collection[str] | None,
                      problems: list[SpecProblem]) -> Assessment | None:
    label = f"assessed #{position}"
    if not isinstance(raw, Mapping):
        problems.append(problem(source, label, None, raw, "an assessment must be a table."))
        return None
    _unknown_keys(raw, ASSESSMENT_KEY_DOCS, "an assessment", source, label, problems)
    texts = {}
    for name in ("community", "issue", "level", "reason_fr", "reason_en", "source"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(problem(source, label, name, value, "is required and must be text.",
                                    "An assessment records community, issue, level, reason_fr, "
                                    "reason_en and source."))
            value = ""
        texts[name] = value.strip()
    if texts["community"] and community_ids is not None and texts["community"] not in community_ids:
        problems.append(problem(source, label, "community", texts["community"], "is not a community.",
                                f"Use one of: {', '.join(community_ids)}."))
    if texts["issue"] and texts["issue"] not in issue_ids:
        problems.append(problem(source, label, "issue", texts["issue"], "is not an issue of this file.",
                                f"Use one of: {', '.join(issue_ids)}."))
    if texts["level"] and texts["level"] not in LEVELS:
        problems.append(problem(source, label, "level", texts["level"], "is not a level.",
                                f"Use one of: {', '.join(LEVELS)}."))
    rounds = raw.get("rounds", [])
    if not isinstance(rounds, list):
        rounds = [rounds]
    for name in rounds:
        if round_names is not None and name not in round_names:
            problems.append(problem(source, label, "rounds", name, "is not a round of the study.",
                                    f"Rounds in retour.toml: {', '.join(round_names)}."))
    return Assessment(community_id=texts["community"], issue_id=texts["issue"], level=texts["level"],
                      reason_fr=texts["reason_fr"], reason_en=texts["reason_en"], source=texts["source"],
                      rounds=tuple(str(r) for r in rounds))


# --- classifying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figure:
    """An estimate with what is needed to judge and print it."""

    value: float | None
    n: int | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class _Facts:
    """Estimates and index scores of one round, looked up by community."""

    values: Mapping[tuple[str, str], _Figure]
    pillars: Mapping[tuple[str, str], tuple[float | None, int | None]]
    ranked: Mapping[str, int]
    labels: Mapping[str, IndicatorLabel] = field(default_factory=dict)

    def figure(self, community_id: str, indicator: str) -> _Figure:
        return self.values.get((community_id, indicator), _Figure(None))

    def label(self, indicator: str) -> IndicatorLabel:
        return self.labels.get(indicator, IndicatorLabel(indicator, indicator))


def _facts(estimates: pl.DataFrame, index_scores: pl.DataFrame,
           labels: Mapping[str, IndicatorLabel]) -> _Facts:
    values: dict[tuple[str, str], _Figure] = {}
    if estimates.height:
        overall = estimates.filter(pl.col("group_dimension") == "all")
        has_n, has_suppressed = "n" in overall.columns, "suppressed" in overall.columns
        for row in overall.iter_rows(named=True):
            values[(row["community_id"], row["indicator_id"])] = _Figure(
                value=row["estimate"], n=row["n"] if has_n else None,
                suppressed=bool(row["suppressed"]) if has_suppressed else False)
    pillars: dict[tuple[str, str], tuple[float | None, int | None]] = {}
    ranked: dict[str, int] = {}
    if index_scores.height:
        for row in index_scores.iter_rows(named=True):
            pillars[(row["community_id"], row["pillar"])] = (row["score"], row["rank"])
        counts = index_scores.filter(pl.col("rank").is_not_null()).group_by("pillar").len()
        ranked = dict(counts.iter_rows())
    return _Facts(values=values, pillars=pillars, ranked=ranked, labels=labels)


def classify(estimates: pl.DataFrame, index_scores: pl.DataFrame, spec: NeedsSpec, round_name: str, *,
             labels: Mapping[str, IndicatorLabel] | None = None,
             communities: Sequence[str] | None = None) -> pl.DataFrame:
    """The needs matrix of one round: one row per community x issue, with level, rule and evidence.

    `estimates` has the columns of the stored `estimates` table (only `group_dimension == "all"` rows
    are used; `community_id == "all"` is the sample mean); `index_scores` those of `index_scores`
    (may be empty when no rule uses a pillar). Communities default to those in the estimates.
    Overrides are not applied here: see `apply_overrides`.
    """
    facts = _facts(estimates, index_scores, labels or {})
    if communities is None:
        seen = estimates.get_column("community_id").unique(maintain_order=True).to_list() \
            if estimates.height else []
        communities = [c for c in seen if c != "all"]
    assessed = {(a.community_id, a.issue_id): a for a in spec.assessments if a.applies_to(round_name)}
    texts = {rule: _rule_text(rule, facts) for issue in spec.issues for rule in issue.rules}
    rows = [_cell(community_id, issue, facts, assessed.get((community_id, issue.id)), texts)
            for community_id in communities for issue in spec.issues]
    return pl.DataFrame(rows, schema=NEEDS_SCHEMA, orient="row")


def _cell(community_id: str, issue: Issue, facts: _Facts, assessment: Assessment | None,
          texts: Mapping[Rule, tuple[str, str]]) -> tuple:
    numbers_en, numbers_fr = _numbers(community_id, issue, facts)
    if issue.outside_reach:
        level, basis = "outside_reach", "outside_reach"
        rule_en = "outside direct reach: a matter for national advocacy"
        rule_fr = "hors de portée directe : relève du plaidoyer national"
        verdict_en, verdict_fr = issue.note_en or rule_en.capitalize() + ".", issue.note_fr or \
            rule_fr.capitalize() + "."
    elif issue.rules:
        level, rule_en, rule_fr, verdict_en, verdict_fr = _apply_rules(community_id, issue, facts, texts)
        basis = "computed"
    else:
        level, basis = "none", "not_measured"
        rule_en, rule_fr = "not measured by the survey", "non mesuré par l'enquête"
        verdict_en = "Not measured by the survey; no analyst assessment recorded."
        verdict_fr = "Non mesuré par l'enquête ; aucune appréciation d'analyste enregistrée."
    computed_level = level
    if assessment is not None:
        computed_en = "" if basis == "not_measured" else f" (computed: {LEVEL_LABELS[level][0]})"
        computed_fr = "" if basis == "not_measured" else f" (calcul : {LEVEL_LABELS[level][1]})"
        verdict_en = f"Analyst assessment ({assessment.source}): {assessment.reason_en}{computed_en}"
        verdict_fr = f"Appréciation de l'analyste ({assessment.source}) : {assessment.reason_fr}{computed_fr}"
        rule_en, rule_fr = f"assessed from {assessment.source}", f"appréciation : {assessment.source}"
        level, basis = assessment.level, "assessed"
    evidence_en = " ".join(part for part in (numbers_en, verdict_en) if part)
    evidence_fr = " ".join(part for part in (numbers_fr, verdict_fr) if part)
    return (community_id, issue.id, issue.label_fr, issue.label_en, issue.dimension, level, basis,
            computed_level, rule_en, rule_fr, evidence_en, evidence_fr, False, None, None, None)


def _apply_rules(community_id: str, issue: Issue, facts: _Facts,
                 texts: Mapping[Rule, tuple[str, str]]) -> tuple[str, str, str, str, str]:
    """First rule met, checking priority rules before important ones; `none` if no rule is met."""
    order = sorted(issue.rules, key=lambda rule: RULE_LEVELS.index(rule.level))
    for rule in order:
        results = [_holds(community_id, condition, facts) for condition in rule.conditions]
        met = all(r is True for r in results) if rule.match == "all" else any(r is True for r in results)
        if met:
            text_en, text_fr = texts[rule]
            return rule.level, text_en, text_fr, f"Rule met: {text_en}.", f"Règle remplie : {text_fr}."
    rule_en = "none of: " + "; ".join(texts[rule][0] for rule in order)
    rule_fr = "aucune de : " + "; ".join(texts[rule][1] for rule in order)
    return "none", rule_en, rule_fr, "No rule met.", "Aucune règle remplie."


def _holds(community_id: str, condition: Condition, facts: _Facts) -> bool | None:
    """Whether a condition holds for a community; None when a figure it needs is missing or suppressed."""
    if condition.pillar is not None:
        score, rank = facts.pillars.get((community_id, condition.pillar), (None, None))
        if condition.test == "among_lowest":
            total = facts.ranked.get(condition.pillar)
            return None if rank is None or not total else rank > total - condition.threshold
        return None if score is None else score < condition.threshold
    indicator = condition.indicator or ""
    scale = 100.0 if facts.label(indicator).proportion else 1.0
    own = facts.figure(community_id, indicator)
    if own.value is None or own.suppressed:
        return None
    if condition.test == "below":
        return own.value * scale < condition.threshold
    if condition.test == "above":
        return own.value * scale > condition.threshold
    mean = facts.figure("all", indicator)
    if mean.value is None:
        return None
    difference = round((own.value - mean.value) * scale, _ROUNDING)
    if condition.test == "below_mean_by":
        return difference <= -condition.threshold
    return difference >= condition.threshold


def _rule_text(rule: Rule, facts: _Facts) -> tuple[str, str]:
    parts = [_condition_text(condition, facts) for condition in rule.conditions]
    joint_en, joint_fr = (" and ", " et ") if rule.match == "all" else (" or ", " ou ")
    level_en, level_fr = LEVEL_LABELS[rule.level]
    return (f"{level_en} if " + joint_en.join(p[0] for p in parts),
            f"{level_fr} si " + joint_fr.join(p[1] for p in parts))


def _condition_text(condition: Condition, facts: _Facts) -> tuple[str, str]:
    t = f"{condition.threshold:g}"
    if condition.pillar is not None:
        en, fr = PILLAR_LABELS[condition.pillar]
        if condition.test == "among_lowest":
            return (f"{en} pillar among the {t} lowest-ranked communities",
                    f"pilier {fr} parmi les {t} communautés les moins bien classées")
        return f"{en} pillar score under {t}", f"score du pilier {fr} inférieur à {t}"
    label = facts.label(condition.indicator or "")
    unit_en, unit_fr = ("%", " %") if label.proportion else ("", "")
    points = "pts" if label.proportion else ""
    mean_fr = "à la moyenne de l'échantillon"
    texts = {
        "below_mean_by": (f"{label.label_en} {t}+ {points} below the sample mean",
                          f"{label.label_fr} inférieur d'au moins {t} {points} {mean_fr}"),
        "above_mean_by": (f"{label.label_en} {t}+ {points} above the sample mean",
                          f"{label.label_fr} supérieur d'au moins {t} {points} {mean_fr}"),
        "below": (f"{label.label_en} under {t}{unit_en}", f"{label.label_fr} inférieur à {t}{unit_fr}"),
        "above": (f"{label.label_en} over {t}{unit_en}", f"{label.label_fr} supérieur à {t}{unit_fr}"),
    }
    en, fr = texts[condition.test]
    return " ".join(en.split()), " ".join(fr.split())


def _numbers(community_id: str, issue: Issue, facts: _Facts) -> tuple[str, str]:
    """The figures behind a cell: each indicator against the sample mean, each pillar's score and rank."""
    parts_en, parts_fr = [], []
    for indicator in issue.measured_by():
        label = facts.label(indicator)
        own, mean = facts.figure(community_id, indicator), facts.figure("all", indicator)
        en, fr = _figure_text(own, mean, label)
        parts_en.append(f"{label.label_en}: {en}")
        parts_fr.append(f"{label.label_fr} : {fr}")
    for pillar in issue.pillars():
        score, rank = facts.pillars.get((community_id, pillar), (None, None))
        en, fr = PILLAR_LABELS[pillar]
        if score is None:
            parts_en.append(f"{en} pillar: no score")
            parts_fr.append(f"pilier {fr} : pas de score")
            continue
        total = facts.ranked.get(pillar, 0)
        parts_en.append(f"{en} pillar: score {score:.2f}, rank {rank} of {total}")
        parts_fr.append(f"pilier {fr} : score {_decimal_fr(score)}, rang {rank} sur {total}")
    if not parts_en:
        return "", ""
    return "; ".join(parts_en) + ".", "; ".join(parts_fr) + "."


def _figure_text(own: _Figure, mean: _Figure, label: IndicatorLabel) -> tuple[str, str]:
    if own.value is None:
        return "no estimate", "pas d'estimation"
    if own.suppressed:
        return (f"suppressed (n={own.n}, too few respondents)",
                f"masqué (n={own.n}, trop peu de répondants)")
    scale = 100.0 if label.proportion else 1.0
    value_en, value_fr = _value_text(own.value, label.proportion)
    n_text = f", n={own.n}" if own.n is not None else ""
    if mean.value is None:
        return f"{value_en}{n_text}", f"{value_fr}{n_text}"
    mean_en, mean_fr = _value_text(mean.value, label.proportion)
    difference = round((own.value - mean.value) * scale, _ROUNDING)
    gap = f"{difference:+.0f} pts" if label.proportion else f"{difference:+.2f}"
    gap_fr = gap if label.proportion else _decimal_fr(difference, signed=True)
    return (f"{value_en} (sample mean {mean_en}, {gap}{n_text})",
            f"{value_fr} (moyenne de l'échantillon {mean_fr}, {gap_fr}{n_text})")


def _value_text(value: float, proportion: bool) -> tuple[str, str]:
    if proportion:
        return f"{value * 100:.0f}%", f"{value * 100:.0f} %"
    return f"{value:.2f}", _decimal_fr(value)


def _decimal_fr(value: float, signed: bool = False) -> str:
    return (f"{value:+.2f}" if signed else f"{value:.2f}").replace(".", ",")


# --- overrides ------------------------------------------------------------------------------------


def apply_overrides(matrix: pl.DataFrame, overrides: pl.DataFrame) -> pl.DataFrame:
    """The matrix with analysts' overrides in force: `level` replaced, `overridden` true, who/why/when kept.

    `overrides` has `community_id, issue_id, level, why, set_by, set_at` (the latest per cell); overrides
    for cells not in the matrix are ignored. `computed_level` keeps the level without the override, and
    the evidence says who overrode the cell, when and why.
    """
    if overrides.height == 0:
        return matrix
    chosen = overrides.select(
        "community_id", "issue_id", pl.col("level").alias("_override_level"),
        pl.col("set_by").cast(pl.Utf8).alias("_by"), pl.col("why").cast(pl.Utf8).alias("_why"),
        pl.col("set_at").cast(pl.Datetime("us")).alias("_at"))
    joined = matrix.join(chosen, on=["community_id", "issue_id"], how="left")
    hit = pl.col("_override_level").is_not_null()
    day = pl.col("_at").dt.strftime("%Y-%m-%d")
    level_en = pl.col("computed_level").replace_strict({k: v[0] for k, v in LEVEL_LABELS.items()},
                                                       default=pl.col("computed_level"))
    level_fr = pl.col("computed_level").replace_strict({k: v[1] for k, v in LEVEL_LABELS.items()},
                                                       default=pl.col("computed_level"))
    note_en = pl.concat_str([pl.lit(" Override by "), pl.col("_by"), pl.lit(" on "), day, pl.lit(": "),
                             pl.col("_why"), pl.lit(" (level without override: "), level_en, pl.lit(").")])
    note_fr = pl.concat_str([pl.lit(" Modifié par "), pl.col("_by"), pl.lit(" le "), day, pl.lit(" : "),
                             pl.col("_why"), pl.lit(" (niveau sans modification : "), level_fr, pl.lit(").")])
    return joined.with_columns(
        pl.when(hit).then(pl.col("_override_level")).otherwise(pl.col("level")).alias("level"),
        hit.alias("overridden"),
        pl.when(hit).then(pl.col("_by")).otherwise(pl.col("override_by")).alias("override_by"),
        pl.when(hit).then(pl.col("_why")).otherwise(pl.col("override_why")).alias("override_why"),
        pl.when(hit).then(pl.col("_at")).otherwise(pl.col("override_at")).alias("override_at"),
        pl.when(hit).then(pl.col("evidence") + note_en).otherwise(pl.col("evidence")).alias("evidence"),
        pl.when(hit).then(pl.col("evidence_fr") + note_fr).otherwise(pl.col("evidence_fr"))
        .alias("evidence_fr"),
    ).select(list(NEEDS_SCHEMA))


def check_override(spec: NeedsSpec, community_ids: Collection[str], community_id: str, issue_id: str,
                   level: str, why: str) -> None:
    """Refuse an override naming an unknown community, issue or level, or giving no reason."""
    problems = []
    source = "override"
    if community_id not in community_ids:
        problems.append(problem(source, None, "community", community_id, "is not a community.",
                                f"Use one of: {', '.join(community_ids)}."))
    if issue_id not in spec.issue_ids():
        problems.append(problem(source, None, "issue", issue_id, "is not an issue.",
                                f"Use one of: {', '.join(spec.issue_ids())}."))
    if level not in LEVELS:
        problems.append(problem(source, None, "level", level, "is not a level.",
                                f"Use one of: {', '.join(LEVELS)}."))
    if not why.strip():
        problems.append(problem(source, None, "why", why, "an override needs a reason.",
                                "Say why with --why \"...\"."))
    raise_problems(problems, "The override cannot be recorded")


def summary(matrix: pl.DataFrame) -> pl.DataFrame:
    """Issues x communities with the level in each cell (the layout of the study's Tableau 2).

    An overridden cell is marked with a trailing `*`.
    """
    if matrix.height == 0:
        return pl.DataFrame({"issue_id": []}, schema={"issue_id": pl.Utf8})
    marked = matrix.with_columns(
        pl.when(pl.col("overridden")).then(pl.col("level") + "*").otherwise(pl.col("level")).alias("cell"))
    communities = marked.get_column("community_id").unique(maintain_order=True).to_list()
    wide = marked.pivot(on="community_id", index=["issue_id"], values="cell", aggregate_function="first")
    return wide.select("issue_id", *communities)

