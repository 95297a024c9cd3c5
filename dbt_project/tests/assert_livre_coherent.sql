-- `livre` of the ALI and action marts is the LIVRE status of the same key in mart_livraisons; an
-- ALI row without delivery has only NULL beneficiaires columns, one with a delivery has counts.
-- Every expected key of mart_livraisons matches a row of the ALI or action mart.
{{ config(meta={'dagster': {'ref': {'name': 'mart_livraisons'}}}) }}  -- its asset check in Dagster
with

livraisons as (

    select * from {{ ref('mart_livraisons') }}

),

ali as (

    select * from {{ ref('mart_ali_mensuel') }}

),

actions as (

    select distinct periode, code_partenaire, livre from {{ ref('mart_actions_mensuel') }}

),

ali_incoherentes as (

    select ali.periode, ali.code_ali as source_code
    from ali
    left join livraisons
        on livraisons.periode = ali.periode
        and livraisons.source_code = ali.code_ali
        and livraisons.dataset = 'beneficiaires'
    where livraisons.statut is null
        or ali.livre <> (livraisons.statut = 'LIVRE')
        or (not ali.livre and coalesce(file_active, accompagnes_fin_mois, entrees, sorties, sorties_positives)
            is not null)
        or (not ali.livre and coalesce(taux_sorties_positives, accompagnes_par_etp, delai_moyen_orientation_rdv_j,
            part_rdv_sous_30j, taux_contractualisation, entretiens_par_personne) is not null)
        or (ali.livre and (file_active is null or accompagnes_fin_mois is null or entrees is null
            or sorties is null or sorties_positives is null))

),

actions_incoherentes as (

    select actions.periode, actions.code_partenaire as source_code
    from actions
    left join livraisons
        on livraisons.periode = actions.periode
        and livraisons.source_code = actions.code_partenaire
        and livraisons.dataset = 'actions'
    where livraisons.statut is null
        or actions.livre <> (livraisons.statut = 'LIVRE')

),

cles_orphelines as (

    select livraisons.periode, livraisons.source_code
    from livraisons
    where livraisons.attendu
        and not exists (
            select 1 from ali
            where ali.periode = livraisons.periode and ali.code_ali = livraisons.source_code
        )
        and not exists (
            select 1 from actions
            where actions.periode = livraisons.periode and actions.code_partenaire = livraisons.source_code
        )

)

select * from ali_incoherentes
union all
select * from actions_incoherentes
union all
select * from cles_orphelines
