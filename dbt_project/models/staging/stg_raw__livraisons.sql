with

source as (

    select * from {{ source('raw', 'livraisons') }}

),

renamed as (

    select
        -- key of a delivery: (periode, source_code, dataset); a file: (fichier, sha256)
        cast(periode as date) as periode,
        cast(periode_dossier as varchar) as periode_dossier,
        cast(source_code as varchar) as source_code,
        cast(dataset as varchar) as dataset,
        cast(fichier as varchar) as fichier,
        cast(sha256 as varchar) as sha256,

        -- reception and outcome
        cast(taille_octets as bigint) as taille_octets,
        cast(recu_le as timestamp) as recu_le,
        cast(premier_recu_le as timestamp) as premier_recu_le,
        cast(traite_le as timestamp) as traite_le,
        cast(statut as varchar) as statut,
        cast(en_vigueur as boolean) as est_en_vigueur,
        cast(motif_rejet as varchar) as motif_rejet,

        -- row counts (contract §2)
        cast(lignes_lues as integer) as lignes_lues,
        cast(lignes_chargees as integer) as lignes_chargees,
        cast(lignes_quarantaine as integer) as lignes_quarantaine,
        cast(lignes_ignorees as integer) as lignes_ignorees,

        -- reading details
        cast(encodage as varchar) as encodage,
        cast(separateur as varchar) as separateur,
        cast(colonnes_ignorees as varchar[]) as colonnes_ignorees,
        cast(archive as varchar) as archive,
        cast(run_id as varchar) as run_id

    from source

)

select * from renamed
