-- Months × actions of the catalogue of the month's year.
with

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}

),

catalogue as (

    select * from {{ ref('stg_reference__actions') }}

),

final as (

    select
        calendrier.periode,
        calendrier.fin_mois,
        catalogue.code_action,
        catalogue.code_partenaire,
        catalogue.thematique,
        catalogue.places_conventionnees as places_conventionnees_catalogue
    from calendrier
    inner join catalogue
        on catalogue.annee = calendrier.annee

)

select * from final
