-- Advisers present at month end per ALI: loaded conseillers rows of the delivery in force whose
-- date_depart is empty or ≥ E, with a flag for the accompaniment functions (seed contrat_fonctions).
with

conseillers as (

    select * from {{ ref('stg_raw__conseillers') }}

),

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}

),

fonctions as (

    select * from {{ ref('contrat_fonctions') }}

),

final as (

    select
        conseillers.periode,
        calendrier.fin_mois,
        conseillers.code_ali,
        conseillers.referent,
        conseillers.fonction,
        conseillers.etp,
        coalesce(fonctions.est_accompagnement, false) as est_accompagnement
    from conseillers
    inner join calendrier
        on calendrier.periode = conseillers.periode
    left join fonctions
        on fonctions.fonction = conseillers.fonction
    where conseillers.date_depart is null
        or conseillers.date_depart >= calendrier.fin_mois

)

select * from final
