-- mart_freins_mensuel: personnes_orientees and personnes_en_action ≤ personnes, rates in [0, 1],
-- counts NULL exactly when the ALI did not deliver. mart_actions_mensuel: prescrits ≤ prescriptions
-- (a person is at least one row), prescrits_entres_3m ≤ prescrits and NULL exactly when M + 2 > L.
-- mart_ali_mensuel: activite_renseignee ≤ accompagnes_fin_mois. One row per violation.
{{ config(meta={'dagster': {'ref': {'name': 'mart_freins_mensuel'}}}) }}  -- its asset check in Dagster
with

freins as (

    select * from {{ ref('mart_freins_mensuel') }}

),

ali_livre as (

    select * from {{ ref('int_ali_livre_mois') }}

),

actions as (

    select * from {{ ref('mart_actions_mensuel') }}

),

ali as (

    select * from {{ ref('mart_ali_mensuel') }}

),

dernier_mois_observe as (

    select * from {{ ref('int_dernier_mois_observe') }}

),

final as (

    select 'mart_freins_mensuel' as mart, freins.periode, freins.code_ali || ' ' || freins.frein as cle
    from freins
    left join ali_livre
        on ali_livre.periode = freins.periode
        and ali_livre.code_ali = freins.code_ali
    where freins.personnes_orientees > freins.personnes
        or freins.personnes_en_action > freins.personnes
        or freins.taux_orientation not between 0 and 1
        or freins.taux_en_action not between 0 and 1
        or (freins.personnes is null) is distinct from (not ali_livre.livre)

    union all

    select 'mart_actions_mensuel' as mart, actions.periode, actions.code_action as cle
    from actions
    left join dernier_mois_observe on true
    where actions.prescrits > actions.prescriptions
        or actions.prescrits_entres_3m > actions.prescrits
        or actions.taux_concretisation_3m not between 0 and 1
        or (actions.prescrits_entres_3m is null) is distinct from
            (dernier_mois_observe.dernier_mois_observe is null
                or actions.periode + interval 2 month > dernier_mois_observe.dernier_mois_observe)

    union all

    select 'mart_ali_mensuel' as mart, ali.periode, ali.code_ali as cle
    from ali
    where ali.activite_renseignee > ali.accompagnes_fin_mois
        or ali.part_activite_15h not between 0 and 1
        or (ali.activite_renseignee is null) is distinct from (not ali.livre)

)

select * from final
