-- Which action answers which frein, per catalogue year (parcours.md: "an answering action" in month N
-- is an action code whose thématique in the catalogue of the year of N answers the frein).
with

actions as (

    select * from {{ ref('stg_reference__actions') }}

),

freins_thematiques as (

    select * from {{ ref('stg_reference__freins_thematiques') }}

),

final as (

    select
        actions.annee,
        actions.code_action,
        freins_thematiques.frein
    from actions
    inner join freins_thematiques
        on freins_thematiques.thematique = actions.thematique

)

select * from final
