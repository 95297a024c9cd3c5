with

source as (

    select * from {{ source('reference', 'objectifs') }}

),

renamed as (

    select
        cast(indicateur as varchar) as indicateur,
        cast(annee as integer) as annee,
        cast(valeur as double) as valeur,
        cast(source as varchar) as source_objectif

    from source

)

select * from renamed
