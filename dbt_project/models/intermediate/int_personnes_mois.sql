-- Distinct persons of month M over all the ALI that count (open on E, delivery in force):
-- one row per (periode, personne_id), whatever the number of ALI that accompany the person.
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}

),

final as (

    select
        periode,
        personne_id,
        count(distinct code_ali) as nb_ali,
        -- accompanied at month end: no date_sortie in at least one ALI
        bool_or(date_sortie is null) as est_accompagne_fin_mois
    from beneficiaires
    group by periode, personne_id

)

select * from final
