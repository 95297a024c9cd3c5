with

source as (

    select * from {{ source('reference', 'partenaires') }}

),

renamed as (

    select
        cast(code_partenaire as varchar) as code_partenaire,
        cast(nom as varchar) as nom_partenaire,
        cast(thematique as varchar) as thematique,
        cast(territoire as varchar) as territoire

    from source

)

select * from renamed
