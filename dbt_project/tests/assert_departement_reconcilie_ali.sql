-- The département row reconciles with the ALI rows of the same month:
-- counts of open / delivering ALI, sums of events and ETP, and
-- max(ALI file_active) ≤ département file_active ≤ sum(ALI file_active) (a person counts once).
{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
with

ali as (

    select
        periode,
        count(*) as ali_ouvertes,
        count(*) filter (where livre) as ali_ayant_livre,
        sum(file_active) as somme_file_active,
        max(file_active) as max_file_active,
        sum(accompagnes_fin_mois) as somme_accompagnes,
        sum(entrees) as entrees,
        sum(sorties) as sorties,
        sum(sorties_positives) as sorties_positives,
        sum(etp_accompagnement) as etp_accompagnement
    from {{ ref('mart_ali_mensuel') }}
    group by periode

),

departement as (

    select * from {{ ref('mart_departement_mensuel') }}

)

select departement.periode
from departement
left join ali on ali.periode = departement.periode
where departement.ali_ouvertes <> coalesce(ali.ali_ouvertes, 0)
    or departement.ali_ayant_livre <> coalesce(ali.ali_ayant_livre, 0)
    or departement.entrees is distinct from ali.entrees
    or departement.sorties is distinct from ali.sorties
    or departement.sorties_positives is distinct from ali.sorties_positives
    or abs(coalesce(departement.etp_accompagnement, -1) - coalesce(ali.etp_accompagnement, -1)) > 1e-9
    or departement.file_active > ali.somme_file_active
    or departement.file_active < ali.max_file_active
    or departement.accompagnes_fin_mois > ali.somme_accompagnes
    or departement.personnes_multi_ali > departement.file_active
    or departement.sorties_positives > departement.sorties
