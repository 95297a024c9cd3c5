with

source as (

    select * from {{ source('reference', 'ali') }}

),

renamed as (

    select
        cast(code_ali as varchar) as code_ali,
        cast(nom as varchar) as nom_ali,
        cast(porteur as varchar) as porteur,
        cast(communes as varchar[]) as communes,
        cast(date_ouverture as date) as date_ouverture

    from source

)

select * from renamed
