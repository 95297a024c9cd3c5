-- Prescriptions of month M per action: beneficiaires rows that count (see int_beneficiaires_mois)
-- whose `actions` list names the action; a row naming an action twice counts once.
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}
    where len(actions) > 0

),

actions_prescrites as (

    select
        periode,
        code_ali,
        personne_id,
        unnest(list_distinct(actions)) as code_action
    from beneficiaires

),

final as (

    select
        periode,
        code_action,
        count(*) as prescriptions
    from actions_prescrites
    group by periode, code_action

)

select * from final
