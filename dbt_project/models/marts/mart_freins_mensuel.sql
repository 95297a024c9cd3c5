-- One row per (periode, code_ali, frein) for every ALI open on E and each frein of the contract.
-- See _marts.yml for each definition. Month M reads the rows of M − 2 .. M: a refresh of months
-- [a, b] rebuilds [a, b + 2].
{{ config(unique_key='periode', pre_hook="{{ supprimer_periodes_rafraichies(avance=2) }}") }}

with

ali_livre as (

    select * from {{ ref('int_ali_livre_mois') }}
    where {{ mois_a_construire('periode') }}

),

freins as (

    select * from {{ ref('contrat_freins') }}

),

freins_personnes as (

    select * from {{ ref('int_freins_personnes_mois') }}
    where periode in (select periode from ali_livre)  -- only the months being built

),

par_frein as (

    select
        periode,
        code_ali,
        frein,
        count(distinct personne_id) as personnes,
        count(distinct personne_id) filter (where est_orientee) as personnes_orientees,
        count(distinct personne_id) filter (where est_en_action) as personnes_en_action
    from freins_personnes
    group by periode, code_ali, frein

),

final as (

    select
        ali_livre.periode,
        ali_livre.code_ali,
        ali_livre.nom_ali,
        freins.frein,
        case when ali_livre.livre then coalesce(par_frein.personnes, 0) end as personnes,
        case when ali_livre.livre then coalesce(par_frein.personnes_orientees, 0) end as personnes_orientees,
        case when ali_livre.livre then cast(par_frein.personnes_orientees as double) / nullif(par_frein.personnes, 0)
        end as taux_orientation,
        case when ali_livre.livre then coalesce(par_frein.personnes_en_action, 0) end as personnes_en_action,
        case when ali_livre.livre then cast(par_frein.personnes_en_action as double) / nullif(par_frein.personnes, 0)
        end as taux_en_action
    from ali_livre
    cross join freins
    left join par_frein
        on par_frein.periode = ali_livre.periode
        and par_frein.code_ali = ali_livre.code_ali
        and par_frein.frein = freins.frein

)

select * from final
