"""Write the ingest test fixtures in this folder: a tiny XLSForm and exports of it shaped as Kobo and ODK
Central really export them, plus a deliberately messy one.

Run `python tests/data/make_fixtures.py` after changing it; `test_ingest.py` checks the files are current.
The answers are written out by hand (no randomness), so every expected count in the tests can be read here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).parent
FIXED_TIME = dt.datetime(2018, 3, 5, 8, 0, 0)

COMMUNITIES = [
    ("bafoulabe", "Bafoulabé"),
    ("bamako_commune_iv", "Bamako Commune IV"),
    ("kati", "Kati"),
    ("kayes", "Kayes"),
    ("kita", "Kita"),
    ("sikasso", "Sikasso"),
    ("kirane", "Kirané"),
]
SURVEY_HEADER = [
    "type",
    "name",
    "label::Français (fr)",
    "label::English (en)",
    "required",
    "relevant",
    "constraint",
    "constraint_message::Français (fr)",
    "constraint_message::English (en)",
    "calculation",
    "retour_identifying",
]
SURVEY = [
    ["start", "start"],
    ["end", "end"],
    ["begin group", "design", "Plan d'échantillonnage", "Sampling design"],
    ["today", "interview_date"],
    ["select_one community", "community", "Communauté", "Community", "yes"],
    ["calculate", "stratum", "", "", "", "", "", "", "", "${community}"],
    ["text", "cluster", "Grappe", "Cluster", "yes"],
    ["decimal", "weight", "Poids de sondage", "Survey weight", "yes", "", ". > 0"],
    ["text", "case_id", "Identifiant du cas", "Case id", "yes", "", "", "", "", "", "hash"],
    ["text", "respondent_name", "Nom de la personne", "Respondent's name", "", "", "", "", "", "", "drop"],
    ["geopoint", "gps", "Position GPS", "GPS position", "", "", "", "", "", "", "coarsen"],
    ["end group"],
    ["begin group", "profile", "Profil", "Profile"],
    ["select_one sex", "sex", "Sexe", "Sex", "yes"],
    [
        "integer",
        "age",
        "Âge",
        "Age",
        "yes",
        "",
        ". >= 15 and . <= 34",
        "L'âge doit être compris entre 15 et 34 ans",
        "Age must be between 15 and 34",
    ],
    [
        "select_one yes_no",
        "lived_abroad_3m",
        "Avez-vous vécu plus de trois mois à l'étranger ?",
        "Have you lived abroad for more than three months?",
        "yes",
    ],
    [
        "integer",
        "months_abroad",
        "Combien de mois ?",
        "How many months?",
        "yes",
        "${lived_abroad_3m} = 'yes'",
        ". >= 3",
    ],
    [
        "select_multiple services",
        "services",
        "Services utilisés",
        "Services used",
        "yes",
        "",
        "not(selected(., 'none') and count-selected(.) > 1)",
    ],
    ["date", "arrival_date", "Date d'arrivée", "Date of arrival"],
    ["text", "comments", "Commentaires", "Comments"],
    ["end group"],
]
CHOICES = [
    ["list_name", "name", "label::Français (fr)", "label::English (en)"],
    *[["community", name, label, label] for name, label in COMMUNITIES],
    ["sex", "female", "Femme", "Woman"],
    ["sex", "male", "Homme", "Man"],
    ["yes_no", "yes", "Oui", "Yes"],
    ["yes_no", "no", "Non", "No"],
    ["services", "health", "Santé", "Health"],
    ["services", "education", "Éducation", "Education"],
    ["services", "water", "Eau potable", "Drinking water"],
    ["services", "none", "Aucun", "None"],
]
SETTINGS = [["form_title", "form_id", "version", "default_language"], ["Mini", "mini", "1", "Français (fr)"]]
SERVICE_CHOICES = ("health", "education", "water", "none")

# The clean answers: (uuid, community, cluster, weight, case_id, name, gps, sex, age, lived_abroad, months,
# services, arrival_date, comments)
ROWS = [
    (
        "a1b2c3d4-0001",
        "kayes",
        "KY-01",
        "12.5",
        "ML-0001",
        "Awa Traoré",
        "14.447312 -11.445129 312.0 4.5",
        "female",
        "19",
        "yes",
        "14",
        "health water",
        "2017-11-02",
        "",
    ),
    (
        "a1b2c3d4-0002",
        "kayes",
        "KY-01",
        "12.5",
        "ML-0002",
        "Moussa Keïta",
        "14.448021 -11.440203 310.0 5.0",
        "male",
        "27",
        "no",
        "",
        "education",
        "",
        "Très motivé",
    ),
    (
        "a1b2c3d4-0003",
        "kita",
        "KT-02",
        "9.75",
        "ML-0003",
        "Fatoumata Diarra",
        "13.034512 -9.487123 350.0 3.9",
        "female",
        "22",
        "no",
        "",
        "none",
        "",
        "",
    ),
    (
        "a1b2c3d4-0004",
        "kita",
        "KT-02",
        "9.75",
        "ML-0004",
        "Seydou Coulibaly",
        "13.036710 -9.489901 351.0 4.1",
        "male",
        "31",
        "yes",
        "7",
        "health education water",
        "2016-05-20",
        "",
    ),
    (
        "a1b2c3d4-0005",
        "sikasso",
        "SK-03",
        "15",
        "ML-0005",
        "Mariam Sangaré",
        "11.317501 -5.666712 405.0 4.0",
        "female",
        "16",
        "no",
        "",
        "water",
        "",
        "",
    ),
    (
        "a1b2c3d4-0006",
        "sikasso",
        "SK-03",
        "15",
        "ML-0006",
        "Oumar Sidibé",
        "11.318912 -5.669045 402.0 6.0",
        "male",
        "34",
        "yes",
        "36",
        "health",
        "2015-01-15",
        "Revenu d'Algérie",
    ),
    (
        "a1b2c3d4-0007",
        "bafoulabe",
        "BF-04",
        "7.2",
        "ML-0007",
        "Kadiatou Camara",
        "13.812307 -10.832119 140.0 5.5",
        "female",
        "25",
        "no",
        "",
        "education water",
        "",
        "",
    ),
    (
        "a1b2c3d4-0008",
        "kati",
        "KA-05",
        "11",
        "ML-0008",
        "Ibrahim Touré",
        "12.744190 -8.072311 520.0 4.2",
        "male",
        "18",
        "yes",
        "3",
        "none",
        "2017-12-30",
        "",
    ),
]
# What the stored data must never contain (names, exact GPS, clear case ids).
CLEAR_VALUES = [row[5] for row in ROWS] + [row[4] for row in ROWS] + [row[6].split()[0] for row in ROWS]


def write_form(path: Path) -> None:
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"created": FIXED_TIME})
    for name, rows in (("survey", [SURVEY_HEADER, *SURVEY]), ("choices", CHOICES), ("settings", SETTINGS)):
        sheet = workbook.add_worksheet(name)
        for number, row in enumerate(rows):
            sheet.write_row(number, 0, row)
    workbook.close()


def _kobo_record(index: int, row: tuple[str, ...]) -> dict[str, str]:
    (
        uuid,
        community,
        cluster,
        weight,
        case_id,
        name,
        gps,
        sex,
        age,
        lived,
        months,
        services,
        arrival,
        comments,
    ) = row
    latitude, longitude, altitude, precision = gps.split()
    record = {
        "start": f"2018-03-{5 + index % 3:02d}T09:{10 + index:02d}:00.000+00:00",
        "end": f"2018-03-{5 + index % 3:02d}T09:{40 + index:02d}:00.000+00:00",
        "design/interview_date": f"2018-03-{5 + index % 3:02d}",
        "design/community": community,
        "design/stratum": community,
        "design/cluster": cluster,
        "design/weight": weight,
        "design/case_id": case_id,
        "design/respondent_name": name,
        "design/gps": gps,
        "design/_gps_latitude": latitude,
        "design/_gps_longitude": longitude,
        "design/_gps_altitude": altitude,
        "design/_gps_precision": precision,
        "profile/sex": sex,
        "profile/age": age,
        "profile/lived_abroad_3m": lived,
        "profile/months_abroad": months,
        "profile/services": services,
    }
    for choice in SERVICE_CHOICES:
        record[f"profile/services/{choice}"] = "1" if choice in services.split() else "0"
    record.update(
        {
            "profile/arrival_date": arrival,
            "profile/comments": comments,
            "_id": str(40100 + index),
            "_uuid": uuid,
            "_submission_time": f"2018-03-{5 + index % 3:02d}T18:0{index}:12",
            "_validation_status": "",
            "_notes": "",
            "_status": "submitted_via_web",
            "_submitted_by": "enqueteur1",
            "__version__": "vGq4Xr2018",
            "_tags": "",
            "_index": str(index + 1),
        }
    )
    return record


def _csv(records: list[dict[str, str]], separator: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), delimiter=separator, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def kobo_csv() -> bytes:
    """Kobo 'XML values and headers', groups included, select_multiple in both layouts, UTF-8."""
    return _csv([_kobo_record(index, row) for index, row in enumerate(ROWS)]).encode("utf-8")


def write_kobo_xlsx(path: Path) -> None:
    """The same submissions as Kobo's XLSX export: numbers as numbers, dates as Excel dates."""
    records = [_kobo_record(index, row) for index, row in enumerate(ROWS)]
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"created": FIXED_TIME})
    sheet = workbook.add_worksheet("mini")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    headers = list(records[0])
    sheet.write_row(0, 0, headers)
    for number, record in enumerate(records, start=1):
        for column, header in enumerate(headers):
            value = record[header]
            if value == "":
                continue
            if header.endswith(("arrival_date", "interview_date")):
                sheet.write_datetime(number, column, dt.datetime.strptime(value, "%Y-%m-%d"), date_format)
            elif (
                header.endswith(("/age", "/weight", "months_abroad"))
                or header in ("_id", "_index")
                or "/services/" in header
            ):
                sheet.write_number(number, column, float(value))
            else:
                sheet.write_string(number, column, value)
    workbook.close()


