-- Participations of month M aggregated per (partner, action): loaded rows of the delivery in force.
with

participations as (

    select * from {{ ref('stg_raw__participations') }}

),

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}

),

resultats_sortie as (

    select * from {{ ref('contrat_resultats_sortie') }}

),

final as (

    select
        participations.periode,
        participations.code_partenaire,
        participations.code_action,
        count(distinct participations.personne_id) as participants,
        count(*) filter (
            where participations.date_entree between calendrier.periode and calendrier.fin_mois
        ) as entrees,
        count(*) filter (where participations.date_sortie is not null) as sorties,
        count(*) filter (
            where participations.date_sortie is not null and resultats_sortie.est_positif
        ) as sorties_positives
    from participations
    inner join calendrier
        on calendrier.periode = participations.periode
    left join resultats_sortie
        on resultats_sortie.resultat_sortie = participations.resultat_sortie
    group by participations.periode, participations.code_partenaire, participations.code_action

)

select * from final
