"""Study settings from `retour.toml`, and the paths of a study folder.

Every setting is declared once here with its default and help text; `settings_table()` lists them for
the docs and `retour init`. This module reads files and validates them; it computes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retour.errors import ConfigError
from retour.textfiles import read_toml_file

SETTINGS_FILE = "retour.toml"
STORE_FILE = "retour.duckdb"
OUTPUT_DIR = "out"
CONFIG_FILES = (
    "retour.toml",
    "instrument.xlsx",
    "indicators.toml",
    "index.toml",
    "needs.toml",
    "communities.yaml",
    "actors.yaml",
    "recommendations.yaml",
    "value_chains.yaml",
    "score_weights.toml",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Texts = dict[str, str]
"""A text the study writes in each of its languages: `{fr = "...", en = "..."}` (language code -> text)."""


def pick_text(texts: Texts, language: str, fallback: str = "") -> str:
    """`texts` in `language`; else the first language given; else `fallback`."""
    if texts.get(language):
        return texts[language]
    return next((text for text in texts.values() if text), fallback)


class StudySettings(_Section):
    id: str = Field(description="Short identifier of the study, used in file names.", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(description="Full name of the study, shown on every output (in a language without "
                      "its own `name_<language>`).")
    name_fr: str = Field(default="", description="Full name of the study in French (French outputs).")
    name_en: str = Field(default="", description="Full name of the study in English (English outputs).")
    country: str = Field(default="", pattern=r"^([A-Z]{2})?$",
                         description="ISO 3166 alpha-2 code of the country (upper case, e.g. ML, SN): the "
                         "locator maps draw its outline and its neighbours'. Empty: no country outline.")
    boundaries: str = Field(default="",
                            description="GeoJSON file in the study folder (e.g. a national admin-1 layer) "
                            "drawn on the locator maps instead of the country outlines; its polygons are "
                            "labelled by their `name_<language>` property, else `name`.")
    languages: tuple[str, ...] = Field(default=("fr", "en"), description="Languages of labels and outputs.")
    synthetic: bool = Field(
        default=False,
        description="True when the data are synthetic; every output then says so.",
    )
    synthetic_note: Texts = Field(
        default_factory=dict,
        description="Words of the synthetic-data notice per language (e.g. `{en = \"synthetic data "
        "calibrated to published aggregates\"}`); empty: \"synthetic data\" in the reader's language.")

    def title(self, language: str) -> str:
        """The study's name in `language` (`name_fr`, `name_en`), else `name`."""
        return getattr(self, f"name_{language}", "") or self.name


class PopulationSettings(_Section):
    description: Texts = Field(
        default_factory=dict,
        description="Who was surveyed, per language, as reports print it after a number "
        "(e.g. `{en = \"young people aged 15 to 34\"}`). Empty: \"respondents\".")
    age_min: int | None = Field(default=None, ge=0, le=120, description="Youngest age surveyed (years).")
    age_max: int | None = Field(default=None, ge=0, le=120, description="Oldest age surveyed (years).")
    returnee_rule: str = Field(
        default="",
        description="XLSForm condition true for a return migrant (e.g. `${lived_abroad} = 'yes'`); "
        "individual scores of survey rounds are computed for these respondents.")
    returnee_definition: Texts = Field(
        default_factory=dict,
        description="The returnee rule in words, per language, as reports print it "
        "(e.g. `{en = \"lived abroad for more than six months\"}`).")

    @model_validator(mode="after")
    def _ages_ordered(self) -> PopulationSettings:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is above age_max ({self.age_max})")
        return self


class AdminLevel(_Section):
    id: str = Field(description="Field name of the level in communities.yaml (e.g. region, departement).",
                    pattern=r"^[a-z][a-z0-9_]*$")
    label: Texts = Field(default_factory=dict, description="Name of the level per language.")


class PlacesSettings(_Section):
    unit: Texts = Field(default_factory=dict,
                        description="What one community of the study is, per language (e.g. `{fr = \"commune\", "
                        "en = \"municipality\"}`). Empty: \"community\".")
    admin_levels: tuple[AdminLevel, ...] = Field(
        default=(), description="Administrative levels a community lies in, smallest first; each "
        "community in communities.yaml may give a value for each (`[[places.admin_levels]] id = "
        "\"region\"`, `label = {...}`).")


