-- Loaded beneficiaires rows that count for month M: those of the delivery in force of every ALI
-- open on E. Rows delivered by an ALI not (yet) open on E, or by a code that is not an ALI of the
-- reference, are left out of every indicator (they stay visible in mart_livraisons).
with

beneficiaires as (

    select * from {{ ref('stg_raw__beneficiaires') }}

),

ali_ouvertes as (

    select * from {{ ref('int_ali_ouvertes_mois') }}

),

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where dataset = 'beneficiaires' and statut = 'LIVRE'

),

final as (

    select
        beneficiaires.*,
        ali_ouvertes.fin_mois
    from beneficiaires
    inner join ali_ouvertes
        on ali_ouvertes.periode = beneficiaires.periode
        and ali_ouvertes.code_ali = beneficiaires.code_ali
    inner join livraisons
        on livraisons.periode = beneficiaires.periode
        and livraisons.source_code = beneficiaires.code_ali

)

select * from final
