-- Contract §2: lignes_lues = lignes_chargees + lignes_quarantaine + lignes_ignorees for every file
-- described (counts are NULL only for a rejected file).
select periode, source_code, dataset, fichier, lignes_lues, lignes_chargees, lignes_quarantaine, lignes_ignorees
from {{ ref('mart_livraisons') }}
where (statut = 'LIVRE' and (lignes_lues is null or lignes_chargees is null))
    or lignes_lues <> lignes_chargees + lignes_quarantaine + lignes_ignorees
