with

source as (

    select * from {{ source('reference', 'actions') }}

),

renamed as (

    select
        cast(code_action as varchar) as code_action,
        cast(annee as integer) as annee,
        cast(code_partenaire as varchar) as code_partenaire,
        cast(thematique as varchar) as thematique,
        cast(intitule as varchar) as intitule,
        cast(places_conventionnees as bigint) as places_conventionnees,
        cast(budget_annuel_eur as double) as budget_annuel_eur

    from source

)

select * from renamed
