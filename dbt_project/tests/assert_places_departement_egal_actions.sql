-- The département's places are the sums of the action rows of the month: places_conventionnees over
-- every catalogue action, places_occupees over the delivered actions with places > 0.
{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
with

actions as (

    select
        periode,
        sum(places_conventionnees) as places_conventionnees,
        sum(places_occupees) filter (where places_conventionnees > 0) as places_occupees
    from {{ ref('mart_actions_mensuel') }}
    group by periode

)

select departement.periode
from {{ ref('mart_departement_mensuel') }} as departement
left join actions on actions.periode = departement.periode
where departement.places_conventionnees is distinct from actions.places_conventionnees
    or departement.places_occupees is distinct from actions.places_occupees
