with

source as (

    select * from {{ source('reference', 'communes') }}

),

renamed as (

    select
        cast(code_insee as varchar) as code_insee,
        cast(nom as varchar) as nom_commune,
        cast(ept as varchar) as ept,
        cast(population_municipale as integer) as population_municipale

    from source

)

select * from renamed
