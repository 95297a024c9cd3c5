"""The deposit portal's pages of the senders' guide (``docs/senders.md``), in French.

Kept apart from ``guide.py`` (the contract's tables): this text speaks of ``pipelines.portal``; the
figures it quotes (attempts before back-off, the size limit) are read from where they are decided.
"""

from __future__ import annotations

from pipelines.contract import DATASETS_BY_SOURCE_TYPE
from pipelines.inbox.limits import DEFAULTS, octets
from pipelines.portal.security import ATTEMPTS, WINDOW_SECONDS

SENT = (f"une ALI envoie {' et '.join(DATASETS_BY_SOURCE_TYPE['ALI'])}, "
        f"un partenaire {' et '.join(DATASETS_BY_SOURCE_TYPE['PARTENAIRE'])}")

PORTAL = f"""## Déposer par le portail

Le Département donne à chaque structure l'adresse du portail de dépôt et un **jeton** : un texte qui
commence par le code de la structure (`ALI07.…`). Le jeton est la clé de la structure : le garder comme un
mot de passe. Perdu ou divulgué, il est remplacé à la demande par l'équipe données ; l'ancien cesse
aussitôt de fonctionner.

1. Se connecter avec le jeton.
2. Choisir le mois livré et le jeu de données, joindre le fichier (`.csv` ou `.xlsx`, quel que soit son
   nom), puis **Vérifier et déposer**.
3. Le verdict s'affiche aussitôt ; c'est celui que donnera le traitement (même code, mêmes règles) :
   - **rejeté** : le fichier n'est pas déposé ; le motif et quoi faire s'affichent ;
   - **déposé** : le fichier est rangé sous `<AAAA-MM>/<code>/<jeu>.csv` (ou `.xlsx`) et sera traité au
     passage suivant. Les lignes en quarantaine sont listées (ligne de votre fichier, colonne, règle,
     message ; jamais une valeur), puis quoi faire pour chaque règle. Corriger et déposer à nouveau le
     même jeu remplace la version précédente.
4. L'accueil montre vos accusés de réception, vos derniers dépôts, les schémas et les modèles.

![Le verdict d'un dépôt : fichier déposé, deux lignes en quarantaine](images/portail-verdict.png)

Le portail ne montre à une structure que ses propres fichiers, verdicts et accusés. Après {ATTEMPTS} jetons
erronés en {WINDOW_SECONDS // 60} minutes depuis une même adresse, il refuse les essais de cette adresse
pendant au plus {WINDOW_SECONDS // 60} minutes. Taille maximale d'un fichier :
{octets(DEFAULTS["ALI_MAX_FILE_BYTES"])}.

## Déposer par l'API (automatisation)

Les mêmes dépôts, pour un script ou un logiciel métier, avec le jeton dans l'en-tête `Authorization` :

```
curl -H "Authorization: Bearer $JETON" -F "fichier=@beneficiaires.csv" \\
     "https://<adresse du portail>/api/depot?periode=2026-10"
```

- Le jeu se déduit du nom du fichier (`beneficiaires.csv`, `Conseillers.xlsx`… : majuscules et accents
  indifférents), ou se donne par `&jeu=beneficiaires`.
- Réponse **200** : le verdict au format de `verifier --json` (ci-dessous : `statut`, `motif_rejet`,
  `regle_rejet`, `lignes_lues`, `lignes_chargees`, `lignes_quarantaine`, `lignes_ignorees`,
  `quarantaine`, `colonnes_ignorees`), plus `depose` (`true` si le fichier est déposé, `false` s'il est
  rejeté), `sha256` et `taille_octets`. Par exemple, pour un fichier conseillers dont la ligne 3 a trois
  erreurs :

```json
{{"fichier": "2026-10/ALI07/conseillers.csv", "source": "ALI07", "periode": "2026-10", "jeu": "conseillers",
 "statut": "VALIDE", "motif_rejet": null, "regle_rejet": null, "lignes_lues": 2, "lignes_chargees": 1,
 "lignes_quarantaine": 1, "lignes_ignorees": 0,
 "quarantaine": [
  {{"ligne": 3, "colonne": "fonction", "regle": "valeur_hors_liste",
   "message": "valeur hors liste (CIP, TRAVAILLEUR_SOCIAL, CHARGE_RELATIONS_ENTREPRISES, COORDINATION)"}},
  {{"ligne": 3, "colonne": "date_arrivee", "regle": "date_invalide",
   "message": "date invalide (attendu JJ/MM/AAAA ou AAAA-MM-JJ)"}},
  {{"ligne": 3, "colonne": "etp", "regle": "etp_hors_bornes", "message": "doit être > 0 et ≤ 1"}}],
 "colonnes_ignorees": [], "depose": true, "sha256": "86bac737…", "taille_octets": 92}}
```

- Autres réponses (un document `{{"erreur": "…", "depose": false}}`, rien n'est déposé) :

| code | cas |
|---|---|
| 401 | jeton absent, erroné ou remplacé |
| 403 | jeu que la structure n'envoie pas ({SENT}) |
| 413 | fichier de plus de {octets(DEFAULTS["ALI_MAX_FILE_BYTES"])} |
| 422 | mois mal écrit, avant le premier mois traité ou à venir ; jeu inconnu ; nom de fichier avec un chemin |
| 429 | trop de jetons erronés depuis cette adresse : attendre le délai de `Retry-After` |

- `GET /api/accuses?periode=2026-10` : l'accusé de réception du mois en JSON (le bilan, les fichiers,
  les lignes en quarantaine avec quoi faire, les signalements, les jeux encore attendus) ; 404 tant que
  le mois n'a pas été traité.
- `GET /api/depots` : vos dépôts par le portail, du plus récent au plus ancien.
"""
