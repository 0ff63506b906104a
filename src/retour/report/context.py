"""What every report page carries: the study's name, the round, and the stamp (version, hashes, date).

The stamp identifies exactly what an output was made from: the retour version, the hash of the
study's configuration files, the hash of the data, the round and the date of the report; for a
synthetic study it adds the note that the data are synthetic, calibrated to published aggregates.
"""

from __future__ import annotations

from typing import Any

from retour.report.data import ReportData
from retour.report.i18n import Formatter


def round_label(data: ReportData, fmt: Formatter, name: str | None = None) -> str:
    """A round's name in the reader's language (`label_fr` / `label_en` of retour.toml), else its id.

    `name` is the round's id (default: the round reported on)."""
    name = name or data.round_name
    for round_settings in data.settings.rounds:
        if round_settings.name == name:
            label = round_settings.label_fr if fmt.language == "fr" else round_settings.label_en
            return label or round_settings.name
    return name


def synthetic_note(data: ReportData, fmt: Formatter) -> str:
    """The synthetic-data note in the language, or '' for real data."""
    if not data.synthetic:
        return ""
    stored = data.stamp.get(f"synthetic_note_{fmt.language}")
    return stored or fmt._("Synthetic data calibrated to published aggregates")


def stamp_text(data: ReportData, fmt: Formatter) -> str:
    """One line: retour version, config hash, data hash, round (its label in the language) and date."""
    return fmt._(
        "retour {version} · config {config} · data {data} · round {round} · {date}",
        version=data.stamp.get("retour_version", ""),
        config=data.stamp.get("config_hash", ""),
        data=data.stamp.get("data_hash", ""),
        round=round_label(data, fmt, data.stamp.get("round") or data.round_name),
        date=fmt.date(data.generated_on),
    )


def page_context(data: ReportData, fmt: Formatter) -> dict[str, Any]:
    """Header and footer of every page."""
    round_settings = next((r for r in data.settings.rounds if r.name == data.round_name), None)
    return {
        "study_name": data.settings.study.title(fmt.language),
        "organisation": data.settings.report.organisation_in(fmt.language),
        "round_label": round_label(data, fmt),
        "round_date": fmt.date(round_settings.date) if round_settings and round_settings.date else "",
        "stamp": stamp_text(data, fmt),
        "synthetic_note": synthetic_note(data, fmt),
        "min_cell": data.min_cell,
        "confidence": fmt.percent(data.settings.estimation.confidence),
    }
