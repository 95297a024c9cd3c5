-- L, the last observed month (parcours.md): the latest month for which at least one valid
-- beneficiaires delivery is in force. A figure that needs months after L is NULL, never 0.
with

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where dataset = 'beneficiaires' and statut = 'LIVRE'

),

final as (

    select max(periode) as dernier_mois_observe
    from livraisons
    having count(*) > 0

)

select * from final
