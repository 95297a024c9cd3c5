with

source as (

    select * from {{ source('reference', 'freins_thematiques') }}

),

renamed as (

    select
        cast(frein as varchar) as frein,
        cast(thematique as varchar) as thematique

    from source

)

select * from renamed
