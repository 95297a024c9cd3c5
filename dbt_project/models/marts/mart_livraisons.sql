-- One row per (periode, source_code, dataset) expected or received. See _marts.yml.
with

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where {{ mois_a_construire('periode') }}

),

final as (

    select
        periode,
        source_code,
        source_type,
        dataset,
        attendu,
        statut,
        fichier,
        recu_le,
        sha256,
        lignes_lues,
        lignes_chargees,
        lignes_quarantaine,
        lignes_ignorees,
        motif_rejet,
        versions_recues
    from livraisons

)

select * from final
