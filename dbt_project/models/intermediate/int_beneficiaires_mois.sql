-- Loaded beneficiaires rows that count for month M: those of the delivery in force of every ALI
-- open on E. Rows delivered by an ALI not (yet) open on E, or by a code that is not an ALI of the
-- reference, are left out of every indicator (they stay visible in mart_livraisons).
with

beneficiaires as (

    select * from {{ ref('stg_raw__beneficiaires') }}

),

ali_livre as (

    select * from {{ ref('int_ali_livre_mois') }}
    where livre

),

final as (

    select
        beneficiaires.*,
        ali_livre.fin_mois
    from beneficiaires
    inner join ali_livre
        on ali_livre.periode = beneficiaires.periode
        and ali_livre.code_ali = beneficiaires.code_ali

)

select * from final
