"""The dashboard's words in French and English, and numbers and dates written the local way.

A small catalogue: each key has one French and one English text, with `{name}` fields filled by
`translate`. Numbers and dates go through Babel so that French reads 0,77 and 12 %. The report module
may share it; it holds no logic beyond lookup and formatting.
"""

from __future__ import annotations

import datetime as dt
import math

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
_LOCALES = {"fr": Locale.parse("fr_FR"), "en": Locale.parse("en_GB")}

MESSAGES: dict[str, tuple[str, str]] = {
    # navigation and frame
    "app.tagline": ("Tableau de bord de l'étude", "Study dashboard"),
    "nav.main": ("Navigation principale", "Main navigation"),
    "nav.overview": ("Vue d'ensemble", "Overview"),
    "nav.ranking": ("Classement", "Ranking"),
    "nav.communities": ("Communautés", "Communities"),
    "nav.needs": ("Besoins", "Needs"),
    "nav.actors": ("Acteurs", "Actors"),
    "nav.rounds": ("Vagues", "Rounds"),
    "nav.uploads": ("Imports", "Uploads"),
    "nav.downloads": ("Téléchargements", "Downloads"),
    "nav.users": ("Utilisateurs", "Users"),
    "nav.logout": ("Se déconnecter", "Sign out"),
    "nav.switch_language": ("English", "Français"),
    "nav.switch_language_title": ("Afficher le tableau de bord en anglais", "Show the dashboard in French"),
    "nav.signed_in_as": ("Connecté : {name} ({role})", "Signed in: {name} ({role})"),
    "role.viewer": ("lecteur", "viewer"),
    "role.analyst": ("analyste", "analyst"),
    "role.admin": ("administrateur", "administrator"),
    "footer.stamp": (
        "retour {version} · configuration {config} · données {data} · calculé le {at}",
        "retour {version} · configuration {config} · data {data} · computed {at}",
    ),
    "footer.no_stamp": (
        "Aucun calcul enregistré pour cette vague.",
        "No computation recorded for this round.",
    ),
    "common.round": ("Vague", "Round"),
    "common.community": ("Communauté", "Community"),
    "common.all_communities": ("Toutes les communautés", "All communities"),
    "common.all": ("Toutes", "All"),
    "common.show": ("Afficher", "Show"),
    "common.save": ("Enregistrer", "Save"),
    "common.cancel": ("Annuler", "Cancel"),
    "common.edit": ("Modifier", "Edit"),
    "common.yes": ("oui", "yes"),
    "common.no": ("non", "no"),
    "common.not_available": ("n.d.", "n/a"),
    "common.suppressed": ("moins de {min} rép.", "under {min} resp."),
    "common.suppressed_note": (
        "Les cellules reposant sur moins de {min} répondants ne sont pas affichées.",
        "Cells resting on fewer than {min} respondents are not shown.",
    ),
    "common.refused": ("Modification refusée : {reason}", "Change refused: {reason}"),
    "common.run_hint": ("Lancez `{command}` pour la produire.", "Run `{command}` to produce it."),
    # login
    "login.title": ("Connexion", "Sign in"),
    "login.user": ("Nom d'utilisateur", "User name"),
    "login.password": ("Mot de passe", "Password"),
    "login.submit": ("Se connecter", "Sign in"),
    "login.failed": ("Nom d'utilisateur ou mot de passe incorrect.", "Wrong user name or password."),
    "login.too_many": (
        "Trop de tentatives de connexion. Réessayez dans {seconds} secondes.",
        "Too many sign-in attempts. Try again in {seconds} seconds.",
    ),
    "login.no_users": (
        "Aucun compte n'existe encore. Créez-en un : retour users DOSSIER add NOM --role admin",
        "No account exists yet. Create one: retour users DIR add NAME --role admin",
    ),
    # errors
    "error.title": ("Erreur {status}", "Error {status}"),
    "error.back": ("Retour à la vue d'ensemble", "Back to the overview"),
    "error.forbidden.title": ("Action non autorisée", "Action not allowed"),
    "error.forbidden.body": (
        "Votre rôle ({role}) ne permet pas cette action. Elle demande le rôle {needed} ; "
        "adressez-vous à un administrateur.",
        "Your role ({role}) does not allow this action. It needs the {needed} role; ask an administrator.",
    ),
    "error.csrf.title": ("Formulaire refusé", "Form refused"),
    "error.csrf.body": (
        "Ce formulaire a expiré ou ne provient pas de ce tableau de bord. Rechargez la page, "
        "puis recommencez.",
        "This form has expired or did not come from this dashboard. Reload the page, then try again.",
    ),
    "error.not_found.title": ("Page introuvable", "Page not found"),
    "error.not_found.body": (
        "Cette adresse ne correspond à aucune page : {what}.",
        "This address matches no page: {what}.",
    ),
    "error.busy.title": ("Base de l'étude occupée", "Study store busy"),
    "error.busy.body": (
        "Une commande retour écrit en ce moment dans la base de l'étude. Réessayez dans quelques "
        "instants, quand elle aura fini.",
        "A retour command is writing to the study store right now. Try again in a few "
        "moments, once it has finished.",
    ),
    "error.store.title": ("Base de l'étude indisponible", "Study store unavailable"),
    "error.too_large.title": ("Fichier trop volumineux", "File too large"),
    "error.too_large.body": (
        "Le fichier dépasse la limite de {limit} Mo fixée dans retour.toml (dashboard.upload_max_mb).",
        "The file is over the {limit} MB limit set in retour.toml (dashboard.upload_max_mb).",
    ),
    "error.internal.title": ("Erreur interne", "Internal error"),
    "error.internal.body": (
        "Cette page n'a pas pu être produite. L'erreur est consignée dans le journal du "
        "serveur ; signalez-la avec l'adresse de la page.",
        "This page could not be produced. The error is in the server log; report it with the page's address.",
    ),
    "error.bad_request.title": ("Demande invalide", "Invalid request"),
    # overview
    "overview.title": ("Vue d'ensemble de l'étude", "Study overview"),
    "overview.rounds": ("Vagues d'enquête", "Survey rounds"),
    "overview.fieldwork": ("Début du terrain", "Fieldwork start"),
    "overview.status": ("État", "Status"),
    "overview.ready": ("Résultats disponibles", "Results available"),
    "overview.pending": ("Pas encore de résultats", "No results yet"),
    "overview.sample": ("Échantillon", "Sample"),
    "overview.respondents": ("Répondants", "Respondents"),
    "overview.sample_note": (
        "Nombre de répondants ayant répondu à l'indicateur le plus renseigné.",
        "Respondents who answered the most widely answered indicator.",
    ),
    "overview.sample_counted": (
        "Soumissions acceptées dans la base pour cette vague.",
        "Submissions accepted into the store for this round.",
    ),
    "overview.total": ("Total", "Total"),
    "overview.stages": ("Étapes de calcul", "Computation stages"),
    "overview.stage": ("Étape", "Stage"),
    "overview.ran_at": ("Exécutée le", "Ran on"),
    "overview.version": ("Version", "Version"),
    "overview.config_hash": ("Empreinte de la configuration", "Configuration hash"),
    "overview.data_hash": ("Empreinte des données", "Data hash"),
    "overview.no_runs": (
        "Aucune étape n'a encore été exécutée pour cette vague.",
        "No stage has run for this round yet.",
    ),
    "overview.headline": ("Score composite par communauté", "Composite score by community"),
    # ranking
    "ranking.title": ("Classement des communautés (Tableau 1)", "Community ranking (Table 1)"),
    "ranking.intro": (
        "Scores de 0 à 1 : 1 correspond à la meilleure situation observée à la vague de référence. "
        "Entre crochets, l'intervalle à {level} % du score et celui du rang.",
        "Scores from 0 to 1: 1 is the best situation observed in the reference round. "
        "In brackets, the {level}% interval of the score and of the rank.",
    ),
    "ranking.rank": ("Rang", "Rank"),
    "ranking.score": ("Score", "Score"),
    "ranking.score_interval": ("Intervalle du score", "Score interval"),
    "ranking.rank_interval": ("Rangs plausibles", "Plausible ranks"),
    "ranking.sort": ("Trier par ce pilier", "Sort by this pillar"),
    "ranking.sorted_by": ("Trié par : {pillar}", "Sorted by: {pillar}"),
    "ranking.empty": (
        "L'indice n'a pas encore été calculé pour cette vague.",
        "The index has not been computed for this round yet.",
    ),
    "pillar.economic": ("Économique", "Economic"),
    "pillar.social": ("Sociale", "Social"),
    "pillar.psychosocial": ("Psychosociale", "Psychosocial"),
    "pillar.composite": ("Composite", "Composite"),
    # community page
    "community.choose": ("Choisir une communauté", "Choose a community"),
    "community.indicators": ("Profil de la communauté", "Community profile"),
    "community.indicator": ("Indicateur", "Indicator"),
    "community.value": ("Communauté", "Community"),
    "community.sample_mean": ("Moyenne de l'échantillon", "Sample mean"),
    "community.interval": ("IC {level} %", "{level}% CI"),
    "community.services": ("Satisfaction à l'égard des services", "Satisfaction with services"),
    "community.gap": ("Écart (points)", "Gap (points)"),
    "community.scores": ("Scores de réintégration", "Reintegration scores"),
    "community.needs": ("Enjeux pour la communauté", "Issues for the community"),
    "community.groups": ("Par groupe", "By group"),
    "community.map": ("Localisation", "Location"),
    "community.empty": (
        "Pas d'estimations pour cette communauté dans cette vague.",
        "No estimates for this community in this round.",
    ),
    "community.unknown": ("la communauté « {id} »", "community '{id}'"),
    "community.factsheet": ("Fiche communautaire", "Community fact sheet"),
    "community.details": ("Détail des estimations", "Estimates in detail"),
    "community.no_factsheet": ("Fiche indisponible", "Fact sheet unavailable"),
    "community.pdf": ("Fiche en PDF", "Fact sheet as PDF"),
    "community.chart_title": (
        "{label} : communauté et moyenne de l'échantillon",
        "{label}: community and sample mean",
    ),
    "block.profil_socio_economique": ("Profil socio-économique", "Socio-economic profile"),
    "block.profil_migratoire": ("Profil migratoire", "Migration profile"),
    "block.reintegration_durable": ("Réintégration durable", "Lasting reintegration"),
    "block.other": ("Autres indicateurs", "Other indicators"),
    "groups.adjusted": ("ajusté", "adjusted"),
    "group.all": ("Ensemble", "Everyone"),
    "group.returnee": ("Migrants de retour", "Returnees"),
    "group.non_migrant": ("Non-migrants", "Non-migrants"),
    "group.women": ("Femmes", "Women"),
    "group.men": ("Hommes", "Men"),
    "group.15_24": ("15-24 ans", "Aged 15-24"),
    "group.25_34": ("25-34 ans", "Aged 25-34"),
    "group.urban": ("Urbain", "Urban"),
    "group.rural": ("Rural", "Rural"),
    # needs
    "needs.title": ("Matrice des besoins (Tableau 2)", "Needs matrix (Table 2)"),
    "needs.intro": (
        "Niveau de chaque enjeu par communauté, calculé par les règles de l'étude à partir des "
        "estimations ; les analystes peuvent le modifier en donnant un motif.",
        "Level of each issue per community, set by the study's rules from the estimates; "
        "analysts may change it by giving a reason.",
    ),
    "needs.issue": ("Enjeu", "Issue"),
    "needs.level": ("Niveau", "Level"),
    "needs.rule": ("Règle", "Rule"),
    "needs.evidence": ("Éléments chiffrés", "Evidence"),
    "needs.overridden": ("Modifié par {by} le {at} : {why}", "Changed by {by} on {at}: {why}"),
    "needs.override": ("Modifier le niveau", "Change the level"),
    "needs.reason": ("Motif", "Reason"),
    "needs.reason_help": (
        "Pourquoi le niveau calculé ne convient-il pas ? (obligatoire)",
        "Why does the computed level not fit? (required)",
    ),
    "needs.reason_required": (
        "Indiquez un motif d'au moins 5 caractères.",
        "Give a reason of at least 5 characters.",
    ),
    "needs.saved": ("Niveau enregistré.", "Level saved."),
    "needs.history": ("Historique des modifications", "Change history"),
    "needs.previous": ("Niveau précédent", "Previous level"),
    "needs.by": ("Par", "By"),
    "needs.at": ("Le", "On"),
    "needs.empty": ("Pas de matrice des besoins pour cette vague.", "No needs matrix for this round."),
    "needs.legend": ("Légende :", "Legend:"),
    "needs.override_info": ("Modification", "Override"),
    "needs.override_legend": ("niveau modifié par un analyste", "level changed by an analyst"),
    "needs.pick_cell": (
        "Choisissez une case de la matrice pour voir la règle et les chiffres qui la fondent.",
        "Choose a cell of the matrix to see the rule and the figures behind it.",
    ),
    "needs.computed": ("Niveau calculé", "Computed level"),
    "level.short.priority": ("Prioritaire", "Priority"),
    "level.short.important": ("Important", "Important"),
    "level.short.outside_reach": ("Hors portée", "Out of reach"),
    "level.short.none": ("–", "–"),
    "level.priority": ("Prioritaire", "Priority"),
    "level.important": ("Important", "Important"),
    "level.outside_reach": ("Hors de portée directe", "Outside direct reach"),
    "level.none": ("Pas d'enjeu relevé", "No issue found"),
    # actors
    "actors.title": ("Cartographie des acteurs", "Actor map"),
    "actors.filter": ("Filtrer", "Filter"),
    "actors.dimension": ("Dimension", "Dimension"),
    "actors.all_dimensions": ("Toutes les dimensions", "All dimensions"),
    "actors.name": ("Acteur", "Actor"),
    "actors.description": ("Rôle", "Role"),
    "actors.strengths": ("Forces", "Strengths"),
    "actors.weaknesses": ("Faiblesses", "Weaknesses"),
    "actors.dimensions": ("Dimensions couvertes", "Dimensions covered"),
    "actors.count": ("{n} acteurs", "{n} actors"),
    "actors.empty": ("Aucun acteur ne correspond à ce filtre.", "No actor matches this filter."),
    "actors.missing": (
        "Le registre des acteurs n'est pas encore dans la base.",
        "The actor register is not in the store yet.",
    ),
    "actors.saved": ("Acteur enregistré.", "Actor saved."),
    "actors.edited": ("modifié par {by}", "edited by {by}"),
    "dimension.economic": ("Économique", "Economic"),
    "dimension.social": ("Sociale", "Social"),
    "dimension.psychosocial": ("Psychosociale", "Psychosocial"),
    "dimension.c4d": ("Communication (C4D)", "Communication (C4D)"),
    "dimension.short.economic": ("Éco.", "Eco."),
    "dimension.short.social": ("Soc.", "Soc."),
    "dimension.short.psychosocial": ("Psycho.", "Psycho."),
    "dimension.short.c4d": ("C4D", "C4D"),
    # rounds
    "rounds.title": ("Comparaison des vagues", "Rounds comparison"),
    "rounds.intro": (
        "Estimations de chaque vague côte à côte ; l'évolution et son test viennent de "
        "l'étape de comparaison.",
        "Each round's estimates side by side; the change and its test come from the comparison stage.",
    ),
    "rounds.change": ("Évolution (points)", "Change (points)"),
    "rounds.p_value": ("p (ajusté)", "p (adjusted)"),
    "rounds.empty": ("Aucune estimation enregistrée pour l'instant.", "No estimates stored yet."),
    "rounds.one_round": (
        "Une seule vague a des résultats : la comparaison viendra avec la suivante.",
        "Only one round has results: the comparison will come with the next one.",
    ),
    # uploads
    "uploads.title": ("Importer un export d'enquête", "Upload a survey export"),
    "uploads.intro": (
        "Export KoboToolbox ou ODK en .csv ou .xlsx, {limit} Mo au plus. Chaque ligne est contrôlée : "
        "les lignes acceptées entrent dans la base, les autres vont en quarantaine avec leurs motifs.",
        "KoboToolbox or ODK export as .csv or .xlsx, {limit} MB at most. Every row is checked: "
        "accepted rows enter the store, the others go to quarantine with their reasons.",
    ),
    "uploads.file": ("Fichier", "File"),
    "uploads.submit": ("Importer", "Upload"),
    "uploads.summary": ("Résultat de l'import de {file}", "Result of uploading {file}"),
    "uploads.rows_read": ("Lignes lues", "Rows read"),
    "uploads.accepted": ("Acceptées", "Accepted"),
    "uploads.quarantined": ("En quarantaine", "Quarantined"),
    "uploads.problems": ("Problèmes", "Problems"),
    "uploads.no_problems": ("Aucun problème trouvé.", "No problem found."),
    "uploads.problems_shown": (
        "{shown} premiers problèmes sur {total}.",
        "First {shown} problems of {total}.",
    ),
    "uploads.row": ("Ligne", "Row"),
    "uploads.column": ("Colonne", "Column"),
    "uploads.value": ("Valeur", "Value"),
    "uploads.message": ("Problème", "Problem"),
    "uploads.hint": ("Correction", "How to fix"),
    "uploads.severity": ("Gravité", "Severity"),
    "severity.blocking": ("bloquant", "blocking"),
    "severity.warning": ("avertissement", "warning"),
    "uploads.history": ("Imports précédents", "Previous uploads"),
    "uploads.when": ("Date", "Date"),
    "uploads.by": ("Par", "By"),
    "uploads.status": ("État", "Status"),
    "uploads.status.ingested": ("importé", "ingested"),
    "uploads.status.failed": ("échec", "failed"),
    "uploads.none": ("Aucun import pour l'instant.", "No upload yet."),
    "uploads.viewer": (
        "Seuls les analystes et les administrateurs peuvent importer un export.",
        "Only analysts and administrators can upload an export.",
    ),
    "uploads.bad_type": (
        "Le fichier « {file} » n'est ni un .csv ni un .xlsx.",
        "The file '{file}' is neither a .csv nor an .xlsx.",
    ),
    "uploads.empty_file": ("Choisissez un fichier non vide.", "Choose a file that is not empty."),
    "uploads.failed": (
        "L'export n'a pas pu être importé : {message}",
        "The export could not be ingested: {message}",
    ),
    "uploads.unavailable": (
        "L'import n'est pas encore disponible dans cette installation.",
        "Uploading is not available in this installation yet.",
    ),
    # users
    "users.title": ("Utilisateurs du tableau de bord", "Dashboard users"),
    "users.intro": (
        "Lecteurs : consultent toutes les pages. Analystes : importent des exports, modifient les "
        "besoins et les acteurs. Administrateurs : gèrent aussi les comptes.",
        "Viewers read every page. Analysts also upload exports and change needs and actors. "
        "Administrators also manage accounts.",
    ),
    "users.role": ("Rôle", "Role"),
    "users.language": ("Langue", "Language"),
    "users.created": ("Créé le", "Created"),
    "users.password_changed": ("Mot de passe changé le", "Password changed"),
    "users.remove": ("Supprimer", "Remove"),
    "users.add": ("Ajouter un utilisateur", "Add a user"),
    "users.you": ("vous", "you"),
    "users.refused": ("Compte non enregistré : {reason}", "Account not saved: {reason}"),
    "users.not_yourself": (
        "Vous ne pouvez pas changer votre propre rôle ni supprimer votre propre compte.",
        "You cannot change your own role or remove your own account.",
    ),
    # downloads
    "downloads.title": ("Téléchargements", "Downloads"),
    "downloads.factsheets": ("Fiches communautaires (PDF)", "Community fact sheets (PDF)"),
    "downloads.factsheets_intro": (
        "Une fiche par communauté, pour la vague et la langue choisies.",
        "One fact sheet per community, for the chosen round and language.",
    ),
    "downloads.tables": ("Tableaux de résultats (XLSX)", "Result tables (XLSX)"),
    "downloads.tables_intro": (
        "Estimations, écarts, indices et besoins de la vague, une feuille par tableau.",
        "The round's estimates, gaps, indices and needs, one sheet per table.",
    ),
    "downloads.tables_link": ("Tous les tableaux de la vague ({round})", "All tables of the round ({round})"),
    "downloads.none": ("Rien à télécharger pour cette vague.", "Nothing to download for this round."),
}


