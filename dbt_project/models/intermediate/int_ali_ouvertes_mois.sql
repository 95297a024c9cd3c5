-- Months × ALI open on the month's last day (date_ouverture ≤ E).
with

calendrier as (

    select * from {{ ref('int_calendrier_mois') }}

),

ali as (

    select * from {{ ref('stg_reference__ali') }}

),

final as (

    select
        calendrier.periode,
        calendrier.fin_mois,
        ali.code_ali,
        ali.nom_ali
    from calendrier
    inner join ali
        on ali.date_ouverture <= calendrier.fin_mois

)

select * from final
