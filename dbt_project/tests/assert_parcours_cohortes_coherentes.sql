-- mart_parcours_cohortes (parcours.md): sortis_positifs ≤ sortis ≤ entrants at 6 and 12 months, sortis
-- at 6 months ≤ at 12, contrats_60j ≤ entrants, every rate in [0, 1], and NULL exactly where the
-- rules say: counts NULL when the ALI did not deliver the cohort's month, a figure needing months
-- after L NULL (and the mature flags true exactly when C + 6 / C + 12 ≤ L). One row per violation.
{{ config(meta={'dagster': {'ref': {'name': 'mart_parcours_cohortes'}}}) }}  -- its asset check in Dagster
with

cohortes as (

    select * from {{ ref('mart_parcours_cohortes') }}

),

ali_livre as (

    select * from {{ ref('int_ali_livre_mois') }}

),

dernier_mois_observe as (

    select * from {{ ref('int_dernier_mois_observe') }}

),

lignes as (

    select
        cohortes.*,
        ali_livre.livre,
        dernier_mois_observe.dernier_mois_observe as l
    from cohortes
    left join ali_livre
        on ali_livre.periode = cohortes.cohorte
        and ali_livre.code_ali = cohortes.code_ali
    left join dernier_mois_observe on true

),

final as (

    select cohorte, code_ali, regle
    from lignes,
        unnest([
            case when sortis_positifs_6m > sortis_6m or sortis_6m > entrants then 'sortis_6m_emboites' end,
            case when sortis_positifs_12m > sortis_12m or sortis_12m > entrants then 'sortis_12m_emboites' end,
            case when sortis_6m > sortis_12m then 'sortis_6m_au_plus_sortis_12m' end,
            case when contrats_60j > entrants then 'contrats_au_plus_entrants' end,
            case when taux_sorties_positives_6m not between 0 and 1 or taux_sorties_positives_12m not between 0 and 1
                or taux_contrat_60j not between 0 and 1 then 'taux_entre_0_et_1' end,
            case when cohorte > l or livre is null then 'cohorte_hors_calendrier' end,
            case when mature_6m is distinct from (cohorte + interval 6 month <= l)
                or mature_12m is distinct from (cohorte + interval 12 month <= l) then 'maturite' end,
            case when (entrants is null) is distinct from (not livre) then 'entrants_vides_sans_livraison' end,
            case when (sortis_6m is null) is distinct from (entrants is null or not mature_6m)
                or (sortis_positifs_6m is null) is distinct from (sortis_6m is null) then 'vides_a_6_mois' end,
            case when (sortis_12m is null) is distinct from (entrants is null or not mature_12m)
                or (sortis_positifs_12m is null) is distinct from (sortis_12m is null) then 'vides_a_12_mois' end,
            case when (contrats_60j is null) is distinct from (entrants is null or cohorte + interval 2 month > l)
                then 'vides_a_60_jours' end
        ]) as violations(regle)
    where regle is not null

)

select * from final
