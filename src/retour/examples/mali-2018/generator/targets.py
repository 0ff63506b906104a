"""Read the calibration targets (synth_targets.toml) and stated changes (shifts_*.toml) of a study.

Percentages in the files become shares (0-1) here; gaps and shifts in points become differences of
shares. This module only reads and checks the files; solving and drawing respondents are elsewhere.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retour.errors import SpecError
from retour.textfiles import read_toml_file

COMMUNITIES = ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane")
SERVICES = ("education", "id_papers", "housing", "healthcare", "drinking_water", "justice_police")
GAP_GROUPS = ("migration_status", "sex", "beneficiary")


@dataclass(frozen=True)
class Gap:
    """A sample-wide difference of shares between two groups (returnees - non-migrants, women - men,
    beneficiaries - others)."""

    indicator: str
    group: str
    difference: float
    assumed: bool = False


@dataclass(frozen=True)
class FreeSpec:
    """An unpublished pillar indicator whose community shares (or means) the Tableau 1 solve chooses."""

    indicator: str
    low: float
    high: float
    anchors: Mapping[str, float] = field(default_factory=dict)
    sample_share: float | None = None
    prior: Mapping[str, float] | None = None
    continuous: bool = False


@dataclass(frozen=True)
class CommunityTargets:
    """One community's published figures (shares 0-1; activity domains as shares of those working)."""

    indicators: Mapping[str, float]
    service_gaps: Mapping[str, float]
    activity_domains: Mapping[str, float]
    business_obstacles: tuple[str, ...]
    reasons_left: tuple[str, ...]
    tableau_1: Mapping[str, float]


@dataclass(frozen=True)
class SynthTargets:
    """Everything `retour synth` calibrates to, with the study's written-down choices applied."""

    communities: tuple[str, ...]
    sizes: tuple[int, ...]
    size_range: tuple[int, int]
    ages: tuple[int, int]
    cluster_size: tuple[int, int]
    fieldwork: tuple[dt.date, dt.date]
    weight: float
    sample_means: Mapping[str, float]
    service_means: Mapping[str, float]
    findings: Mapping[str, Any]
    beneficiaries: Mapping[str, float]
    gaps: tuple[Gap, ...]
    free: tuple[FreeSpec, ...]
    by_community: Mapping[str, CommunityTargets]
    path: Path | None = None

    @property
    def respondents(self) -> int:
        return sum(self.sizes)

    def fiche(self, indicator: str) -> tuple[float, ...]:
        """Published community shares of a fiche indicator, or of a service's satisfaction."""
        if indicator.startswith("satisfied_") and indicator[len("satisfied_") :] in SERVICES:
            service = indicator[len("satisfied_") :]
            return tuple(
                self.service_means[service] + self.by_community[c].service_gaps[service]
                for c in self.communities
            )
        return tuple(self.by_community[c].indicators[indicator] for c in self.communities)

    @property
    def fiche_ids(self) -> tuple[str, ...]:
        first = self.by_community[self.communities[0]]
        return tuple(first.indicators) + tuple(f"satisfied_{service}" for service in SERVICES)

    def gaps_for(self, indicator: str) -> tuple[Gap, ...]:
        return tuple(gap for gap in self.gaps if gap.indicator == indicator)

    def tableau(self, pillar: str) -> tuple[float, ...]:
        return tuple(self.by_community[c].tableau_1[pillar] for c in self.communities)


