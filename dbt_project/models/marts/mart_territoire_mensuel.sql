-- One row per (periode, code_insee) of the 39 communes. See _marts.yml.
with

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}
    where {{ mois_a_construire('periode') }}

),

communes as (

    select * from {{ ref('stg_reference__communes') }}

),

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}

),

personnes_commune as (

    select
        periode,
        code_insee,
        count(distinct personne_id) as file_active
    from beneficiaires
    group by periode, code_insee

),

final as (

    select
        calendrier.periode,
        communes.code_insee,
        communes.nom_commune as commune,
        communes.ept,
        communes.population_municipale,
        coalesce(personnes_commune.file_active, 0) as file_active,
        1000.0 * coalesce(personnes_commune.file_active, 0) / nullif(communes.population_municipale, 0)
            as accompagnes_pour_1000_hab
    from calendrier
    cross join communes
    left join personnes_commune
        on personnes_commune.periode = calendrier.periode
        and personnes_commune.code_insee = communes.code_insee

)

select * from final
