"""The words of every ingest problem, in French and English: a message and a hint to fix it.

Each problem code has one template pair per language. Templates name their parts in braces; the parts
that vary by row (`{value}`, ...) are left in place by `render` and filled by `per_row` with polars
expressions. This module holds text only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from retour.errors import Severity

BLOCKING = Severity.BLOCKING
WARNING = Severity.WARNING
LANGUAGES = ("fr", "en")  # every problem is written in each of them

# code -> (severity, {language: (message, hint)})
MESSAGES: dict[str, tuple[Severity, Mapping[str, tuple[str, str]]]] = {
    "unknown_column": (WARNING, {
        "en": ("Column '{column}' matches no field of the questionnaire; its values are not stored.",
               "Check the export was made from this questionnaire, or delete the column."),
        "fr": ("La colonne « {column} » ne correspond à aucun champ du questionnaire ; ses valeurs ne sont "
               "pas enregistrées.",
               "Vérifiez que l'export vient de ce questionnaire, ou supprimez la colonne."),
    }),
    "duplicate_column": (WARNING, {
        "en": ("Column '{column}' is a second column for '{field}' (the first is '{first}'); it is ignored.",
               "Delete one of the two columns."),
        "fr": ("La colonne « {column} » est une deuxième colonne pour « {field} » (la première est "
               "« {first} ») ; elle est ignorée.", "Supprimez l'une des deux colonnes."),
    }),
    "ambiguous_column": (WARNING, {
        "en": ("Column '{column}' matches several questions by its label ({fields}); it is ignored.",
               "Export with XML names as headers (Kobo: 'XML values and headers')."),
        "fr": ("L'en-tête « {column} » correspond au libellé de plusieurs questions ({fields}) ; la colonne "
               "est ignorée.", "Exportez avec les noms XML en en-tête (Kobo : « Valeurs et en-têtes XML »)."),
    }),
    "missing_column": (WARNING, {
        "en": ("The export has no column for the required question '{column}'; it is left empty in every "
               "row.", "If this round's questionnaire dropped the question, nothing is to be done (the "
               "comparison of rounds will say so); otherwise export all questions again (no column "
               "selection)."),
        "fr": ("L'export n'a pas de colonne pour la question obligatoire « {column} » ; elle reste vide "
               "dans toutes les lignes.", "Si le questionnaire de ce passage a retiré la question, il n'y a "
               "rien à faire (la comparaison des passages le signalera) ; sinon exportez à nouveau toutes "
               "les questions (sans sélection de colonnes)."),
    }),
    "missing_optional_column": (WARNING, {
        "en": ("The export has no column for the question '{column}'; it is left empty.",
               "Export all questions if this one was asked."),
        "fr": ("L'export n'a pas de colonne pour la question « {column} » ; elle reste vide.",
               "Exportez toutes les questions si celle-ci a été posée."),
    }),
    "missing_design_column": (BLOCKING, {
        "en": ("The export has no column for the design field '{column}', which estimates need: every row "
               "is quarantined.",
               "Write the export's name for this field under [design] in retour.toml, or add '{column}' to "
               "the questionnaire and export again."),
        "fr": ("L'export n'a pas de colonne pour le champ du plan de sondage « {column} », nécessaire aux "
               "estimations : toutes les lignes sont mises en quarantaine.",
               "Écrivez sous [design] dans retour.toml le nom que l'export donne à ce champ, ou ajoutez "
               "« {column} » au questionnaire et exportez de nouveau."),
    }),
    # The same problem, worded when a column of the export looks like the missing field (`{closest}`).
    "missing_design_column_guess": (BLOCKING, {
        "en": ("The export has no column for the design field '{column}', which estimates need: every row "
               "is quarantined.",
               "If the export names it '{closest}', write '{closest}' in place of '{column}' under [design] "
               "in retour.toml."),
        "fr": ("L'export n'a pas de colonne pour le champ du plan de sondage « {column} », nécessaire aux "
               "estimations : toutes les lignes sont mises en quarantaine.",
               "Si l'export le nomme « {closest} », écrivez « {closest} » à la place de « {column} » sous "
               "[design] dans retour.toml."),
    }),
    "missing_uuid_column": (WARNING, {
        "en": ("The export has no _uuid (or instanceID / KEY) column: each row is identified by its content.",
               "Export with the metadata columns so that a corrected row replaces its quarantined copy."),
        "fr": ("L'export n'a pas de colonne _uuid (ni instanceID / KEY) : chaque ligne est identifiée "
               "par son contenu.",
               "Exportez avec les colonnes de métadonnées pour qu'une ligne corrigée remplace sa copie "
               "en quarantaine."),
    }),
    "rule_not_checked": (WARNING, {
        "en": ("The {rule} of '{column}' ({expression}) could not be checked: {reason}.",
               "Simplify the expression in the questionnaire, or check these answers by hand."),
        "fr": ("La règle ({rule}) de « {column} » ({expression}) n'a pas pu être vérifiée : {reason}.",
               "Simplifiez l'expression dans le questionnaire, ou vérifiez ces réponses à la main."),
    }),
    "not_integer": (BLOCKING, {
        "en": ("'{column}' must be a whole number; found '{value}'.", "Write digits only, e.g. 25."),
        "fr": ("« {column} » doit être un nombre entier ; valeur trouvée : « {value} ».",
               "Écrivez uniquement des chiffres, par exemple 25."),
    }),
    "not_decimal": (BLOCKING, {
        "en": ("'{column}' must be a number; found '{value}'.", "Write a number such as 1.5 or 1,5."),
        "fr": ("« {column} » doit être un nombre ; valeur trouvée : « {value} ».",
               "Écrivez un nombre comme 1.5 ou 1,5."),
    }),
    "not_date": (BLOCKING, {
        "en": ("'{column}' must be a date; found '{value}'.",
               "Write the date as YYYY-MM-DD, e.g. 2018-03-05."),
        "fr": ("« {column} » doit être une date ; valeur trouvée : « {value} ».",
               "Écrivez la date sous la forme AAAA-MM-JJ, par exemple 2018-03-05."),
    }),
    "not_geopoint": (BLOCKING, {
        "en": ("'{column}' must be a GPS point 'latitude longitude [altitude accuracy]'; found '{value}'.",
               "Latitude is between -90 and 90, longitude between -180 and 180, separated by a space."),
        "fr": ("« {column} » doit être un point GPS « latitude longitude [altitude précision] » ; valeur "
               "trouvée : « {value} ».", "La latitude est entre -90 et 90, la longitude entre -180 et 180, "
               "séparées par une espace."),
    }),
    "unknown_choice": (BLOCKING, {
        "en": ("'{value}' is not a choice of '{column}'.", "Allowed choices: {choices}."),
        "fr": ("« {value} » n'est pas un choix de « {column} ».", "Choix possibles : {choices}."),
    }),
    "bad_choice_flag": (BLOCKING, {
        "en": ("Column '{column}' must hold 1 or 0 (or True/False); found '{value}'.",
               "Write 1 when the choice was selected, 0 when not."),
        "fr": ("La colonne « {column} » doit contenir 1 ou 0 (ou Vrai/Faux) ; valeur trouvée : « {value} ».",
               "Écrivez 1 si le choix a été coché, 0 sinon."),
    }),
    "select_multiple_mismatch": (BLOCKING, {
        "en": ("'{column}' says '{value}', which disagrees with its one-column-per-choice columns.",
               "Correct either the answer column or the 0/1 choice columns so that they agree."),
        "fr": ("« {column} » indique « {value} », ce qui ne concorde pas avec ses colonnes d'un choix "
               "chacune.", "Corrigez la colonne de réponse ou les colonnes 0/1 pour qu'elles concordent."),
    }),
    "constraint_failed": (BLOCKING, {
        "en": ("'{value}' breaks the rule of '{column}' ({expression}){detail}.",
               "Check the answer with the enumerator and correct it."),
        "fr": ("« {value} » ne respecte pas la règle de « {column} » ({expression}){detail}.",
               "Vérifiez la réponse avec l'enquêteur et corrigez-la."),
    }),
    "answer_not_relevant": (BLOCKING, {
        "en": ("'{column}' has an answer ('{value}') but should have been skipped ({expression}).",
               "Delete the answer, or correct the earlier answer that decides whether it is asked."),
        "fr": ("« {column} » a une réponse (« {value} ») alors que la question aurait dû être sautée "
               "({expression}).", "Effacez la réponse, ou corrigez la réponse antérieure qui décide si "
               "elle est posée."),
    }),
    "required_missing": (BLOCKING, {
        "en": ("The required question '{column}' has no answer.", "Complete the answer with the enumerator."),
        "fr": ("La question obligatoire « {column} » n'a pas de réponse.",
               "Complétez la réponse avec l'enquêteur."),
    }),
    "missing_design_value": (BLOCKING, {
        "en": ("The design field '{column}' is empty; the respondent cannot be weighted or placed.",
               "Fill in the {column} value from the sampling records."),
        "fr": ("Le champ du plan de sondage « {column} » est vide ; la personne ne peut être ni pondérée ni "
               "située.", "Renseignez la valeur de {column} d'après les registres d'échantillonnage."),
    }),
    "duplicate_uuid": (BLOCKING, {
        "en": ("Submission id '{value}' appears on {count} rows of this file.",
               "Keep one row per submission: delete the copies or give each its own id."),
        "fr": ("L'identifiant de soumission « {value} » apparaît sur {count} lignes de ce fichier.",
               "Gardez une ligne par soumission : supprimez les copies ou donnez à chacune son identifiant."),
    }),
    "uuid_in_other_round": (BLOCKING, {
        "en": ("Submission id '{value}' is already stored in round {stored_round}.",
               "Ingest this file into the round it belongs to; a new visit of the same person needs its "
               "own submission id."),
        "fr": ("L'identifiant de soumission « {value} » est déjà enregistré dans le passage {stored_round}.",
               "Chargez ce fichier dans le passage auquel il appartient ; une nouvelle visite de la même "
               "personne a son propre identifiant de soumission."),
    }),
    "uuid_conflict": (BLOCKING, {
        "en": ("Submission id '{value}' is already stored (round {stored_round}) with different answers.",
               "If this is a correction of a stored submission, give it a new id; otherwise check the "
               "export."),
        "fr": ("L'identifiant de soumission « {value} » est déjà enregistré (passage {stored_round}) avec "
               "d'autres réponses.", "S'il s'agit d'une correction, donnez-lui un nouvel identifiant ; sinon "
               "vérifiez l'export."),
    }),
    "missing_uuid": (WARNING, {
        "en": ("This row has no submission id; it is identified by its content.",
               "Fill in _uuid (Kobo) or instanceID (ODK) from the server's copy."),
        "fr": ("Cette ligne n'a pas d'identifiant de soumission ; elle est identifiée par son contenu.",
               "Renseignez _uuid (Kobo) ou instanceID (ODK) d'après la copie du serveur."),
    }),
    "bad_submission_time": (WARNING, {
        "en": ("The submission time '{value}' is not a date and time; it is left empty.",
               "Write it as YYYY-MM-DDTHH:MM:SS."),
        "fr": ("L'heure de soumission « {value} » n'est pas une date et heure ; elle reste vide.",
               "Écrivez-la sous la forme AAAA-MM-JJTHH:MM:SS."),
    }),
}


# What a problem shows in place of an identifying value that cannot be shown even protected.
HIDDEN_VALUE = {"en": "(not shown: identifying field)", "fr": "(non affichée : champ identifiant)"}


def hidden_value(language: str) -> str:
    return HIDDEN_VALUE.get(language, HIDDEN_VALUE["en"])


def severity(code: str) -> Severity:
    return MESSAGES[code][0]


def render(code: str, language: str, **parts: object) -> tuple[str, str]:
    """Message and hint of `code` in `language` (English if missing); slots not given stay in braces."""
    texts = MESSAGES[code][1]
    message, hint = texts.get(language) or texts["en"]
    fill = {key: "" if value is None else str(value) for key, value in parts.items()}
    return message.format_map(_Keep(fill)), hint.format_map(_Keep(fill))


def render_all(code: str, **parts: object) -> dict[str, tuple[str, str]]:
    """`render` in every language of LANGUAGES."""
    return {language: render(code, language, **parts) for language in LANGUAGES}


def translated_columns() -> tuple[str, ...]:
    """The problem-frame columns holding message and hint in each language: message_fr, hint_fr, ..."""
    return tuple(f"{kind}_{language}" for language in LANGUAGES for kind in ("message", "hint"))


def per_row_all(code: str, parts: Mapping[str, pl.Expr], **fixed: object) -> list[pl.Expr]:
    """The message and hint of `code` in every language, filled row by row: `message_fr`, `hint_fr`, ..."""
    columns = []
    for language, (message, hint) in render_all(code, **fixed).items():
        columns += [per_row(message, parts).alias(f"message_{language}"),
                    per_row(hint, parts).alias(f"hint_{language}")]
    return columns


def per_row(template: str, parts: Mapping[str, pl.Expr]) -> pl.Expr:
    """A text expression: `template` with each `{slot}` named in `parts` filled row by row."""
    if not parts:
        return pl.lit(template)
    pattern = re.compile("{(" + "|".join(re.escape(name) for name in parts) + ")}")
    pieces: list[pl.Expr] = []
    position = 0
    for match in pattern.finditer(template):
        value = parts[match.group(1)].cast(pl.Utf8).fill_null("")
        pieces += [pl.lit(template[position:match.start()]), value]
        position = match.end()
    pieces.append(pl.lit(template[position:]))
    return pl.concat_str(pieces) if len(pieces) > 1 else pl.lit(template)


class _Keep(dict):
    """format_map helper: unknown keys stay as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