class RoundSettings(_Section):
    name: str = Field(description="Round name used on the command line (baseline, midterm, final, ...).",
                      pattern=r"^[a-z0-9][a-z0-9_-]*$")
    date: dt.date | None = Field(default=None, description="First day of fieldwork for the round.")
    label_fr: str = Field(default="", description="Round name in French.")
    label_en: str = Field(default="", description="Round name in English.")
    kind: Literal["survey", "monitoring"] = Field(
        default="survey",
        description="survey: the full questionnaire, whose return migrants (`population.returnee_rule`) "
        "get an individual score; monitoring: case managers' follow-up visits with the short form "
        "(`retour form --monitoring`), where everyone is scored.")


class DesignSettings(_Section):
    community: str = Field(default="community", description="Questionnaire field holding the community id.")
    stratum: str = Field(default="stratum", description="Field holding the stratum (empty: no strata).")
    psu: str = Field(default="cluster", description="Field holding the primary sampling unit (cluster).")
    weight: str = Field(default="weight", description="Field holding the sampling weight.")
    fpc: str = Field(default="", description="Field holding the finite population correction (stratum size).")
    case_id: str = Field(default="case_id", description="Field holding the respondent's case id (hashed).")
    beneficiary: str = Field(default="beneficiary",
                             description="yes/no field marking programme beneficiaries (yes) and comparison "
                             "respondents (no), for `retour compare --did`.")


class EstimationSettings(_Section):
    min_cell: int = Field(default=10, ge=1,
                          description="Estimates resting on fewer respondents are flagged and suppressed in outputs.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of intervals.")
    ci_method: Literal["wilson", "logit"] = Field(
        default="logit", description="Confidence interval for proportions: wilson or logit.")
    lonely_psu: Literal["adjust", "certainty", "remove"] = Field(
        default="adjust",
        description="Strata with one PSU: adjust (centre on the grand mean), certainty (no variance), "
        "remove (drop from the variance).",
    )


class IndexSettings(_Section):
    reference_round: str = Field(default="baseline", description="Round whose min and max become the goalposts.")
    bootstrap_replicates: int = Field(default=500, ge=10, description="Survey bootstrap replicates.")
    interval_level: float = Field(default=0.90, gt=0, lt=1, description="Level of score and rank intervals.")
    seed: int = Field(default=20180305, description="Seed of the survey bootstrap.")


class IngestSettings(_Section):
    """Limits a survey export must stay within, checked before it is parsed (issue 22): a small hostile
    file (100,000 columns, a zip bomb, one huge cell) is refused in one line instead of taking the
    machine's memory. The defaults accept a national survey of 1,000,000 rows x 300 columns."""

    max_columns: int = Field(default=5000, ge=1,
                             description="Most columns an export may have, counted on its header line "
                             "before parsing (Kobo exports of a long questionnaire, with one column per "
                             "choice of select_multiple questions, stay well under 5,000).")
    max_cells: int = Field(default=400_000_000, ge=1,
                           description="Most cells (rows x columns) an export may have, counted before "
                           "parsing from its lines (CSV) or its sheet's cell references (XLSX); 400 million "
                           "takes 1,000,000 rows x 300 columns with room to spare.")
    max_cell_bytes: int = Field(default=100_000, ge=1,
                                description="Longest text a cell may hold, in bytes of UTF-8 (Excel itself "
                                "stops at 32,767 characters; a survey answer never comes close).")
    max_xlsx_uncompressed_mb: int = Field(default=1000, ge=1,
                                          description="Most MB an XLSX workbook may hold once unzipped "
                                          "(sum of its members' sizes, read from the zip directory).")
    max_xlsx_compression_ratio: int = Field(default=100, ge=1,
                                            description="Largest ratio of unzipped to zipped size of a "
                                            "workbook member over 1 MB: exports compress about 10 to 30 "
                                            "times, a zip bomb a thousand times.")


class PrivacySettings(_Section):
    secret_env: str = Field(default="RETOUR_SECRET",
                            description="Environment variable holding the secret used to hash identifiers; "
                            "when unset, a secret is generated once and kept in the study folder.")
    gps_precision_decimals: int = Field(default=2, ge=0, le=4,
                                        description="Decimals kept in GPS coordinates (2 = about 1 km).")


