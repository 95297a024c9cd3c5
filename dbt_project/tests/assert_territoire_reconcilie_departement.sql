-- Every person of the département lives in one of the 39 communes (a person whose ALI disagree on
-- the commune counts in each): département file_active ≤ sum of communes ≤ sum of ALI file_active.
-- Every month has the 39 communes.
{{ config(meta={'dagster': {'ref': {'name': 'mart_territoire_mensuel'}}}) }}  -- its asset check in Dagster
with

territoire as (

    select periode, sum(file_active) as somme_file_active, count(*) as nb_communes
    from {{ ref('mart_territoire_mensuel') }}
    group by periode

),

ali as (

    select periode, sum(file_active) as somme_file_active
    from {{ ref('mart_ali_mensuel') }}
    group by periode

),

communes as (

    select count(*) as nb_communes from {{ ref('stg_reference__communes') }}

)

select departement.periode
from {{ ref('mart_departement_mensuel') }} as departement
cross join communes
left join territoire on territoire.periode = departement.periode
left join ali on ali.periode = departement.periode
where coalesce(territoire.nb_communes, 0) <> communes.nb_communes
    or coalesce(departement.file_active, 0) > territoire.somme_file_active
    or territoire.somme_file_active > coalesce(ali.somme_file_active, 0)