def _share(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SpecError(f"{where}: '{value}' is not a number.", "Write percentages as numbers, e.g. 42.")
    return float(value) / 100.0


def _shares(table: Any, where: str) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise SpecError(f"{where} must be a table of percentages.")
    return {str(key): _share(value, f"{where}.{key}") for key, value in table.items()}




def _findings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Findings with percentages as shares; counts of people stay counts."""
    counts = {"returnees", "men", "assisted_returnees", "social_media_users"}
    result: dict[str, Any] = {}
    for key, value in raw.items():
        if key in counts:
            result[key] = int(value)
        elif isinstance(value, Mapping):
            result[key] = _shares(value, f"findings.{key}")
        else:
            result[key] = _share(value, f"findings.{key}")
    return result


def load_targets(path: Path) -> SynthTargets:
    """Read synth_targets.toml; SpecError naming the key when something is missing or malformed."""
    raw = read_toml_file(path, "Calibration targets", SpecError,
                         "Copy synth_targets.toml from the example study (`retour init`).")
    try:
        sample = raw["sample"]
        communities = tuple(raw["communities"])
        unknown = sorted(set(communities) - set(COMMUNITIES))
        if unknown:
            raise SpecError(
                f"{path}: unknown communit(ies) {', '.join(unknown)}.",
                f"Use the community ids {', '.join(COMMUNITIES)}.",
            )
        communities = tuple(c for c in COMMUNITIES if c in communities)
        sizes = tuple(int(sample["sizes"][c]) for c in communities)
        by_community = {}
        for community in communities:
            table = raw["communities"][community]
            by_community[community] = CommunityTargets(
                indicators=_shares(table["indicators"], f"communities.{community}.indicators"),
                service_gaps=_shares(table["service_gaps"], f"communities.{community}.service_gaps"),
                activity_domains=_shares(
                    table.get("activity_domains", {}), f"communities.{community}.activity_domains"
                ),
                business_obstacles=tuple(table.get("business_obstacles", ())),
                reasons_left=tuple(table.get("reasons_left", ())),
                tableau_1={key: float(value) for key, value in table["tableau_1"].items()},
            )
        gaps = tuple(
            Gap(
                str(item["indicator"]),
                str(item["group"]),
                _share(item["difference"], "gaps"),
                bool(item.get("assumed", False)),
            )
            for item in raw.get("gaps", [])
        )
        for gap in gaps:
            if gap.group not in GAP_GROUPS:
                raise SpecError(
                    f"{path}: gap on '{gap.indicator}' has group '{gap.group}'.",
                    f"Use one of {', '.join(GAP_GROUPS)}.",
                )
        free = []
        for item in raw.get("free", []):
            continuous = bool(item.get("continuous", False))
            scale = 1.0 if continuous else 0.01
            low, high = (float(value) * scale for value in item["range"])
            free.append(
                FreeSpec(
                    indicator=str(item["indicator"]),
                    low=low,
                    high=high,
                    anchors={str(k): float(v) * scale for k, v in item.get("anchors", {}).items()},
                    sample_share=_share(item["sample_share"], "free.sample_share")
                    if "sample_share" in item
                    else None,
                    prior={str(k): float(v) for k, v in item["prior"].items()} if "prior" in item else None,
                    continuous=continuous,
                )
            )
        fieldwork = tuple(sample["fieldwork"])
        return SynthTargets(
            communities=communities,
            sizes=sizes,
            size_range=(int(sample["size_range"][0]), int(sample["size_range"][1])),
            ages=(int(sample["ages"][0]), int(sample["ages"][1])),
            cluster_size=(int(sample["cluster_size"][0]), int(sample["cluster_size"][1])),
            fieldwork=(fieldwork[0], fieldwork[1]),
            weight=float(sample.get("weight", 1.0)),
            sample_means=_shares(raw["sample_means"], "sample_means"),
            service_means=_shares(raw["service_means"], "service_means"),
            findings=_findings(raw["findings"]),
            beneficiaries=_shares(
                raw.get("programme", {}).get("beneficiaries", {}), "programme.beneficiaries"
            ),
            gaps=gaps,
            free=tuple(free),
            by_community=by_community,
            path=Path(path),
        )
    except KeyError as error:
        raise SpecError(
            f"{path}: missing key {error}.", "Compare with the example study's synth_targets.toml."
        ) from None


@dataclass(frozen=True)
class Shifts:
    """Stated changes for a later round: points per indicator (default and per community), and the
    programme's effect on beneficiaries (points; CFA francs for a mean)."""

    round_name: str
    default: Mapping[str, float]
    by_community: Mapping[str, Mapping[str, float]]
    effects: Mapping[str, float]
    years: int = 2
    fieldwork: tuple[dt.date, dt.date] | None = None
    path: Path | None = None

    def change(self, indicator: str, community: str, continuous: bool = False) -> float:
        """Stated change of `indicator` in `community`, as a share difference (or in the mean's unit)."""
        points = self.by_community.get(community, {}).get(indicator, self.default.get(indicator, 0.0))
        return points if continuous else points / 100.0

    def effect(self, indicator: str, continuous: bool = False) -> float:
        value = self.effects.get(indicator, 0.0)
        return value if continuous else value / 100.0


SHIFT_KEYS = ("round", "years_after_baseline", "fieldwork", "default", "communities", "programme")


def _closest(name: str, known: Iterable[str]) -> str:
    """' (did you mean x?)' for the closest known name, or '' when none is close."""
    found = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {found[0]}?)" if found else ""


