"""Anomalies reported but not blocking (contract §4), recomputed for a month after each load.

They never stop a row from loading; they tell a sender what to look at (their wording and how to
act on them: ``pipelines.contract.REPORTED``). Extra columns are reported per file in the manifest
(``colonnes_ignorees``).
"""

from pipelines.contract import REPORTED

REPORTED_SQL = """
INSERT INTO raw.signalements
WITH b AS (SELECT * FROM raw.beneficiaires WHERE periode = $periode),
c AS (SELECT * FROM raw.conseillers WHERE periode = $periode),
referent_inconnu AS (
    SELECT b.source_code, count(*) AS n FROM b
    WHERE b.source_code IN (SELECT source_code FROM c)
      AND NOT EXISTS (SELECT 1 FROM c WHERE c.source_code = b.source_code AND c.referent = b.referent)
    GROUP BY ALL
),
action_inconnue AS (
    SELECT source_code, count(DISTINCT ligne) AS n
    FROM (SELECT source_code, ligne, unnest(actions) AS code_action FROM b)
    WHERE code_action NOT IN (SELECT code_action FROM reference.actions WHERE annee = year($periode))
    GROUP BY ALL
),
multi AS (
    SELECT personne_id FROM b GROUP BY personne_id HAVING count(DISTINCT source_code) > 1
),
multi_ali AS (
    SELECT source_code, count(*) AS n FROM b WHERE personne_id IN (SELECT personne_id FROM multi) GROUP BY ALL
)
SELECT $periode, source_code, 'beneficiaires', 'referent_inconnu', '{referent_inconnu}', n FROM referent_inconnu
UNION ALL SELECT $periode, source_code, 'beneficiaires', 'action_prescrite_inconnue', '{action_prescrite_inconnue}', n
FROM action_inconnue
UNION ALL SELECT $periode, source_code, 'beneficiaires', 'personne_multi_ali', '{personne_multi_ali}', n FROM multi_ali
""".format(**{code: r.message.replace("'", "''") for code, r in REPORTED.items()})
