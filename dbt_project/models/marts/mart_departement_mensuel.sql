-- One row per periode for the whole département. See _marts.yml for each definition and reading.
with

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}
    where {{ mois_a_construire('periode') }}

),

ali_mensuel as (

    select * from {{ ref('mart_ali_mensuel') }}

),

personnes as (

    select * from {{ ref('int_personnes_mois') }}

),

actions as (

    select * from {{ ref('int_actions_places_mois') }}

),

objectifs as (

    select * from {{ ref('stg_reference__objectifs') }}

),

ali as (

    -- sums of the ALI rows; SQL sum ignores NULL (ALI that did not deliver)
    select
        periode,
        count(*) as ali_ouvertes,
        count(*) filter (where livre) as ali_ayant_livre,
        cast(sum(entrees) as bigint) as entrees,
        cast(sum(sorties) as bigint) as sorties,
        cast(sum(sorties_positives) as bigint) as sorties_positives,
        -- exact decimal sum (deterministic whatever the summation order)
        cast(sum(cast(etp_accompagnement as decimal(18, 9))) as double) as etp_accompagnement
    from ali_mensuel
    group by periode

),

personnes_mois as (

    select
        periode,
        count(*) as file_active,
        count(*) filter (where est_accompagne_fin_mois) as accompagnes_fin_mois,
        count(*) filter (where nb_ali >= 2) as personnes_multi_ali
    from personnes
    group by periode

),

places as (

    select
        periode,
        cast(sum(places_conventionnees) as bigint) as places_conventionnees,
        cast(sum(places_occupees) filter (where places_conventionnees_livrees > 0) as bigint)
            as places_occupees,
        cast(sum(places_conventionnees_livrees) filter (where places_conventionnees_livrees > 0) as bigint)
            as places_conventionnees_occupables
    from actions
    group by periode

),

cibles as (

    select
        arg_max(valeur, annee) filter (where indicateur = 'places_actions_insertion') as objectif_places,
        arg_max(valeur, annee) filter (where indicateur = 'conseillers_suivi') as objectif_conseillers
    from objectifs

),

final as (

    select
        calendrier.periode,
        coalesce(ali.ali_ouvertes, 0) as ali_ouvertes,
        coalesce(ali.ali_ayant_livre, 0) as ali_ayant_livre,
        -- person counts are NULL when no open ALI delivered (as the ALI rows when livre is false)
        case when ali.ali_ayant_livre > 0 then coalesce(personnes_mois.file_active, 0) end as file_active,
        case when ali.ali_ayant_livre > 0 then coalesce(personnes_mois.accompagnes_fin_mois, 0) end
            as accompagnes_fin_mois,
        case when ali.ali_ayant_livre > 0 then coalesce(personnes_mois.personnes_multi_ali, 0) end
            as personnes_multi_ali,
        ali.entrees,
        ali.sorties,
        ali.sorties_positives,
        cast(ali.sorties_positives as double) / nullif(ali.sorties, 0) as taux_sorties_positives,
        ali.etp_accompagnement,
        case when ali.ali_ayant_livre > 0 then coalesce(personnes_mois.accompagnes_fin_mois, 0) end
            / nullif(ali.etp_accompagnement, 0) as accompagnes_par_etp,
        places.places_conventionnees,
        places.places_occupees,
        cast(places.places_occupees as double) / nullif(places.places_conventionnees_occupables, 0)
            as taux_occupation,
        cibles.objectif_places,
        cibles.objectif_conseillers
    from calendrier
    cross join cibles
    left join ali
        on ali.periode = calendrier.periode
    left join personnes_mois
        on personnes_mois.periode = calendrier.periode
    left join places
        on places.periode = calendrier.periode

)

select * from final