def load_shifts(path: Path, round_name: str | None = None) -> Shifts:
    """Read a shifts file (e.g. shifts_midterm.toml) for `round_name`; SpecError when malformed, or
    when the file says it is for another round (`round = ...`)."""
    raw = read_toml_file(path, "Shifts file", SpecError,
                         "Give the path of the round's shifts file, e.g. DIR/shifts_midterm.toml.")
    programme = raw.get("programme", {})
    unknown_keys = sorted(set(raw) - set(SHIFT_KEYS))
    if isinstance(programme, Mapping):
        unknown_keys += [f"programme.{key}" for key in sorted(set(programme) - {"effects"})]
    if unknown_keys:
        raise SpecError(f"{path}: unknown key(s) {', '.join(unknown_keys)}.",
                        f"Keys allowed: {', '.join(SHIFT_KEYS)}, programme.effects.")
    stated = str(raw.get("round", round_name or "midterm"))
    if round_name is not None and stated != round_name:
        raise SpecError(f"{path} is for round '{stated}' (round = \"{stated}\"), not '{round_name}'.",
                        f"Give the shifts file of round '{round_name}', or pass --round {stated}.")
    try:
        by_community = {
            str(c): {str(k): float(v) for k, v in table.items()}
            for c, table in raw.get("communities", {}).items()
        }
        unknown = sorted(set(by_community) - set(COMMUNITIES))
        if unknown:
            raise SpecError(
                f"{path}: unknown communit(ies) {', '.join(c + _closest(c, COMMUNITIES) for c in unknown)}.",
                f"Use the community ids {', '.join(COMMUNITIES)}.",
            )
        return Shifts(
            round_name=stated,
            default={str(k): float(v) for k, v in raw.get("default", {}).items()},
            by_community=by_community,
            effects={str(k): float(v) for k, v in raw.get("programme", {}).get("effects", {}).items()},
            years=int(raw.get("years_after_baseline", 2)),
            fieldwork=(raw["fieldwork"][0], raw["fieldwork"][1]) if "fieldwork" in raw else None,
            path=Path(path),
        )
    except (AttributeError, TypeError, ValueError) as error:
        raise SpecError(
            f"{path}: {error}.", "Changes are numbers of points, e.g. paid_job_or_iga = 5."
        ) from None


def check_shift_ids(shifts: Shifts, known: Iterable[str]) -> None:
    """SpecError listing every indicator id of the shifts file that is not among `known` (the ids the
    synthetic data calibrate), each with the closest known id: a misspelt id would change nothing."""
    known = sorted(known)
    named = [f"default.{name}" for name in shifts.default]
    named += [f"communities.{c}.{name}" for c, table in shifts.by_community.items() for name in table]
    named += [f"programme.effects.{name}" for name in shifts.effects]
    unknown = [where for where in named if where.rsplit(".", 1)[1] not in known]
    if unknown:
        listed = ", ".join(where + _closest(where.rsplit(".", 1)[1], known) for where in unknown)
        raise SpecError(
            f"{shifts.path}: {len(unknown)} indicator id(s) the synthetic data do not calibrate: {listed}.",
            "Name a fact-sheet indicator or a [[free]] indicator of synth_targets.toml; "
            "a change on any other id would be lost.",
        )