class SynthSettings(_Section):
    generator: str = Field(default="",
                           description="Folder in the study holding a Python generator package with "
                           "`synthesise(request) -> Generated` (see retour.synth.plugin), used by `retour "
                           "synth`; empty: synthetic data from the questionnaire alone.")


class ScoringSettings(_Section):
    weights_file: str = Field(default="score_weights.toml", description="Weights of the individual score.")
    threshold: float = Field(default=0.5, ge=0, le=1, description="A dimension below this is flagged.")
    min_answered_share: float = Field(default=0.6, gt=0, le=1,
                                      description="Share of a dimension's weight that its answered "
                                      "sub-indicators must carry for the dimension to be scored (with "
                                      "equal weights: the share of sub-indicators answered).")
    interview_date_field: str = Field(default="",
                                      description="Questionnaire field holding the interview date (shown "
                                      "with scores; empty: the submission time).")
    consent_field: str = Field(default="",
                               description="yes/no field recording consent (kept on the monitoring "
                               "form); rows whose answer is not yes are not scored (empty: no consent "
                               "check and no consent question).")


class ReportSettings(_Section):
    organisation: str | Texts = Field(default="",
                                      description="Organisation named on the cover of reports: one name, "
                                      "or one per language (`{fr = \"OIM\", en = \"IOM\"}`).")

    def organisation_in(self, language: str) -> str:
        """The organisation's name in `language`."""
        if isinstance(self.organisation, str):
            return self.organisation
        return pick_text(self.organisation, language)


class StoreSettings(_Section):
    """How retour keeps the study store and the files it writes (issue 22)."""

    backups_kept: int = Field(default=3, ge=0,
                              description="Copies of the store kept in backups/ (taken before each ingest "
                              "and each migration, and by `retour backup`); the oldest go first; 0 keeps "
                              "none.")
    private_files: bool = Field(default=True,
                                description="Create the store, its backups, secrets and everything under "
                                "out/ readable by their owner only (files 0600, folders 0700); false keeps "
                                "the system's default modes, e.g. to share out/ with a group.")


class DashboardSettings(_Section):
    session_minutes: int = Field(default=480, ge=5, le=10080,
                                 description="Minutes a dashboard login stays valid without signing in again "
                                 "(however active the user is).")
    session_idle_minutes: int = Field(default=60, ge=5, le=10080,
                                      description="Minutes without any request after which a dashboard "
                                      "session ends (checked to the minute).")
    secure_cookies: bool = Field(default=False,
                                 description="Mark the dashboard's cookies Secure, so browsers send them "
                                 "over HTTPS only; set it when a reverse proxy serves the dashboard over "
                                 "HTTPS (or use `retour serve --secure-cookies`).")
    login_attempts_per_minute: int = Field(default=5, ge=1,
                                           description="Failed logins allowed per client address in one "
                                           "minute before the dashboard refuses further attempts from it.")
    login_attempts_per_account: int = Field(default=10, ge=1,
                                            description="Failed logins allowed per user name in one minute, "
                                            "from all addresses together, before that account refuses "
                                            "further attempts for the rest of the minute.")
    password_checks: int = Field(default=2, ge=1, le=64,
                                 description="Password checks the dashboard runs at once (each takes 64 MiB "
                                 "for Argon2); a login arriving while all are busy gets 429 at once.")
    trusted_proxies: tuple[str, ...] = Field(default=(),
                                             description="Addresses or networks (`10.0.0.0/8`) of the "
                                             "reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
                                             "headers are believed; empty: none is, and the client address "
                                             "is the connection's.")
    upload_max_mb: float = Field(default=20.0, gt=0,
                                 description="Largest survey export (in MB) an analyst may upload.")
    secret_env: str = Field(default="RETOUR_DASHBOARD_SECRET",
                            description="Environment variable holding the key the dashboard's form tokens "
                            "(CSRF) are made with; when unset, a key is generated once and kept in the study "
                            "folder.")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy)  # strict, as uvicorn reads it: 10.0.0.0/8, not 10.0.0.1/8
            except ValueError:
                raise ValueError(f"'{proxy}' is not an IP address or network "
                                 f"(write e.g. \"127.0.0.1\" or \"10.0.0.0/8\")") from None
        return proxies


