-- mart_livraisons: ABSENT ⇔ nothing received (no file, 0 version); LIVRE and REJETE describe a
-- file; a row not expected was received; an expected source has a type.
select periode, source_code, dataset, statut, fichier, versions_recues
from {{ ref('mart_livraisons') }}
where (statut = 'ABSENT') <> (versions_recues = 0)
    or (statut = 'ABSENT') <> (fichier is null)
    or (statut = 'ABSENT' and not attendu)
    or (attendu and source_type is null)