def odk_csv() -> bytes:
    """ODK Central CSV: SubmissionDate first, groups joined by '-', GPS split in four, metadata at the end."""
    records = []
    for index, row in enumerate(ROWS):
        kobo = _kobo_record(index, row)
        latitude, longitude, altitude, accuracy = row[6].split()
        record = {
            "SubmissionDate": kobo["_submission_time"] + ".000Z",
            "start": kobo["start"],
            "end": kobo["end"],
        }
        for key, value in kobo.items():
            if key.startswith(("design/", "profile/")) and "/_gps" not in key and "/services/" not in key:
                record[key.replace("/", "-")] = value
        del record["design-gps"]
        record.update(
            {
                "design-gps-Latitude": latitude,
                "design-gps-Longitude": longitude,
                "design-gps-Altitude": altitude,
                "design-gps-Accuracy": accuracy,
                "meta-instanceID": f"uuid:{row[0]}",
                "KEY": f"uuid:{row[0]}",
                "SubmitterID": "5",
                "SubmitterName": "enqueteur1",
                "AttachmentsPresent": "0",
                "AttachmentsExpected": "0",
                "Status": "",
                "ReviewState": "",
                "DeviceID": "collect:abc",
                "Edits": "0",
                "FormVersion": "1",
            }
        )
        records.append(record)
    return _csv(records).encode("utf-8")


