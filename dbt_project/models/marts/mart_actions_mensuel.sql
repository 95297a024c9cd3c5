-- One row per (periode, code_action) of the catalogue of the year of M. See _marts.yml.
-- prescrits_entres_3m of M reads the participations of M to M + 2: a refresh of months [a, b]
-- rebuilds [a − 2, b], and the months still waiting for their M + 2 (NULL) to follow L.
{{ config(pre_hook="{{ supprimer_periodes_rafraichies(recul=2, aussi='prescrits_entres_3m is null') }}") }}

with

actions as (

    select * from {{ ref('int_actions_places_mois') }}
    where {{ mois_a_construire('periode') }}

),

participations as (

    select * from {{ ref('int_participations_actions_mois') }}

),

prescriptions as (

    select * from {{ ref('int_prescriptions_actions_mois') }}
    where periode in (select periode from actions)  -- only the months being built

),

dernier_mois_observe as (

    select * from {{ ref('int_dernier_mois_observe') }}

),

final as (

    select
        actions.periode,
        actions.code_action,
        actions.code_partenaire,
        actions.thematique,
        actions.livre_actions as livre,
        actions.places_conventionnees,
        actions.places_occupees,
        cast(actions.places_occupees as double) / nullif(actions.places_conventionnees, 0) as taux_occupation,
        -- NULL without a valid participations delivery of the partner; 0 with one but no row
        case when actions.livre_participations then coalesce(participations.participants, 0) end as participants,
        case when actions.livre_participations then coalesce(participations.entrees, 0) end as entrees,
        case when actions.livre_participations then coalesce(participations.sorties, 0) end as sorties,
        case when actions.livre_participations then coalesce(participations.sorties_positives, 0) end
            as sorties_positives,
        coalesce(prescriptions.prescriptions, 0) as prescriptions,
        actions.montant_consomme_eur,
        coalesce(prescriptions.prescrits, 0) as prescrits,
        case
            when actions.periode + interval 2 month <= dernier_mois_observe.dernier_mois_observe
                then coalesce(prescriptions.prescrits_entres_3m, 0)
        end as prescrits_entres_3m,
        case
            when actions.periode + interval 2 month <= dernier_mois_observe.dernier_mois_observe
                then cast(prescriptions.prescrits_entres_3m as double) / nullif(prescriptions.prescrits, 0)
        end as taux_concretisation_3m
    from actions
    left join dernier_mois_observe on true
    left join participations
        on participations.periode = actions.periode
        and participations.code_partenaire = actions.code_partenaire
        and participations.code_action = actions.code_action
    left join prescriptions
        on prescriptions.periode = actions.periode
        and prescriptions.code_action = actions.code_action

)

select * from final
