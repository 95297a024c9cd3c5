with

source as (

    select * from {{ source('raw', 'actions') }}

),

renamed as (

    select
        cast(periode as date) as periode,
        cast(source_code as varchar) as code_partenaire,
        cast(code_action as varchar) as code_action,
        cast(sha256 as varchar) as sha256,
        cast(ligne as integer) as ligne,

        cast(places_conventionnees as bigint) as places_conventionnees,
        cast(places_occupees as bigint) as places_occupees,
        cast(montant_consomme_eur as double) as montant_consomme_eur

    from source

)

select * from renamed
