"""What every report page carries: the study's name, the round, and the stamp (version, hashes, date).

The stamp identifies exactly what an output was made from: the retour version, the hash of the
study's configuration files, the hash of the data, the round and the date of the report; for a
synthetic study it adds the study's note on its synthetic data (`study.synthetic_note`).
"""

from __future__ import annotations

from typing import Any

from retour.config import pick_text
from retour.report.data import ReportData
from retour.report.i18n import Formatter


def round_label(data: ReportData, fmt: Formatter, name: str | None = None) -> str:
    """A round's name in the reader's language (`label_fr` / `label_en` of retour.toml), else its id.

    `name` is the round's id (default: the round reported on)."""
    name = name or data.round_name
    for round_settings in data.settings.rounds:
        if round_settings.name == name:
            labels = {"fr": round_settings.label_fr, "en": round_settings.label_en}
            return labels.get(fmt.language) or round_settings.name
    return name


def synthetic_note(data: ReportData, fmt: Formatter) -> str:
    """The synthetic-data notice in the reader's language (`study.synthetic_note`, else "Synthetic
    data"), or '' for real data."""
    if not data.synthetic:
        return ""
    note = pick_text(dict(data.settings.study.synthetic_note), fmt.language) or fmt._("Synthetic data")
    return note[:1].upper() + note[1:]


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