MESSY_HEADERS = [
    "Communauté",
    "Grappe",
    "Poids de sondage",
    "Identifiant du cas",
    "Nom de la personne",
    "Position GPS",
    "Sexe",
    "Âge",
    "Avez-vous vécu plus de trois mois à l'étranger ?",
    "Combien de mois ?",
    "Services utilisés/Santé",
    "Services utilisés/Éducation",
    "Services utilisés/Eau potable",
    "Services utilisés/Aucun",
    "Date d'arrivée",
    "Commentaires",
    "Remarque du superviseur",
    "_uuid",
    "_submission_time",
    "",
    "",
]
# Row by row, what is wrong (the tests count on it):
MESSY_ROWS = [
    # 1 clean; weight with a decimal comma, arrival date as an Excel serial number
    [
        "Kayes",
        "KY-01",
        "12,5",
        "ML-0101",
        "Awa Traoré",
        "14.447312 -11.445129",
        "Femme",
        "19",
        "Oui",
        "14",
        "1",
        "0",
        "1",
        "0",
        "43041",
        "",
        "",
        "m-0001",
        "2018-03-05T18:00:12",
        "",
        "",
    ],
    # 2 clean, accents in a comment (Latin-1 on disk)
    [
        "Kita",
        "KT-02",
        "9,75",
        "ML-0102",
        "Seydou Coulibaly",
        "13.03 -9.48",
        "Homme",
        "31",
        "Non",
        "",
        "0",
        "1",
        "0",
        "0",
        "",
        "Très motivé, élève à Kita",
        "vu",
        "m-0002",
        "2018-03-05T18:01:12",
        "",
        "",
    ],
    # 3 age out of range (12)
    [
        "Kita",
        "KT-02",
        "9,75",
        "ML-0103",
        "Mariam Sangaré",
        "",
        "Femme",
        "12",
        "Non",
        "",
        "0",
        "0",
        "1",
        "0",
        "",
        "",
        "",
        "m-0003",
        "2018-03-05T18:02:12",
        "",
        "",
    ],
    # 4 unknown choice for sex ('X')
    [
        "Sikasso",
        "SK-03",
        "15",
        "ML-0104",
        "Oumar Sidibé",
        "",
        "X",
        "28",
        "Non",
        "",
        "1",
        "0",
        "0",
        "0",
        "",
        "",
        "",
        "m-0004",
        "2018-03-05T18:03:12",
        "",
        "",
    ],
    # blank row (all separators)
    ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    # 5 and 6: the same uuid twice
    [
        "Kati",
        "KA-05",
        "11",
        "ML-0105",
        "Ibrahim Touré",
        "",
        "Homme",
        "18",
        "Oui",
        "3",
        "0",
        "0",
        "0",
        "1",
        "30/12/2017",
        "",
        "",
        "m-0005",
        "2018-03-06T18:04:12",
        "",
        "",
    ],
    [
        "Kati",
        "KA-05",
        "11",
        "ML-0106",
        "Kadiatou Camara",
        "",
        "Femme",
        "25",
        "Non",
        "",
        "0",
        "1",
        "1",
        "0",
        "",
        "",
        "",
        "m-0005",
        "2018-03-06T18:05:12",
        "",
        "",
    ],
    # 7 months_abroad answered while lived_abroad_3m is no; age written as text 'vingt'
    [
        "Bafoulabé",
        "BF-04",
        "7,2",
        "ML-0107",
        "Fanta Diallo",
        "",
        "Femme",
        "vingt",
        "Non",
        "12",
        "0",
        "1",
        "0",
        "0",
        "",
        "",
        "",
        "m-0007",
        "2018-03-06T18:06:12",
        "",
        "",
    ],
    # 8 clean; community written with its label in another case
    [
        "kirané",
        "KR-06",
        "8",
        "ML-0108",
        "Boubacar Cissé",
        "",
        "Homme",
        "29",
        "Non",
        "",
        "1",
        "1",
        "0",
        "0",
        "",
        "",
        "",
        "m-0008",
        "2018-03-07T18:07:12",
        "",
        "",
    ],
    # trailing blank rows
    ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
]
MESSY_CLEAR_VALUES = (
    [row[4] for row in MESSY_ROWS if row[4]]
    + [row[3] for row in MESSY_ROWS if row[3]]
    + ["14.447312", "-11.445129"]
)


