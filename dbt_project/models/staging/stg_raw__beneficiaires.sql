with

source as (

    select * from {{ source('raw', 'beneficiaires') }}

),

renamed as (

    select
        -- keys
        cast(periode as date) as periode,
        cast(source_code as varchar) as code_ali,
        cast(personne_id as varchar) as personne_id,
        cast(sha256 as varchar) as sha256,
        cast(ligne as integer) as ligne,

        -- person (pseudonymised)
        cast(organisme as varchar) as organisme,
        cast(annee_naissance as integer) as annee_naissance,
        cast(tranche_age as varchar) as tranche_age,
        cast(sexe as varchar) as sexe,
        cast(code_insee as varchar) as code_insee,

        -- accompaniment
        cast(date_orientation as date) as date_orientation,
        cast(date_premier_rdv as date) as date_premier_rdv,
        cast(date_entree as date) as date_entree,
        cast(date_contrat as date) as date_contrat,
        cast(date_sortie as date) as date_sortie,
        cast(motif_sortie as varchar) as motif_sortie,
        cast(referent as varchar) as referent,
        cast(nb_entretiens as bigint) as nb_entretiens,
        cast(heures_activite as double) as heures_activite,
        cast(freins as varchar[]) as freins,
        cast(actions as varchar[]) as actions

    from source

)

select * from renamed
