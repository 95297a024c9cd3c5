-- mart_qualite_sources (retours.md §3): the expected datasets are those of the source type
-- (contrat_jeux_par_source), datasets_livres ≤ datasets_attendus and equals the LIVRE keys of
-- mart_livraisons, a_l_heure ⇔ retard_j = 0, retard_j ≥ 0 and NULL exactly when a dataset is
-- missing, line counts are the sums of mart_livraisons' deliveries in force with
-- lignes_quarantaine ≤ lignes_lues, the rate in [0, 1] and NULL exactly when no line was read,
-- versions_recues at least 1 when something is in force. One row per violation.
{{ config(meta={'dagster': {'ref': {'name': 'mart_qualite_sources'}}}) }}  -- its asset check in Dagster
with

qualite as (

    select * from {{ ref('mart_qualite_sources') }}

),

livraisons as (

    select * from {{ ref('mart_livraisons') }}

),

jeux_par_source as (

    select * from {{ ref('contrat_jeux_par_source') }}

),

jeux_par_type as (

    select source_type, count(*) as jeux
    from jeux_par_source
    group by source_type

),

par_source as (

    select
        periode,
        source_code,
        count(*) filter (where attendu and statut = 'LIVRE') as livres,
        coalesce(sum(lignes_lues) filter (where statut = 'LIVRE'), 0) as lues,
        coalesce(sum(lignes_quarantaine) filter (where statut = 'LIVRE'), 0) as quarantaine
    from livraisons
    group by periode, source_code

),

lignes as (

    select qualite.*, jeux_par_type.jeux, par_source.livres, par_source.lues, par_source.quarantaine
    from qualite
    left join jeux_par_type
        on jeux_par_type.source_type = qualite.source_type
    left join par_source
        on par_source.periode = qualite.periode
        and par_source.source_code = qualite.source_code

),

final as (

    select periode, source_code, regle
    from lignes,
        unnest([
            case when datasets_attendus is distinct from jeux then 'jeux_du_type_de_source' end,
            case when datasets_livres > datasets_attendus or datasets_livres is distinct from livres
                then 'livres_parmi_attendus' end,
            case when a_l_heure is distinct from coalesce(retard_j = 0, false) then 'a_l_heure_si_retard_nul' end,
            case when retard_j < 0 or (retard_j is null) is distinct from (datasets_livres < datasets_attendus)
                then 'retard_vide_si_jeu_manquant' end,
            case when lignes_lues is distinct from lues or lignes_quarantaine is distinct from quarantaine
                or lignes_quarantaine > lignes_lues then 'lignes_des_livraisons_en_vigueur' end,
            case when taux_quarantaine not between 0 and 1 or (taux_quarantaine is null) is distinct from (lignes_lues = 0)
                then 'taux_entre_0_et_1' end,
            case when datasets_livres > 0 and versions_recues < 1 then 'versions_des_livraisons' end
        ]) as violations(regle)
    where regle is not null

)

select * from final
