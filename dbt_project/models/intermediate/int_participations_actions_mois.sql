-- Participations of month M aggregated per (partner, action): loaded rows of the delivery in force.
with

participations as (

    select * from {{ ref('stg_raw__participations') }}

),

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}

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
            where participations.date_sortie is not null
            and participations.resultat_sortie in ('EMPLOI', 'FORMATION', 'CREATION_ENTREPRISE')
        ) as sorties_positives
    from participations
    inner join calendrier
        on calendrier.periode = participations.periode
    group by participations.periode, participations.code_partenaire, participations.code_action

)

select * from final
