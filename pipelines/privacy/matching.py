"""How a text matches an identifier form: one query, shared by the privacy scan and the write guard.

``touch(con)`` reads the TEMP tables ``valeurs(valeur)`` (distinct texts) and ``identifiants``
(``identifiers.py``) and writes ``touches(valeur, nature)``: each text that holds a form, with the
kind of identifier. How a text matches, chosen so that a finding is a real leak:

- ``jeton``: an ASCII letters-and-digits run of the text equals the form (``0123456`` in
  ``matricule 0123456 rejeté``, never inside a hexadecimal ``personne_id`` or hash, nor the decimals
  of a number: ``19,8148985`` is read ``19``);
- ``date``: a ``\\d+[-/]\\d+[-/]\\d+`` run equals the form (``1980-04-03T00:00`` too);
- ``nir``: a token of 13 or 15 digits, once single spaces between digits are removed
  (``1 80 04 93 066 123 45``), is the form, or is any 15-digit number whose key (97 − the first 13
  digits mod 97) is right: a NIR that is in no delivery is a leak too; with the form ``nir_tout``
  (the write guard's), any such token matches;
- ``cellule``: the whole text, normalised (case, accents, punctuation), is the name;
- ``paire``: the normalised text contains ``prénom nom`` or ``nom prénom`` as whole words;
- ``sous_chaine``: the text contains the pseudonymisation key (as text, hex or base64).
"""

from __future__ import annotations

import duckdb

NORMALISE_SQL = r"""
CREATE OR REPLACE TEMP MACRO ali_norme(s) AS trim(regexp_replace(strip_accents(
    replace(replace(lower(s), 'œ', 'oe'), 'æ', 'ae')), '[^\p{L}\p{N}]+', ' ', 'g'));
CREATE TEMP TABLE IF NOT EXISTS identifiants (nature VARCHAR, mode VARCHAR, forme VARCHAR, cle VARCHAR);
"""
MATCH_SQL = r"""
CREATE OR REPLACE TEMP TABLE touches AS
WITH classees AS (  -- a single run of ASCII letters and digits (hashes, codes, numbers) is its own only token
    SELECT valeur, regexp_full_match(valeur, '[0-9A-Za-z]+') AS simple FROM valeurs
), simples AS (
    SELECT valeur, upper(valeur) AS forme FROM classees WHERE simple
), composees AS (
    SELECT valeur FROM classees WHERE NOT simple
), entiers AS (  -- decimal fractions dropped: the digits of 19,8148985 are no matricule
    SELECT valeur, regexp_replace(valeur, '([0-9])[.,][0-9]+', '\1', 'g') AS texte
    FROM composees WHERE regexp_matches(valeur, '[0-9]')
), jetons AS (
    SELECT valeur, forme FROM simples WHERE regexp_matches(forme, '[0-9]')
    UNION ALL SELECT valeur, unnest(regexp_extract_all(upper(texte), '[0-9A-Z]+')) FROM entiers
), dates AS (
    SELECT valeur, unnest(regexp_extract_all(valeur, '\d+[-/]\d+[-/]\d+')) AS forme
    FROM composees WHERE regexp_matches(valeur, '\d[-/]\d')
), nirs AS (
    SELECT * FROM (
        SELECT valeur, forme FROM simples
        UNION ALL SELECT valeur, unnest(regexp_extract_all(upper(regexp_replace(regexp_replace(texte,
            '(\d) (\d)', '\1\2', 'g'), '(\d) (\d)', '\1\2', 'g')), '[0-9A-Z]+')) AS forme
        FROM entiers WHERE regexp_matches(texte, '\d{4}|\d \d\d \d\d')
    ) WHERE length(forme) IN (13, 15) AND regexp_full_match(forme, '\d+')
), normes AS (  -- ali_norme of a simple value is its lower case
    SELECT valeur, lower(valeur) AS n FROM simples UNION ALL SELECT valeur, ali_norme(valeur) FROM composees
), mots AS (  -- a pair is two words at least
    SELECT valeur, n, unnest(string_split(n, ' ')) AS mot FROM normes WHERE contains(n, ' ')
)
SELECT j.valeur, i.nature FROM jetons j JOIN identifiants i ON i.mode = 'jeton' AND i.forme = j.forme
UNION SELECT d.valeur, i.nature FROM dates d JOIN identifiants i ON i.mode = 'date' AND i.forme = d.forme
UNION SELECT n.valeur, i.nature FROM nirs n JOIN identifiants i ON i.mode = 'nir' AND i.forme = n.forme
UNION SELECT valeur, 'nir' FROM nirs WHERE length(forme) = 15 AND forme[1] IN ('1', '2', '3', '4', '7', '8')
    AND 97 - forme[1:13]::BIGINT % 97 = forme[14:15]::INTEGER
UNION SELECT valeur, 'nir' FROM nirs WHERE EXISTS (SELECT 1 FROM identifiants WHERE mode = 'nir_tout')
UNION SELECT n.valeur, i.nature FROM normes n JOIN identifiants i ON i.mode = 'cellule' AND i.forme = n.n
UNION SELECT m.valeur, i.nature FROM mots m JOIN identifiants i ON i.mode = 'paire' AND i.cle = m.mot
    AND contains(' ' || m.n || ' ', ' ' || i.forme || ' ')
UNION SELECT v.valeur, i.nature FROM valeurs v JOIN identifiants i ON i.mode = 'sous_chaine'
    AND contains(lower(v.valeur), lower(i.forme));
"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """The normalisation macro and an (empty, or kept) ``identifiants`` table on ``con``."""
    con.execute(NORMALISE_SQL)


def touch(con: duckdb.DuckDBPyConnection) -> None:
    """``touches(valeur, nature)``: the texts of ``valeurs`` that hold a form of ``identifiants``."""
    con.execute(MATCH_SQL)
