"""Reference data: loaded whole when valid, refused with every problem listed when not."""

from __future__ import annotations

import shutil

import pytest
from conftest import REFERENCE_DIR

from pipelines.reference.tables import InvalidReference, load_reference
from pipelines.warehouse import connect


def test_shipped_reference_loads(con):
    counts = dict(con.execute(
        "SELECT 'ali', count(*) FROM reference.ali UNION ALL SELECT 'partenaires', count(*) FROM reference.partenaires "
        "UNION ALL SELECT 'communes', count(*) FROM reference.communes "
        "UNION ALL SELECT 'places_2026', sum(places_conventionnees) FROM reference.actions WHERE annee = 2026 "
        "UNION ALL SELECT 'places_2023', sum(places_conventionnees) FROM reference.actions WHERE annee = 2023"
    ).fetchall())
    assert counts == {"ali": 22, "partenaires": 82, "communes": 39, "places_2026": 12600, "places_2023": 9615}


def test_commune_keys_resolve_names_codes_and_pierrefitte(con):
    def resolve(text):
        rows = con.execute("SELECT code_insee FROM reference.communes_cles WHERE cle = ali_cle_commune(?)",
                           [text]).fetchall()
        return rows[0][0] if rows else None

    assert resolve("le blanc mesnil") == resolve("Le Blanc-Mesnil") == resolve("BLANC MESNIL") == "93007"
    assert resolve("L’Île-Saint-Denis") == resolve("ile saint denis") == "93039"
    assert resolve("93059") == resolve("Pierrefitte-sur-Seine") == "93066"
    assert resolve("Paris") is None and resolve("75056") is None


@pytest.fixture
def reference_copy(tmp_path):
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, target)
    return target


def test_a_new_partner_is_a_new_row(tmp_path, reference_copy):
    with (reference_copy / "partenaires.csv").open("a") as f:
        f.write("P083,Nouvelle structure,FORMATION,Département\n")
    with (reference_copy / "actions.csv").open("a") as f:
        f.write("A0999,P083,FORMATION,Nouvelle action,2026,12,3400\n")
    con = connect(tmp_path / "w.duckdb")
    counts = load_reference(con, reference_copy)
    assert counts["partenaires"] == 83 and counts["actions"] == 765


def test_invalid_reference_lists_every_problem_and_keeps_the_tables_in_force(tmp_path, reference_copy):
    con = connect(tmp_path / "w.duckdb")
    load_reference(con, reference_copy)
    with (reference_copy / "ali.csv").open("a") as f:
        f.write("ALI01,Doublon,,93001,2023-01-01\nALI23,Hors territoire,,75056,2025-01-01\n")
    with (reference_copy / "actions.csv").open("a") as f:
        f.write("A0998,P999,FORMATION,Action orpheline,2026,10,1000\n")
    with pytest.raises(InvalidReference) as error:
        load_reference(con, reference_copy)
    message = str(error.value)
    assert "code_ali en double (ALI01)" in message
    assert "commune absente de communes_93.csv (ALI23 : 75056)" in message
    assert "partenaire inconnu (A0998)" in message
    assert con.execute("SELECT count(*) FROM reference.ali").fetchall()[0][0] == 22


def test_barrier_themes_load_and_their_three_rules_hold(tmp_path, reference_copy):
    con = connect(tmp_path / "w.duckdb")
    assert load_reference(con, reference_copy)["freins_thematiques"] == 10
    assert con.execute("SELECT thematique FROM reference.freins_thematiques WHERE frein = 'LANGUE'").fetchall() == [
        ("FRANCAIS",)]
    with (reference_copy / "freins_thematiques.csv").open("a") as f:
        f.write("LANGUE,FRANCAIS\nPERMIS,VIE_QUOTIDIENNE\nSANTE,YOGA\n")
    with pytest.raises(InvalidReference) as error:
        load_reference(con, reference_copy)
    message = str(error.value)
    assert "freins_thematiques.csv : couple en double (LANGUE FRANCAIS)" in message
    assert "freins_thematiques.csv : frein absent du contrat (PERMIS)" in message
    assert "freins_thematiques.csv : thématique absente du catalogue des actions (YOGA)" in message
    assert con.execute("SELECT count(*) FROM reference.freins_thematiques").fetchall() == [(10,)]


def test_contract_doc_and_dbt_seeds_are_generated_from_the_declaration():
    from pipelines.contract_render import current, outputs

    stale = [str(path) for path, content in outputs().items() if not current(path, content)]
    assert stale == [], "stale: run python -m pipelines.contract_render"


def test_the_seeds_say_what_the_indicators_count():
    from pipelines.contract_render import seed

    assert seed("contrat_fonctions") == ("fonction,est_accompagnement\nCIP,true\nTRAVAILLEUR_SOCIAL,true\n"
                                         "CHARGE_RELATIONS_ENTREPRISES,false\nCOORDINATION,false\n")
    assert seed("contrat_jeux_par_source").splitlines() == [
        "source_type,dataset", "ALI,beneficiaires", "ALI,conseillers", "PARTENAIRE,participations",
        "PARTENAIRE,actions"]
    positives = [line.split(",")[0] for line in seed("contrat_motifs_sortie").splitlines() if line.endswith(",true")]
    assert positives == ["EMPLOI_DURABLE", "EMPLOI_TEMPORAIRE", "FORMATION_QUALIFIANTE", "CREATION_ENTREPRISE"]