def translate(key: str, language: str, **values: object) -> str:
    """The text of `key` in `language` with its `{fields}` filled; KeyError for an unknown key."""
    french, english = MESSAGES[key]
    text = english if language == "en" else french
    return text.format(**values) if values else text


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the candidates, else the default (French)."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: object, language: str, digits: int = 2) -> str:
    """A number with `digits` decimals in the language's style (0,77 / 0.77); an en dash when missing."""
    if _missing(value):
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(float(value), format=pattern, locale=_LOCALES[language])  # type: ignore[arg-type]


def format_percent(value: object, language: str, digits: int = 0) -> str:
    """A 0..1 proportion as a percentage (48 % / 48%)."""
    if _missing(value):
        return "–"
    number = format_number(float(value) * 100, language, digits)  # type: ignore[arg-type]
    return f"{number}\u202f%" if language == "fr" else f"{number}%"


def format_when(value: object, language: str, with_time: bool = True) -> str:
    """A date or timestamp written the language's way."""
    if _missing(value):
        return "–"
    if isinstance(value, dt.datetime):
        if with_time:
            return format_datetime(value, format="medium", locale=_LOCALES[language])
        value = value.date()
    if isinstance(value, dt.date):
        return format_date(value, format="long", locale=_LOCALES[language])
    return str(value)
