"""Synthetic survey data for any study: drawn from the questionnaire alone, or by the study's own generator.

`draw_submissions` answers a questionnaire for a number of respondents as the form allows (choices,
relevance, constraints, required, calculations, design and identifying fields); a study that needs more
(published aggregates to reproduce) names its own generator package in `[synth] generator`, loaded by
`run_generator` under the contract of `retour.synth.plugin`. Either way `write_export` writes the round
the way KoboToolbox or ODK Central exports it, so it goes through the real ingest. Reading and writing
study folders is `retour.study.synthesise`.
"""

from __future__ import annotations

from retour.synth.export import LAYOUTS, export_files, write_export
from retour.synth.form import FormPlan, draw_submissions, draw_uuids
from retour.synth.plugin import Generated, SynthRequest, load_generator, run_generator

__all__ = [
    "LAYOUTS",
    "FormPlan",
    "Generated",
    "SynthRequest",
    "draw_submissions",
    "draw_uuids",
    "export_files",
    "load_generator",
    "run_generator",
    "write_export",
]
