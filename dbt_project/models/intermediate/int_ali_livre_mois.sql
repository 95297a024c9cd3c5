-- Months × ALI open on E with `livre`: the ALI has a valid beneficiaires delivery in force for M.
-- Every beneficiaires-derived figure of an ALI and month is NULL when livre is false: a month the
-- ALI did not report is not observed (indicators.md, parcours.md).
with

ali_ouvertes as (

    select * from {{ ref('int_ali_ouvertes_mois') }}

),

livraisons as (

    select * from {{ ref('int_livraisons_par_cle') }}
    where dataset = 'beneficiaires' and statut = 'LIVRE'

),

final as (

    select
        ali_ouvertes.periode,
        ali_ouvertes.fin_mois,
        ali_ouvertes.code_ali,
        ali_ouvertes.nom_ali,
        livraisons.source_code is not null as livre
    from ali_ouvertes
    left join livraisons
        on livraisons.periode = ali_ouvertes.periode
        and livraisons.source_code = ali_ouvertes.code_ali

)

select * from final
