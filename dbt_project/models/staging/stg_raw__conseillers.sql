with

source as (

    select * from {{ source('raw', 'conseillers') }}

),

renamed as (

    select
        cast(periode as date) as periode,
        cast(source_code as varchar) as code_ali,
        cast(referent as varchar) as referent,
        cast(sha256 as varchar) as sha256,
        cast(ligne as integer) as ligne,

        cast(fonction as varchar) as fonction,
        cast(etp as double) as etp,
        cast(date_arrivee as date) as date_arrivee,
        cast(date_depart as date) as date_depart

    from source

)

select * from renamed
