-- The months the marts cover, from the data: every month from the first month with a delivery
-- (or the first ALI opening, if earlier) up to the last month present in the manifest.
with

livraisons as (

    select * from {{ ref('stg_raw__livraisons') }}

),

ali as (

    select * from {{ ref('stg_reference__ali') }}

),

bornes as (

    select
        least(
            (select min(periode) from livraisons),
            (select cast(date_trunc('month', min(date_ouverture)) as date) from ali)
        ) as premier_mois,
        (select max(periode) from livraisons) as dernier_mois

),

mois as (

    select cast(serie.mois as date) as periode
    from bornes,
        generate_series(
            cast(bornes.premier_mois as timestamp),
            cast(bornes.dernier_mois as timestamp),
            interval 1 month
        ) as serie(mois)

),

final as (

    select
        periode,
        cast(last_day(periode) as date) as fin_mois,
        cast(year(periode) as integer) as annee
    from mois

)

select * from final
