-- Rates are DOUBLE in [0, 1] (NULL allowed). taux_occupation is checked separately (warning):
-- over-occupied actions are a data fact, not a computation error.
{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
with

ali as (

    select periode, code_ali as cle, taux_sorties_positives, part_rdv_sous_30j, taux_contractualisation
    from {{ ref('mart_ali_mensuel') }}

),

taux as (

    unpivot ali on taux_sorties_positives, part_rdv_sous_30j, taux_contractualisation
    into name indicateur value taux

),

departement as (

    select periode, 'departement' as cle, 'taux_sorties_positives' as indicateur, taux_sorties_positives as taux
    from {{ ref('mart_departement_mensuel') }}

)

select * from taux where taux < 0 or taux > 1
union all
select * from departement where taux < 0 or taux > 1
