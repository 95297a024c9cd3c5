-- A person accompanied at month end is in the month's file: file_active ≥ accompagnes_fin_mois,
-- for every ALI row and every département row.
{{ config(meta={'dagster': {'ref': {'name': 'mart_departement_mensuel'}}}) }}  -- its asset check in Dagster
select 'mart_ali_mensuel' as mart, periode, code_ali, file_active, accompagnes_fin_mois
from {{ ref('mart_ali_mensuel') }}
where file_active < accompagnes_fin_mois

union all

select 'mart_departement_mensuel' as mart, periode, null as code_ali, file_active, accompagnes_fin_mois
from {{ ref('mart_departement_mensuel') }}
where file_active < accompagnes_fin_mois
