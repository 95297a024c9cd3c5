-- One row per (periode, source_code) of every source expected in M: is its delivery complete and on
-- time, how many versions it took, how much of it went to quarantine (retours.md §3). See _marts.yml.
-- Due date of M: the 5th of M + 1, end of day, Europe/Paris (macro echeance_livraison); recu_le is
-- a naive UTC timestamp compared by its Paris calendar date (macro paris_date).
with

cles as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where {{ mois_a_construire('periode') }}

),

livraisons as (

    select * from {{ ref('stg_raw__livraisons') }}
    where periode is not null and {{ mois_a_construire('periode') }}

),

premieres_versions_valides as (

    -- the earliest reception among the VALIDE files of a key (premier_recu_le: the same bytes
    -- received again keep their first reception): a rejected file received before does not count,
    -- a later re-send does not move it
    select
        periode,
        source_code,
        dataset,
        {{ paris_date('min(premier_recu_le)') }} as recue_le_paris
    from livraisons
    where statut = 'VALIDE'
    group by periode, source_code, dataset

),

versions as (

    -- every file under the source's folder for the month: all datasets, all statuses
    select periode, source_code, count(distinct sha256) as versions_recues
    from livraisons
    group by periode, source_code

),

cles_des_sources as (

    select
        cles.periode,
        cles.source_code,
        cles.source_type,
        cles.attendu,
        cles.statut = 'LIVRE' as livre,
        cles.lignes_lues,
        cles.lignes_quarantaine,
        -- days from the due date to the key's first valid version (negative: early)
        date_diff('day', {{ echeance_livraison('cles.periode') }}, premieres.recue_le_paris) as ecart_j
    from cles
    left join premieres_versions_valides as premieres
        on premieres.periode = cles.periode
        and premieres.source_code = cles.source_code
        and premieres.dataset = cles.dataset

),

par_source as (

    select
        periode,
        source_code,
        max(source_type) as source_type,
        count(*) filter (where attendu) as datasets_attendus,
        count(*) filter (where attendu and livre) as datasets_livres,
        count(*) filter (where attendu and livre and ecart_j is not null) as datasets_dates,
        max(ecart_j) filter (where attendu) as ecart_max_j,
        -- deliveries in force of the source (a dataset not allowed for it is never in force)
        coalesce(sum(lignes_lues) filter (where livre), 0) as lignes_lues,
        coalesce(sum(lignes_quarantaine) filter (where livre), 0) as lignes_quarantaine
    from cles_des_sources
    group by periode, source_code
    having bool_or(attendu)

),

retards as (

    select
        *,
        case when datasets_dates = datasets_attendus then greatest(0, ecart_max_j) end as retard_j
    from par_source

),

final as (

    select
        retards.periode,
        retards.source_code,
        retards.source_type,
        retards.datasets_attendus,
        retards.datasets_livres,
        coalesce(retards.retard_j = 0, false) as a_l_heure,
        retards.retard_j,
        coalesce(versions.versions_recues, 0) as versions_recues,
        cast(retards.lignes_lues as bigint) as lignes_lues,
        cast(retards.lignes_quarantaine as bigint) as lignes_quarantaine,
        cast(retards.lignes_quarantaine as double) / nullif(retards.lignes_lues, 0) as taux_quarantaine
    from retards
    left join versions
        on versions.periode = retards.periode
        and versions.source_code = retards.source_code

)

select * from final