def messy_csv() -> bytes:
    """Semicolons, Windows-1252, French label headers, a stray column, blank rows and columns, errors."""
    lines = [";".join(MESSY_HEADERS)] + [";".join(row) for row in MESSY_ROWS]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def wrong_form_csv() -> bytes:
    """An export of another questionnaire (a household roster): only 'sex' and 'age' match."""
    return _csv(
        [{"hh_id": "H1", "hh_size": "6", "head/sex": "male", "head/age": "45", "roof": "tin", "_uuid": "w-1"}]
    ).encode("utf-8")


def write_all(folder: Path = HERE) -> dict[str, Path]:
    """Write every fixture into `folder`; return them by name."""
    files = {
        "mini_form.xlsx": write_form,
        "mini_kobo.xlsx": write_kobo_xlsx,
    }
    written: dict[str, Path] = {}
    for name, writer in files.items():
        writer(folder / name)
        written[name] = folder / name
    for name, content in {
        "mini_kobo.csv": kobo_csv(),
        "mini_odk.csv": odk_csv(),
        "mini_messy.csv": messy_csv(),
        "mini_wrong_form.csv": wrong_form_csv(),
        "mali_kobo.csv": example_kobo_csv(),
        "mali_messy.csv": example_messy_csv(),
    }.items():
        (folder / name).write_bytes(content)
        written[name] = folder / name
    return written


