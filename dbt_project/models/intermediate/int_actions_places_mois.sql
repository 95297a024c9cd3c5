-- The action catalogue of the year of each month with the partner's delivered `actions` row for M
-- when there is one (delivery in force). places_conventionnees falls back to the catalogue when the
-- action has no delivered row; places_occupees and montant_consomme_eur come only from the delivery.
with

catalogue as (

    select * from {{ ref('int_catalogue_actions_mois') }}

),

actions_livrees as (

    select * from {{ ref('stg_raw__actions') }}

),

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where source_type = 'PARTENAIRE' and statut = 'LIVRE'

),

final as (

    select
        catalogue.periode,
        catalogue.code_action,
        catalogue.code_partenaire,
        catalogue.thematique,
        livraison_actions.source_code is not null as livre_actions,
        livraison_participations.source_code is not null as livre_participations,
        actions_livrees.code_action is not null as a_ligne_livree,
        catalogue.places_conventionnees_catalogue,
        actions_livrees.places_conventionnees as places_conventionnees_livrees,
        coalesce(actions_livrees.places_conventionnees, catalogue.places_conventionnees_catalogue)
            as places_conventionnees,
        actions_livrees.places_occupees,
        actions_livrees.montant_consomme_eur
    from catalogue
    left join actions_livrees
        on actions_livrees.periode = catalogue.periode
        and actions_livrees.code_partenaire = catalogue.code_partenaire
        and actions_livrees.code_action = catalogue.code_action
    left join livraisons as livraison_actions
        on livraison_actions.periode = catalogue.periode
        and livraison_actions.source_code = catalogue.code_partenaire
        and livraison_actions.dataset = 'actions'
    left join livraisons as livraison_participations
        on livraison_participations.periode = catalogue.periode
        and livraison_participations.source_code = catalogue.code_partenaire
        and livraison_participations.dataset = 'participations'

)

select * from final
