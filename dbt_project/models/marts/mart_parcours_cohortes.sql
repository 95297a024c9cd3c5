-- One row per (cohorte, code_ali) for every ALI open on E(cohorte), every month from the first
-- built month to L. See _marts.yml for each definition.
-- A cohort C reads every later month's rows of its passages: a refresh of months [a, b] rebuilds
-- C in [a − 12, b], every cohort of an entry date found in the rows of [a, b], and, when L moves,
-- the cohorts not yet mature at 12 months.
-- depends_on: {{ ref('int_beneficiaires_mois') }}
{{ config(
    unique_key='cohorte',
    pre_hook="{{ supprimer_periodes_rafraichies(recul=12, aussi=cohortes_a_reprendre()) }}",
) }}

with

dernier_mois_observe as (

    select * from {{ ref('int_dernier_mois_observe') }}

),

cohortes as (

    select
        ali_livre.periode as cohorte,
        ali_livre.fin_mois,
        ali_livre.code_ali,
        ali_livre.nom_ali,
        ali_livre.livre,
        dernier_mois_observe.dernier_mois_observe
    from {{ ref('int_ali_livre_mois') }} as ali_livre
    inner join dernier_mois_observe
        on ali_livre.periode <= dernier_mois_observe.dernier_mois_observe
    where {{ mois_a_construire('ali_livre.periode') }}

),

passages as (

    select
        *,
        cast(date_trunc('month', date_entree) as date) as cohorte
    from {{ ref('int_passages') }}

),

motifs_sortie as (

    select * from {{ ref('contrat_motifs_sortie') }}

),

passages_des_cohortes as (

    select
        passages.cohorte,
        passages.code_ali,
        passages.personne_id,
        passages.date_entree,
        passages.date_contrat,
        passages.date_sortie <= last_day(passages.cohorte + interval 6 month) as sorti_6m,
        passages.date_sortie <= last_day(passages.cohorte + interval 12 month) as sorti_12m,
        coalesce(motifs_sortie.est_positif, false) as sortie_positive,
        passages.date_contrat <= passages.date_entree + interval 60 day as contrat_60j
    from passages
    left join motifs_sortie
        on motifs_sortie.motif_sortie = passages.motif_sortie
    where passages.cohorte in (select cohorte from cohortes)

),

-- a person with two passages entering in C counts once, in a numerator when any passage qualifies
personnes as (

    select
        cohorte,
        code_ali,
        personne_id,
        bool_or(coalesce(sorti_6m, false)) as sorti_6m,
        bool_or(coalesce(sorti_6m and sortie_positive, false)) as sorti_positif_6m,
        bool_or(coalesce(sorti_12m, false)) as sorti_12m,
        bool_or(coalesce(sorti_12m and sortie_positive, false)) as sorti_positif_12m,
        bool_or(coalesce(contrat_60j, false)) as contrat_60j
    from passages_des_cohortes
    group by cohorte, code_ali, personne_id

),

par_cohorte as (

    select
        cohorte,
        code_ali,
        count(*) as entrants,
        count(*) filter (where sorti_6m) as sortis_6m,
        count(*) filter (where sorti_positif_6m) as sortis_positifs_6m,
        count(*) filter (where sorti_12m) as sortis_12m,
        count(*) filter (where sorti_positif_12m) as sortis_positifs_12m,
        count(*) filter (where contrat_60j) as contrats_60j
    from personnes
    group by cohorte, code_ali

),

-- the mean delay is over passages (not persons), those with a contract
delais as (

    select
        cohorte,
        code_ali,
        avg(date_diff('day', date_entree, date_contrat)) as delai_moyen_contrat_j
    from passages_des_cohortes
    where date_contrat is not null
    group by cohorte, code_ali

),

cohortes_observees as (

    select
        cohortes.*,
        cohortes.cohorte + interval 6 month <= cohortes.dernier_mois_observe as mature_6m,
        cohortes.cohorte + interval 12 month <= cohortes.dernier_mois_observe as mature_12m,
        cohortes.cohorte + interval 2 month <= cohortes.dernier_mois_observe as mature_60j
    from cohortes

),

final as (

    -- every figure is NULL when the ALI did not report C (livre false), and a figure needing months
    -- after L is NULL: not observable yet
    select
        c.cohorte,
        c.code_ali,
        c.nom_ali,
        case when c.livre then coalesce(p.entrants, 0) end as entrants,
        c.mature_6m,
        c.mature_12m,
        case when c.livre and c.mature_6m then coalesce(p.sortis_6m, 0) end as sortis_6m,
        case when c.livre and c.mature_6m then coalesce(p.sortis_positifs_6m, 0) end as sortis_positifs_6m,
        case when c.livre and c.mature_6m then cast(p.sortis_positifs_6m as double) / nullif(p.entrants, 0)
        end as taux_sorties_positives_6m,
        case when c.livre and c.mature_12m then coalesce(p.sortis_12m, 0) end as sortis_12m,
        case when c.livre and c.mature_12m then coalesce(p.sortis_positifs_12m, 0) end as sortis_positifs_12m,
        case when c.livre and c.mature_12m then cast(p.sortis_positifs_12m as double) / nullif(p.entrants, 0)
        end as taux_sorties_positives_12m,
        case when c.livre and c.mature_60j then coalesce(p.contrats_60j, 0) end as contrats_60j,
        case when c.livre and c.mature_60j then cast(p.contrats_60j as double) / nullif(p.entrants, 0)
        end as taux_contrat_60j,
        case when c.livre then cast(d.delai_moyen_contrat_j as double) end as delai_moyen_contrat_j
    from cohortes_observees as c
    left join par_cohorte as p
        on p.cohorte = c.cohorte
        and p.code_ali = c.code_ali
    left join delais as d
        on d.cohorte = c.cohorte
        and d.code_ali = c.code_ali

)

select * from final