# ------------------------------------------------------------------ exports of the example questionnaire

EXAMPLE_FORM = HERE.parent.parent / "src" / "retour" / "examples" / "mali-2018" / "instrument.xlsx"
_NUMBER_CANDIDATES = (1, 3, 5, 8, 12, 16, 19, 22, 25, 28, 31, 34, 2009, 2013, 2016, 2017, 15000, 45000, 90000)


def example_answers(instrument, count: int, seed: int = 2018):
    """`count` valid submissions of a questionnaire (typed columns by field name, plus _uuid and
    _submission_time): random choices, numbers that meet each constraint, relevance applied in form order."""
    import numpy as np
    import polars as pl

    from retour.expressions import to_polars

    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({"_row": list(range(count))})
    for question in instrument.questions:
        name, kind = question.name, question.type
        if kind == "select_one":
            column = pl.Series(
                name, [question.choice_names[i] for i in rng.integers(0, len(question.choices), count)]
            )
        elif kind == "select_multiple":
            plain = [c for c in question.choice_names if c not in ("none", "nobody")]
            picks = rng.integers(0, len(plain), (count, 2))
            column = pl.Series(
                name, [" ".join(sorted({plain[a], plain[b]}, key=plain.index)) for a, b in picks]
            )
        elif kind in ("integer", "decimal"):
            column = pl.Series(name, [None] * count, dtype=pl.Int64 if kind == "integer" else pl.Float64)
        elif kind in ("date", "today"):
            column = pl.Series(name, [dt.date(2018, 3, 5 + i % 20) for i in range(count)])
        elif kind == "geopoint":
            column = pl.Series(
                name, [f"{12 + rng.random():.6f} {-8 - rng.random():.6f} 320.0 4.5" for _ in range(count)]
            )
        elif kind in ("start", "end"):
            column = pl.Series(
                name, [f"2018-03-{5 + i % 20:02d}T09:{10 + i % 40:02d}:00.000+00:00" for i in range(count)]
            )
        else:
            column = pl.Series(name, [f"{name.upper()[:3]}-{i + 1:04d}" for i in range(count)])
        frame = frame.with_columns(column)
        if kind in ("integer", "decimal"):
            frame = frame.with_columns(_meeting_constraint(frame, question, instrument, rng, to_polars))
        if kind == "select_one" and question.constraint:
            rule = to_polars(question.constraint, instrument, current=name)
            allowed = [
                c
                for c in question.choice_names
                if frame.with_columns(pl.lit(c).alias(name)).select(rule.fill_null(False)).to_series().all()
            ]
            frame = frame.with_columns(
                pl.Series(name, [allowed[i] for i in rng.integers(0, len(allowed), count)])
            )
    for question in instrument.questions:
        if question.calculation:
            frame = frame.with_columns(
                to_polars(question.calculation, instrument).cast(pl.Utf8).alias(question.name)
            )
        if question.relevant:
            asked = to_polars(question.relevant, instrument, current=question.name, blank_as_empty=True)
            frame = frame.with_columns(
                pl.when(asked.fill_null(False))
                .then(pl.col(question.name))
                .otherwise(None)
                .alias(question.name)
            )
    return frame.drop("_row").with_columns(
        pl.Series(
            "_uuid", [f"5e1f{seed % 10000:04d}-{i + 1:04d}-4a8c-9d2e-mali{i + 1:08d}" for i in range(count)]
        ),
        pl.Series("_submission_time", [f"2018-03-{5 + i % 20:02d}T17:{i % 60:02d}:00" for i in range(count)]),
    )


