-- One row per passage (parcours.md): an accompaniment spell (code_ali, personne_id, date_entree),
-- made of every counted beneficiaires row of that ALI, person and entry date, in any month.
-- date_sortie / motif_sortie: those of its row with the earliest non-empty date_sortie (several rows
-- with that date and different motifs: the latest delivered month's, the sender's last word);
-- date_contrat: the earliest date_contrat on or after date_entree on any of its rows.
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}
    where date_entree is not null

),

sorties as (

    select
        code_ali,
        personne_id,
        date_entree,
        arg_min(motif_sortie, (date_sortie, - epoch(periode))) as motif_sortie
    from beneficiaires
    where date_sortie is not null
    group by all

),

passages as (

    select
        code_ali,
        personne_id,
        date_entree,
        min(date_sortie) as date_sortie,
        min(date_contrat) filter (where date_contrat >= date_entree) as date_contrat,
        min(periode) as premier_mois,
        max(periode) as dernier_mois
    from beneficiaires
    group by all

),

final as (

    select
        passages.code_ali,
        passages.personne_id,
        passages.date_entree,
        passages.date_sortie,
        sorties.motif_sortie,
        passages.date_contrat,
        passages.premier_mois,
        passages.dernier_mois
    from passages
    left join sorties
        on sorties.code_ali = passages.code_ali
        and sorties.personne_id = passages.personne_id
        and sorties.date_entree = passages.date_entree

)

select * from final
