with

source as (

    select * from {{ source('raw', 'participations') }}

),

renamed as (

    select
        cast(periode as date) as periode,
        cast(source_code as varchar) as code_partenaire,
        cast(code_action as varchar) as code_action,
        cast(personne_id as varchar) as personne_id,
        cast(sha256 as varchar) as sha256,
        cast(ligne as integer) as ligne,

        cast(organisme as varchar) as organisme,
        cast(date_entree as date) as date_entree,
        cast(date_sortie as date) as date_sortie,
        cast(resultat_sortie as varchar) as resultat_sortie,
        cast(heures_realisees as double) as heures_realisees

    from source

)

select * from renamed
