-- One row per (periode M, code_ali, personne_id, frein) of a person whose beneficiaires row of M at
-- that ALI lists the frein (parcours.md), with whether the frein got an answer within M − 2 .. M:
-- est_orientee: a row of the same ALI in M, M − 1 or M − 2 lists an action answering the frein in
-- the catalogue of that row's year; est_en_action: a participations row (any partner) in M, M − 1
-- or M − 2 for such an action.
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}

),

participations as (

    select * from {{ ref('stg_raw__participations') }}

),

actions_repondant_aux_freins as (

    select * from {{ ref('int_actions_repondant_aux_freins') }}

),

freins_du_mois as (

    select distinct
        periode,
        code_ali,
        personne_id,
        unnest(freins) as frein
    from beneficiaires
    where len(freins) > 0

),

orientations as (

    select distinct
        prescriptions.periode,
        prescriptions.code_ali,
        prescriptions.personne_id,
        actions_repondant_aux_freins.frein
    from (
        select periode, code_ali, personne_id, unnest(actions) as code_action
        from beneficiaires
        where len(actions) > 0
    ) as prescriptions
    inner join actions_repondant_aux_freins
        on actions_repondant_aux_freins.annee = year(prescriptions.periode)
        and actions_repondant_aux_freins.code_action = prescriptions.code_action

),

participations_repondantes as (

    select distinct
        participations.periode,
        participations.personne_id,
        actions_repondant_aux_freins.frein
    from participations
    inner join actions_repondant_aux_freins
        on actions_repondant_aux_freins.annee = year(participations.periode)
        and actions_repondant_aux_freins.code_action = participations.code_action

),

final as (

    select
        freins_du_mois.periode,
        freins_du_mois.code_ali,
        freins_du_mois.personne_id,
        freins_du_mois.frein,
        exists (
            select 1 from orientations
            where orientations.code_ali = freins_du_mois.code_ali
                and orientations.personne_id = freins_du_mois.personne_id
                and orientations.frein = freins_du_mois.frein
                and orientations.periode between freins_du_mois.periode - interval 2 month
                    and freins_du_mois.periode
        ) as est_orientee,
        exists (
            select 1 from participations_repondantes
            where participations_repondantes.personne_id = freins_du_mois.personne_id
                and participations_repondantes.frein = freins_du_mois.frein
                and participations_repondantes.periode between freins_du_mois.periode - interval 2 month
                    and freins_du_mois.periode
        ) as est_en_action
    from freins_du_mois

)

select * from final
