-- mart_actions_mensuel: the four participation columns are NULL together; sorties_positives ≤
-- sorties ≤ participants, entrees ≤ participants (one row per person and action); places_occupees
-- only with a delivery.
select periode, code_action
from {{ ref('mart_actions_mensuel') }}
where ((participants is null) <> (entrees is null))
    or ((participants is null) <> (sorties is null))
    or ((participants is null) <> (sorties_positives is null))
    or sorties_positives > sorties
    or sorties > participants
    or entrees > participants
    or (not livre and (places_occupees is not null or montant_consomme_eur is not null))
