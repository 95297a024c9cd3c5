-- Every mart covers every month of the calendar (rows even when nothing was delivered).
{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
with

calendrier as (

    select periode from {{ ref('int_calendrier_mois') }}

),

couverture as (

    select 'mart_departement_mensuel' as mart, periode from {{ ref('mart_departement_mensuel') }}
    union
    select 'mart_territoire_mensuel' as mart, periode from {{ ref('mart_territoire_mensuel') }}
    union
    select 'mart_livraisons' as mart, periode from {{ ref('mart_livraisons') }}

),

marts as (

    select distinct mart from couverture

)

select marts.mart, calendrier.periode
from calendrier
cross join marts
left join couverture
    on couverture.mart = marts.mart
    and couverture.periode = calendrier.periode
where couverture.periode is null
