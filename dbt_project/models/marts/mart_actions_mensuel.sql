-- One row per (periode, code_action) of the catalogue of the year of M. See _marts.yml.
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
        actions.montant_consomme_eur
    from actions
    left join participations
        on participations.periode = actions.periode
        and participations.code_partenaire = actions.code_partenaire
        and participations.code_action = actions.code_action
    left join prescriptions
        on prescriptions.periode = actions.periode
        and prescriptions.code_action = actions.code_action

)

select * from final
