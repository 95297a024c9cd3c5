-- Indicators of one ALI for month M computed from its beneficiaires rows (S = periode, E = fin_mois).
-- One row per (periode, code_ali) having at least one row; rates and means are NULL on an empty base.
with

beneficiaires as (

    select * from {{ ref('int_beneficiaires_mois') }}

),

motifs_sortie as (

    select * from {{ ref('contrat_motifs_sortie') }}

),

lignes as (

    select
        periode,
        code_ali,
        personne_id,
        nb_entretiens,
        date_entree between periode and fin_mois as est_entree,
        date_sortie is not null as est_sortie,
        date_sortie is not null and coalesce(motifs_sortie.est_positif, false) as est_sortie_positive,
        -- first appointment in the month: its delay in whole calendar days
        case
            when date_premier_rdv between periode and fin_mois
                then date_diff('day', date_orientation, date_premier_rdv)
        end as delai_rdv_j,
        -- maturity rule: still accompanied and entered on or before E − 60 days
        date_sortie is null
            and date_entree <= cast(fin_mois - interval 60 day as date) as est_mature,
        date_contrat is not null and date_contrat <= fin_mois as a_contrat,
        -- 2025 rule, 15 h a week: heures × 7 ≥ 15 × days in M, on the delivered decimal (its shortest
        -- writing, e.g. 64.2857, recovered exactly from the stored double; a double product would
        -- round some values across the threshold)
        date_sortie is null and heures_activite is not null as a_activite,
        coalesce(
            try_cast(cast(heures_activite as varchar) as decimal(38, 18)) * 7 >= 15 * day(fin_mois),
            heures_activite * 7 >= 15 * day(fin_mois)
        ) as atteint_15h
    from beneficiaires
    left join motifs_sortie using (motif_sortie)

),

agrege as (

    select
        periode,
        code_ali,
        count(distinct personne_id) as file_active,
        count(distinct personne_id) filter (where not est_sortie) as accompagnes_fin_mois,
        count(*) filter (where est_entree) as entrees,
        count(*) filter (where est_sortie) as sorties,
        count(*) filter (where est_sortie_positive) as sorties_positives,
        avg(delai_rdv_j) as delai_moyen_orientation_rdv_j,
        count(*) filter (where delai_rdv_j <= 30) as rdv_sous_30j,
        count(delai_rdv_j) as rdv_du_mois,
        count(*) filter (where est_mature and a_contrat) as matures_avec_contrat,
        count(*) filter (where est_mature) as matures,
        sum(nb_entretiens) as entretiens,
        count(distinct personne_id) filter (where a_activite) as activite_renseignee,
        count(distinct personne_id) filter (where a_activite and atteint_15h) as activite_15h
    from lignes
    group by periode, code_ali

),

final as (

    select
        periode,
        code_ali,
        file_active,
        accompagnes_fin_mois,
        entrees,
        sorties,
        sorties_positives,
        cast(sorties_positives as double) / nullif(sorties, 0) as taux_sorties_positives,
        cast(delai_moyen_orientation_rdv_j as double) as delai_moyen_orientation_rdv_j,
        cast(rdv_sous_30j as double) / nullif(rdv_du_mois, 0) as part_rdv_sous_30j,
        cast(matures_avec_contrat as double) / nullif(matures, 0) as taux_contractualisation,
        cast(entretiens as double) / nullif(file_active, 0) as entretiens_par_personne,
        activite_renseignee,
        cast(activite_15h as double) / nullif(activite_renseignee, 0) as part_activite_15h
    from agrege

)

select * from final
