-- One row per (periode, code_ali) for every ALI open on E. See _marts.yml for each definition.
with

ali_livre as (

    select * from {{ ref('int_ali_livre_mois') }}
    where {{ mois_a_construire('periode') }}

),

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where statut = 'LIVRE'

),

indicateurs_beneficiaires as (

    select * from {{ ref('int_beneficiaires_ali_mois') }}

),

conseillers as (

    select * from {{ ref('int_conseillers_fin_mois') }}

),

etp as (

    select
        periode,
        code_ali,
        -- summed as exact decimals: a float sum would depend on the (parallel) summation order
        cast(sum(cast(etp as decimal(18, 9))) filter (where est_accompagnement) as double) as etp_accompagnement
    from conseillers
    group by periode, code_ali

),

ali_mois as (

    select
        ali_livre.periode,
        ali_livre.code_ali,
        ali_livre.nom_ali,
        ali_livre.livre,
        -- NULL without a valid conseillers delivery; 0.0 with one but no adviser counted
        case
            when livraison_conseillers.source_code is not null then coalesce(etp.etp_accompagnement, 0.0)
        end as etp_accompagnement
    from ali_livre
    left join livraisons as livraison_conseillers
        on livraison_conseillers.periode = ali_livre.periode
        and livraison_conseillers.source_code = ali_livre.code_ali
        and livraison_conseillers.dataset = 'conseillers'
    left join etp
        on etp.periode = ali_livre.periode
        and etp.code_ali = ali_livre.code_ali

),

final as (

    -- when livre is false every beneficiaires-derived column is NULL; a valid delivery without
    -- rows gives counts of 0 and NULL rates
    select
        ali_mois.periode,
        ali_mois.code_ali,
        ali_mois.nom_ali,
        ali_mois.livre,
        case when ali_mois.livre then coalesce(b.file_active, 0) end as file_active,
        case when ali_mois.livre then coalesce(b.accompagnes_fin_mois, 0) end as accompagnes_fin_mois,
        case when ali_mois.livre then coalesce(b.entrees, 0) end as entrees,
        case when ali_mois.livre then coalesce(b.sorties, 0) end as sorties,
        case when ali_mois.livre then coalesce(b.sorties_positives, 0) end as sorties_positives,
        case when ali_mois.livre then b.taux_sorties_positives end as taux_sorties_positives,
        ali_mois.etp_accompagnement,
        case
            when ali_mois.livre
                then coalesce(b.accompagnes_fin_mois, 0) / nullif(ali_mois.etp_accompagnement, 0)
        end as accompagnes_par_etp,
        case when ali_mois.livre then b.delai_moyen_orientation_rdv_j end as delai_moyen_orientation_rdv_j,
        case when ali_mois.livre then b.part_rdv_sous_30j end as part_rdv_sous_30j,
        case when ali_mois.livre then b.taux_contractualisation end as taux_contractualisation,
        case when ali_mois.livre then b.entretiens_par_personne end as entretiens_par_personne,
        case when ali_mois.livre then coalesce(b.activite_renseignee, 0) end as activite_renseignee,
        case when ali_mois.livre then b.part_activite_15h end as part_activite_15h
    from ali_mois
    left join indicateurs_beneficiaires as b
        on b.periode = ali_mois.periode
        and b.code_ali = ali_mois.code_ali

)

select * from final
