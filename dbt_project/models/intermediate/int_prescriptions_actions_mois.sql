-- Prescriptions of month M per action: beneficiaires rows that count (see int_beneficiaires_mois)
-- whose `actions` list names the action; a row naming an action twice counts once.
-- prescriptions: rows; prescrits: distinct persons (parcours.md); prescrits_entres_3m: of those,
-- persons with a participations row for the action entering in [S(M), E(M + 2)], in the deliveries
-- of months M to M + 2 (counted here whatever L; the mart applies the maturity rule).
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}
    where len(actions) > 0

),

participations as (

    select * from {{ ref('stg_raw__participations') }}

),

actions_prescrites as (

    select
        periode,
        code_ali,
        personne_id,
        unnest(list_distinct(actions)) as code_action
    from beneficiaires

),

prescrits as (

    select distinct periode, code_action, personne_id
    from actions_prescrites

),

entres_3m as (

    select distinct
        prescrits.periode,
        prescrits.code_action,
        prescrits.personne_id
    from prescrits
    inner join participations
        on participations.code_action = prescrits.code_action
        and participations.personne_id = prescrits.personne_id
        and participations.periode between prescrits.periode and prescrits.periode + interval 2 month
        and participations.date_entree between prescrits.periode
            and last_day(prescrits.periode + interval 2 month)

),

par_action as (

    select
        prescrits.periode,
        prescrits.code_action,
        count(*) as prescrits,
        count(entres_3m.personne_id) as prescrits_entres_3m
    from prescrits
    left join entres_3m
        on entres_3m.periode = prescrits.periode
        and entres_3m.code_action = prescrits.code_action
        and entres_3m.personne_id = prescrits.personne_id
    group by prescrits.periode, prescrits.code_action

),

lignes as (

    select periode, code_action, count(*) as prescriptions
    from actions_prescrites
    group by periode, code_action

),

final as (

    select
        lignes.periode,
        lignes.code_action,
        lignes.prescriptions,
        par_action.prescrits,
        par_action.prescrits_entres_3m
    from lignes
    inner join par_action
        on par_action.periode = lignes.periode
        and par_action.code_action = lignes.code_action

)

select * from final