class Settings(_Section):
    study: StudySettings
    rounds: tuple[RoundSettings, ...] = Field(default=(RoundSettings(name="baseline"),),
                                              description="Rounds of the survey, in order.")
    population: PopulationSettings = PopulationSettings()
    places: PlacesSettings = PlacesSettings()
    design: DesignSettings = DesignSettings()
    estimation: EstimationSettings = EstimationSettings()
    index: IndexSettings = IndexSettings()
    privacy: PrivacySettings = PrivacySettings()
    ingest: IngestSettings = IngestSettings()
    synth: SynthSettings = SynthSettings()
    scoring: ScoringSettings = ScoringSettings()
    report: ReportSettings = ReportSettings()
    dashboard: DashboardSettings = DashboardSettings()
    store: StoreSettings = StoreSettings()

    @model_validator(mode="after")
    def _rounds_unique(self) -> Settings:
        names = [r.name for r in self.rounds]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"round names must be unique; repeated: {', '.join(duplicated)}")
        for name, texts in self._text_settings():
            missing = [language for language in self.study.languages if texts and not texts.get(language)]
            if missing:
                raise ValueError(f"{name} has no text in {', '.join(missing)} (the study's languages are "
                                 f"{', '.join(self.study.languages)})")
        if self.index.reference_round not in names:
            raise ValueError(f"index.reference_round '{self.index.reference_round}' is not a round "
                             f"(rounds: {', '.join(names)})")
        return self

    def _text_settings(self) -> list[tuple[str, Texts]]:
        found = [("study.synthetic_note", self.study.synthetic_note),
                 ("population.description", self.population.description),
                 ("population.returnee_definition", self.population.returnee_definition),
                 ("places.unit", self.places.unit)]
        found += [(f"places.admin_levels.{level.id}.label", level.label) for level in self.places.admin_levels]
        if not isinstance(self.report.organisation, str):
            found.append(("report.organisation", self.report.organisation))
        return found

    def round(self, name: str) -> RoundSettings:
        """The round called `name`, or a ConfigError listing the known rounds."""
        for round_settings in self.rounds:
            if round_settings.name == name:
                return round_settings
        known = ", ".join(r.name for r in self.rounds)
        raise ConfigError(f"Unknown round '{name}'.", f"Rounds in retour.toml: {known}.")


@dataclass(frozen=True)
class Project:
    """A study folder and its validated settings."""

    root: Path
    settings: Settings

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    @property
    def output_dir(self) -> Path:
        return self.root / OUTPUT_DIR

    def path(self, name: str) -> Path:
        """Path of a file in the study folder."""
        return self.root / name

    def config_hash(self, names: tuple[str, ...] = CONFIG_FILES) -> str:
        """SHA-256 (first 12 hex digits) over the study's config files that exist, in a fixed order
        (`names`: only these of CONFIG_FILES)."""
        digest = hashlib.sha256()
        for name in (name for name in CONFIG_FILES if name in names):
            file = self.root / name
            if file.exists():
                digest.update(name.encode())
                digest.update(file.read_bytes())
        return digest.hexdigest()[:12]


def load_settings(path: Path) -> Settings:
    """Read and validate a `retour.toml` file."""
    raw = read_toml_file(path, "Settings file", ConfigError, "Create a study with: retour init DIR")
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: setting '{where}': {first['msg']}.",
                          "See `retour init --help` and docs/settings.md for every setting.") from None


def load_project(root: Path) -> Project:
    """Open a study folder: check it exists and load its settings."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"Study folder {root} does not exist.", "Create one with: retour init DIR")
    settings = load_settings(root / SETTINGS_FILE)
    from retour.private_files import keep_files_private

    keep_files_private(settings.store.private_files)  # what this study's commands write stays private
    return Project(root=root.resolve(), settings=settings)


def settings_table() -> list[dict[str, str]]:
    """Every setting with its section, name, default and help text (for docs and tests)."""
    rows: list[dict[str, str]] = []
    for section_name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, sub in annotation.model_fields.items():
                default = "" if sub.is_required() else repr(sub.default)
                rows.append({"section": section_name, "setting": name, "default": default,
                             "help": sub.description or ""})
        else:
            rows.append({"section": section_name, "setting": "", "default": "",
                         "help": field.description or ""})
    return rows
