"""How each source writes its files: encoding, delimiter, headers, dates, numbers, communes…

Real senders differ, and each one keeps its habits (a few change over time). A source's form is
drawn once from a seed of its code, then a handful of sources are pinned so that every variety the
contract (§2) tolerates is present in any range of months.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from pipelines.sample.timeline import Month, rng

FRENCH_LABELS = {
    "matricule": "Matricule", "organisme": "Organisme", "nom": "Nom", "prenom": "Prénom",
    "date_naissance": "Date naissance", "sexe": "Sexe", "commune": "Commune",
    "date_orientation": "Date d’orientation", "date_premier_rdv": "Date premier RDV",
    "date_entree": "Date d’entrée", "date_contrat": "Date contrat", "date_sortie": "Date sortie",
    "motif_sortie": "Motif sortie", "referent": "Référent", "nb_entretiens": "Nb entretiens",
    "heures_activite": "Heures d’activité", "freins": "Freins", "actions": "Actions",
    "fonction": "Fonction", "etp": "ETP", "date_arrivee": "Date d’arrivée", "date_depart": "Date départ",
    "code_action": "Code action", "resultat_sortie": "Résultat sortie", "heures_realisees": "Heures réalisées",
    "places_conventionnees": "Places conventionnées", "places_occupees": "Places occupées",
    "montant_consomme_eur": "Montant consommé EUR",
    "commentaire": "Commentaire", "observations": "Observations",
}
"""Spellings that normalise (contract §2) to the contract names; extra columns last."""
HEADER_STYLES = ("snake", "upper", "kebab", "french", "french_ascii")


@dataclass(frozen=True)
class Form:
    xlsx: bool = False
    encoding: str = "utf-8"
    """``utf-8``, ``utf-8-sig`` (with BOM) or ``cp1252``."""
    delimiter: str = ";"
    crlf: bool = True
    dates: str = "fr"
    """``fr`` = DD/MM/YYYY, ``iso`` = YYYY-MM-DD."""
    decimal_comma: bool = True
    thousands: str = ""
    headers: str = "snake"
    shuffled: bool = False
    extras: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    """Optional contract columns the source does not send."""
    enums: str = "upper"
    """``upper``, ``lower`` or ``padded`` (surrounded by spaces)."""
    list_sep: str = "|"
    communes: str = "insee"
    """``insee``, ``nom``, ``minuscules``, ``majuscules``, ``sans_article`` or ``mixte`` (per row)."""
    strip_zeros: bool = False
    caf_empty: bool = False
    blank_lines: bool = False
    total_row: bool = False
    name_case: str = "lower"
    """Case of the file name: ``lower``, ``title`` or ``upper``."""


def header_label(column: str, style: str) -> str:
    if style == "upper":
        return column.upper()
    if style == "kebab":
        return column.replace("_", "-")
    if style == "french":
        return FRENCH_LABELS[column]
    if style == "french_ascii":
        return FRENCH_LABELS[column].replace("’", "'")
    return column


def file_name(dataset: str, form: Form) -> str:
    stem = {"lower": dataset, "title": dataset.title(), "upper": dataset.upper()}[form.name_case]
    return f"{stem}.{'xlsx' if form.xlsx else 'csv'}"


def _drawn(source: str) -> Form:
    r = rng("form", source)
    encoding = r.choices(("utf-8", "utf-8-sig", "cp1252"), (45, 25, 30))[0]
    delimiter = r.choices((";", ",", "\t"), (60, 25, 15))[0]
    return Form(
        encoding=encoding,
        delimiter=delimiter,
        crlf=r.random() < 0.7,
        dates=r.choices(("fr", "iso"), (60, 40))[0],
        decimal_comma=delimiter != "," and r.random() < 0.8,
        thousands=r.choice(("", " ", "\u00a0") + (("\u202f",) if encoding != "cp1252" else ())),
        headers="french" if encoding == "cp1252" else r.choice(HEADER_STYLES),
        shuffled=r.random() < 0.3,
        extras=r.choices(((), ("commentaire",), ("observations",), ("commentaire", "observations")),
                         (70, 15, 10, 5))[0],
        dropped=tuple(c for c, p in (("nom", 0.2), ("prenom", 0.2), ("heures_activite", 0.15),
                                      ("heures_realisees", 0.15), ("montant_consomme_eur", 0.1)) if r.random() < p),
        enums=r.choices(("upper", "lower", "padded"), (75, 15, 10))[0],
        list_sep=r.choice(("|", "|", " | ", ", ", ",")),
        communes=r.choices(("insee", "nom", "minuscules", "majuscules", "sans_article"), (50, 20, 10, 10, 10))[0],
        strip_zeros=r.random() < 0.15,
        caf_empty=r.random() < 0.15,
        blank_lines=r.random() < 0.08,
        total_row=r.random() < 0.1,
        name_case=r.choices(("lower", "title", "upper"), (80, 15, 5))[0],
    )


PINNED: dict[str, dict[str, object]] = {
    "ALI01": {"encoding": "cp1252", "delimiter": ";", "headers": "french", "dates": "fr", "communes": "nom"},
    "ALI02": {"encoding": "utf-8-sig", "delimiter": ";", "communes": "mixte"},
    "ALI06": {"enums": "padded", "list_sep": " | ", "blank_lines": True},
    "ALI07": {"encoding": "utf-8", "delimiter": ",", "decimal_comma": True, "dates": "iso", "headers": "upper",
              "extras": ("commentaire",)},
    "ALI09": {"encoding": "cp1252", "headers": "french", "thousands": ""},
    "ALI10": {"encoding": "utf-8", "delimiter": "\t", "headers": "kebab", "strip_zeros": True},
    "ALI15": {"communes": "mixte"},
    "ALI20": {"enums": "lower", "list_sep": ", ", "caf_empty": True, "total_row": True},
    "P030": {"encoding": "cp1252", "delimiter": "\t", "headers": "french", "thousands": "\u00a0", "total_row": True,
             "blank_lines": True},
    "P033": {"encoding": "utf-8", "delimiter": ";", "thousands": "\u202f", "decimal_comma": True},
}
XLSX = {("ALI15", "beneficiaires"), ("ALI04", "conseillers"), ("ALI12", "conseillers"), ("ALI19", "conseillers"),
        ("P012", "actions"), ("P045", "actions"), ("P061", "actions"), ("P070", "actions")}
CHANGES: tuple[tuple[str, Month, dict[str, object]], ...] = (
    ("ALI09", Month(2024, 7), {"encoding": "utf-8", "headers": "french_ascii"}),
    ("P050", Month(2024, 4), {"strip_zeros": True}),
    ("ALI13", Month(2024, 10), {"extras": ("observations",)}),
    ("ALI07", Month(2025, 1), {"delimiter": ";"}),
    ("P023", Month(2025, 6), {"headers": "upper"}),
    ("ALI03", Month(2025, 9), {"dates": "iso"}),
)
"""Sources that changed their export (new software, new staff) from some month on."""


@lru_cache(maxsize=4096)
def form_for(source: str, dataset: str, month: Month) -> Form:
    form = replace(_drawn(source), **PINNED.get(source, {}))
    for changed, since, fields in CHANGES:
        if changed == source and month >= since:
            form = replace(form, **fields)
    if (source, dataset) in XLSX:
        form = replace(form, xlsx=True, total_row=True, name_case="lower")
    if form.encoding == "cp1252" and form.thousands == "\u202f":
        form = replace(form, thousands="\u00a0")
    return form
