{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
{{ config(severity='warn') }}
-- Occupancy rates in [0, 1]: more places occupied than financed is reported (warning), not blocked.
select 'mart_actions_mensuel' as mart, periode, code_action, taux_occupation
from {{ ref('mart_actions_mensuel') }}
where taux_occupation < 0 or taux_occupation > 1

union all

select 'mart_departement_mensuel' as mart, periode, null as code_action, taux_occupation
from {{ ref('mart_departement_mensuel') }}
where taux_occupation < 0 or taux_occupation > 1
