-- Delivery status of every (periode, source_code, dataset) expected or received.
-- Expected: ALI open on E (beneficiaires, conseillers); partner with at least one catalogue action in
-- the year of M (participations, actions). Received: any manifest row placed in a month (a folder
-- that is not a month has periode NULL and cannot be placed: left out). Keys are compared NULL-safe:
-- a misplaced file may have no source_code or dataset.
with

livraisons as (

    select * from {{ ref('stg_raw__livraisons') }}
    where periode is not null

),

ali_ouvertes as (

    select * from {{ ref('int_ali_ouvertes_mois') }}

),

catalogue as (

    select * from {{ ref('int_catalogue_actions_mois') }}

),

ali as (

    select * from {{ ref('stg_reference__ali') }}

),

partenaires as (

    select * from {{ ref('stg_reference__partenaires') }}

),

jeux_par_source as (

    select * from {{ ref('contrat_jeux_par_source') }}

),

types_source as (

    select code_ali as source_code, 'ALI' as source_type from ali
    union all
    select code_partenaire as source_code, 'PARTENAIRE' as source_type from partenaires

),

attendues as (

    select ali_ouvertes.periode, ali_ouvertes.code_ali as source_code, jeux_par_source.dataset
    from ali_ouvertes
    inner join jeux_par_source
        on jeux_par_source.source_type = 'ALI'

    union

    select distinct catalogue.periode, catalogue.code_partenaire as source_code, jeux_par_source.dataset
    from catalogue
    inner join jeux_par_source
        on jeux_par_source.source_type = 'PARTENAIRE'

),

cles as (

    select periode, source_code, dataset, bool_or(attendu) as attendu
    from (
        select periode, source_code, dataset, true as attendu from attendues
        union all
        select periode, source_code, dataset, false as attendu from livraisons
    ) as toutes
    group by periode, source_code, dataset

),

fichier_decrit as (

    -- the delivery in force, else the last rejected file
    select *
    from livraisons
    where (statut = 'VALIDE' and est_en_vigueur) or statut = 'REJETE'
    qualify row_number() over (
        partition by periode, source_code, dataset
        order by (statut = 'VALIDE' and est_en_vigueur) desc, recu_le desc nulls last, fichier desc
    ) = 1

),

dernier_recu as (

    select *
    from livraisons
    qualify row_number() over (
        partition by periode, source_code, dataset order by recu_le desc nulls last, fichier desc
    ) = 1

),

versions as (

    select periode, source_code, dataset, count(distinct sha256) as versions_recues
    from livraisons
    group by periode, source_code, dataset

),

final as (

    select
        cles.periode,
        cles.source_code,
        types_source.source_type,
        cles.dataset,
        cles.attendu,
        case fichier_decrit.statut
            when 'VALIDE' then 'LIVRE'
            when 'REJETE' then 'REJETE'
            else 'ABSENT'
        end as statut,
        fichier_decrit.fichier,
        fichier_decrit.recu_le,
        fichier_decrit.sha256,
        fichier_decrit.lignes_lues,
        fichier_decrit.lignes_chargees,
        fichier_decrit.lignes_quarantaine,
        fichier_decrit.lignes_ignorees,
        case when dernier_recu.statut = 'REJETE' then dernier_recu.motif_rejet end as motif_rejet,
        coalesce(versions.versions_recues, 0) as versions_recues
    from cles
    left join types_source
        on types_source.source_code = cles.source_code
    left join fichier_decrit
        on fichier_decrit.periode = cles.periode
        and fichier_decrit.source_code is not distinct from cles.source_code
        and fichier_decrit.dataset is not distinct from cles.dataset
    left join dernier_recu
        on dernier_recu.periode = cles.periode
        and dernier_recu.source_code is not distinct from cles.source_code
        and dernier_recu.dataset is not distinct from cles.dataset
    left join versions
        on versions.periode = cles.periode
        and versions.source_code is not distinct from cles.source_code
        and versions.dataset is not distinct from cles.dataset

)

select * from final