def _meeting_constraint(frame, question, instrument, rng, to_polars):
    import numpy as np
    import polars as pl

    name = question.name
    dtype = pl.Int64 if question.type == "integer" else pl.Float64
    candidates = list(_NUMBER_CANDIDATES)
    if question.constraint:
        rule = to_polars(question.constraint, instrument, current=name)
        candidates = [
            v
            for v in candidates
            if frame.with_columns(pl.lit(v, dtype).alias(name))
            .select(rule.fill_null(False))
            .to_series()
            .all()
        ]
    else:
        candidates = candidates[:12]
    return pl.Series(name, np.asarray(candidates)[rng.integers(0, len(candidates), frame.height)]).cast(dtype)


def kobo_layout(frame, instrument):
    """Typed submissions as text in Kobo's CSV layout: `group/question` headers, each select_multiple
    as one column followed by its 0/1 columns, metadata last."""
    import polars as pl

    columns = []
    for question in instrument.questions:
        header = question.name if question.type in ("start", "end") else question.path
        values = frame.get_column(question.name)
        text = values.dt.strftime("%Y-%m-%d") if values.dtype == pl.Date else values.cast(pl.Utf8)
        columns.append(text.rename(header))
        if question.type == "select_multiple":
            for choice in question.choice_names:
                ticked = pl.select(
                    pl.when(values.is_null())
                    .then(None)
                    .otherwise(values.str.split(" ").list.contains(choice).cast(pl.Int8).cast(pl.Utf8))
                ).to_series()
                columns.append(ticked.rename(f"{header}/{choice}"))
    count = frame.height
    columns += [
        pl.Series("_id", [str(90000 + i) for i in range(count)]),
        frame.get_column("_uuid"),
        frame.get_column("_submission_time"),
        pl.Series("_validation_status", [""] * count),
        pl.Series("_index", [str(i + 1) for i in range(count)]),
    ]
    return pl.DataFrame(columns)


def example_kobo_csv(count: int = 30) -> bytes:
    from retour.schema import load_instrument

    instrument = load_instrument(EXAMPLE_FORM)
    table = kobo_layout(example_answers(instrument, count), instrument)
    return table.write_csv(line_terminator="\r\n", null_value="").encode("utf-8")


def example_messy_csv(count: int = 30) -> bytes:
    """The example export as re-saved by French Excel and edited by hand: ';', Windows-1252, French labels
    as headers (choice columns as 'question label/choice label'), community as its label, and:
    row 4 copies row 3's _uuid, row 5 has age 12, row 6 has sex 'X', a stray column, blank rows."""
    import polars as pl

    from retour.schema import load_instrument

    instrument = load_instrument(EXAMPLE_FORM)
    answers = example_answers(instrument, count)
    table = kobo_layout(answers, instrument)
    communities = {
        choice.name: choice.labels.get("fr", choice.name)
        for choice in instrument.question("community").choices
    }
    table = table.with_columns(
        pl.col("design/community").replace(communities),
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("_uuid").shift(1))
        .otherwise(pl.col("_uuid"))
        .alias("_uuid"),
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit("12"))
        .otherwise(pl.col("profile/age"))
        .alias("profile/age"),
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("X"))
        .otherwise(pl.col("profile/sex"))
        .alias("profile/sex"),
        pl.lit("ok").alias("Contrôle superviseur"),
    )
    renamed = {}
    by_path = {question.path: question for question in instrument.questions}
    for header in table.columns:
        question = by_path.get(header)
        if question is not None:
            renamed[header] = question.labels.get("fr", header)
            continue
        prefix, _, choice = header.rpartition("/")
        owner = by_path.get(prefix)
        if owner is not None and owner.type == "select_multiple":
            label = next(c.labels.get("fr", c.name) for c in owner.choices if c.name == choice)
            renamed[header] = f"{owner.labels.get('fr', owner.name)}/{label}"
    table = table.rename(renamed)
    blank = pl.DataFrame({name: [None] for name in table.columns}, schema=table.schema)
    table = pl.concat([table.head(2), blank, table.slice(2), blank, blank])
    return table.write_csv(separator=";", line_terminator="\r\n", null_value="").encode("cp1252")


if __name__ == "__main__":
    for name in write_all():
        print(f"wrote tests/data/{name}")
