-- The floor of the benchmark: the least work a one-month refresh must do for mart_ali_mensuel,
-- mart_departement_mensuel (shared/spec/indicators.md) and the participations per action: read the
-- month's raw deliveries and aggregate them. No validation, no quarantine, no pseudonymisation, no
-- warehouse, no dbt.
-- Placeholders: __MONTH_DIR__ (absolute path of <inbox>/<YYYY-MM>) and __MONTH__ (first day, YYYY-MM-DD).
-- Run by bench/floor.py in a fresh in-memory DuckDB; results in floor_ali_mensuel,
-- floor_departement_mensuel and floor_participations_mensuel, every row read in floor_rows.
--
-- It reads every file the refresh reads: the delivery in force (latest mtime) of each (source,
-- dataset) of the four datasets, CSV and .xlsx; on the samples every data row reaches floor_rows (plus
-- the closing Total rows, kept there and left out of the indicators). DuckDB reads the UTF-8 CSVs; the
-- Windows-1252 ones (its reader decodes UTF-8 only, the encodings extension is not installed) are split
-- in SQL from their bytes; the workbooks are read by floor.py (at @excel below: no Excel extension).
-- It skips superseded re-sends and reference data (ALI list and names, action catalogue, objectifs.csv):
-- one row per ALI folder instead of one per ALI open on E, no nom_ali, no ali_ouvertes or objectif_*,
-- and no catalogue fallback for the places of a partner without an actions file.

SET preserve_insertion_order = false;
SET enable_progress_bar = false;

-- Header matching, loosely (contract §2 via pipelines/inbox/headers.py): lower case, no accents, no
-- elided d'/l', and only consonants and digits kept, so that « Date d’entrée », DATE_ENTREE,
-- date-entree and the escaped cp1252 « Date d\x92entr\xE9e » all give 'dtntr'.
CREATE MACRO col_key(name) AS regexp_replace(regexp_replace(regexp_replace(
    lower(strip_accents(name)),
    '(^|[^a-z0-9])[dl](''|’|\\x27|\\x92|\\xe2\\x80\\x99)', '\1', 'g'),
    '\\x[0-9a-f]{2}', '', 'g'),
    '[^b-df-hj-np-tv-z0-9]', '', 'g');
CREATE MACRO as_date(x) AS CASE WHEN contains(x, '/') THEN try_strptime(trim(x), '%d/%m/%Y')::DATE
    ELSE try_cast(x AS DATE) END;
CREATE MACRO as_number(x) AS try_cast(replace(regexp_replace(x, '\\x[0-9A-Fa-f]{2}|[\s\x{00A0}\x{202F}]', '', 'g'), ',', '.') AS DOUBLE);
CREATE MACRO as_code(x) AS nullif(upper(trim(x)), '');
CREATE MACRO as_person(organisme, matricule) AS CASE WHEN regexp_full_match(trim(matricule), '\d{1,7}')
    THEN coalesce(as_code(organisme), '__DEFAULT_ORGANISME__') || lpad(trim(matricule), 7, '0') END;

SET VARIABLE debut = DATE '__MONTH__';
SET VARIABLE fin = last_day(DATE '__MONTH__');

-- The files in force: the latest mtime of each (source, dataset); read_blob reads no content here.
CREATE TEMP TABLE floor_files AS
SELECT filename, source_code,
       CASE dataset WHEN col_key('beneficiaires') THEN 'beneficiaires'
                    WHEN col_key('conseillers') THEN 'conseillers'
                    WHEN col_key('participations') THEN 'participations' ELSE 'actions' END AS dataset,
       lower(filename) LIKE '%.csv' AS csv
FROM (
    SELECT filename,
           upper(trim(string_split(filename, '/')[-2])) AS source_code,
           col_key(parse_filename(filename, true)) AS dataset,
           row_number() OVER (PARTITION BY source_code, dataset ORDER BY last_modified DESC, filename DESC) AS n
    FROM read_blob('__MONTH_DIR__/*/*')
    WHERE lower(filename) LIKE '%.csv' OR lower(filename) LIKE '%.xlsx'
)
WHERE n = 1 AND dataset IN (col_key('beneficiaires'), col_key('conseillers'), col_key('participations'),
                            col_key('actions'));

-- Which CSVs are not UTF-8 (so Windows-1252): the complete lines of their first 2 KB, as text with
-- \xNN escapes, still hold a \x80-\xFF byte once the valid UTF-8 sequences are taken out. (read_blob
-- loads each whole file: the one extra pass over the bytes, ~20 ms at scale 20.)
SET VARIABLE csv_files = (SELECT list(filename) FROM floor_files WHERE csv);
CREATE TEMP TABLE floor_encodings AS
SELECT filename, NOT regexp_matches(regexp_replace(
           regexp_extract((content[1:2048])::VARCHAR, '^(.*)\\x0A', 1),
           '\\x[CD][0-9A-F]\\x[89AB][0-9A-F]|\\xE[0-9A-F](\\x[89AB][0-9A-F]){2}|\\xF[0-4](\\x[89AB][0-9A-F]){3}', '', 'g'),
           '\\x[89A-F][0-9A-F]') AS utf8
FROM read_blob(getvariable('csv_files'));
SET VARIABLE beneficiaires_utf8 = (SELECT list(filename) FROM floor_files JOIN floor_encodings USING (filename) WHERE utf8 AND dataset = 'beneficiaires');
SET VARIABLE conseillers_utf8 = (SELECT list(filename) FROM floor_files JOIN floor_encodings USING (filename) WHERE utf8 AND dataset = 'conseillers');
SET VARIABLE participations_utf8 = (SELECT list(filename) FROM floor_files JOIN floor_encodings USING (filename) WHERE utf8 AND dataset = 'participations');
SET VARIABLE actions_utf8 = (SELECT list(filename) FROM floor_files JOIN floor_encodings USING (filename) WHERE utf8 AND dataset = 'actions');
SET VARIABLE cp1252 = (SELECT coalesce(list(filename), []) FROM floor_encodings WHERE NOT utf8);

-- @excel: floor.py reads here each .xlsx file in force (floor_files WHERE NOT csv) into
-- floor_xlsx_<dataset>: text cells like a CSV export (ISO dates, integers without .0), one column per
-- header cell plus filename, blank rows dropped.

-- Every row of every file in force, the columns the marts need parsed (approximately: invalid
-- values become NULL, invalid rows are kept). read_csv needs at least one UTF-8 file per dataset;
-- the workbooks of each dataset join its CSVs by column name.
CREATE TEMP TABLE floor_rows AS
WITH beneficiaires AS (
    -- DuckDB's reader, each file sniffed on its own (union_by_name), quote and escape fixed to the
    -- contract's ". A column is picked by header key; the one-row stub (names starting with ~, same
    -- keys) only guarantees that each COLUMNS matches something.
    SELECT 'beneficiaires' AS dataset, filename,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('matricule'))) AS matricule,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('organisme'))) AS organisme,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_orientation'))) AS date_orientation,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_premier_rdv'))) AS date_premier_rdv,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_entree'))) AS date_entree,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_contrat'))) AS date_contrat,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_sortie'))) AS date_sortie,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('motif_sortie'))) AS motif_sortie,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('nb_entretiens'))) AS nb_entretiens
    FROM (FROM read_csv(getvariable('beneficiaires_utf8'), union_by_name = true, all_varchar = true, filename = true,
                        quote = '"', escape = '"', ignore_errors = true, null_padding = true)
          UNION ALL BY NAME FROM floor_xlsx_beneficiaires),
         (SELECT NULL::VARCHAR AS "~matricule", NULL::VARCHAR AS "~organisme", NULL::VARCHAR AS "~date_orientation",
                 NULL::VARCHAR AS "~date_premier_rdv", NULL::VARCHAR AS "~date_entree", NULL::VARCHAR AS "~date_contrat",
                 NULL::VARCHAR AS "~date_sortie", NULL::VARCHAR AS "~motif_sortie", NULL::VARCHAR AS "~nb_entretiens")
), conseillers AS (
    SELECT 'conseillers' AS dataset, filename,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('fonction'))) AS fonction,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('etp'))) AS etp,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_depart'))) AS date_depart
    FROM (FROM read_csv(getvariable('conseillers_utf8'), union_by_name = true, all_varchar = true, filename = true,
                        quote = '"', escape = '"', ignore_errors = true, null_padding = true)
          UNION ALL BY NAME FROM floor_xlsx_conseillers),
         (SELECT NULL::VARCHAR AS "~fonction", NULL::VARCHAR AS "~etp", NULL::VARCHAR AS "~date_depart")
), actions AS (
    SELECT 'actions' AS dataset, filename,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('code_action'))) AS code_action,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('places_conventionnees'))) AS places_conventionnees,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('places_occupees'))) AS places_occupees
    FROM (FROM read_csv(getvariable('actions_utf8'), union_by_name = true, all_varchar = true, filename = true,
                        quote = '"', escape = '"', ignore_errors = true, null_padding = true)
          UNION ALL BY NAME FROM floor_xlsx_actions),
         (SELECT NULL::VARCHAR AS "~code_action", NULL::VARCHAR AS "~places_conventionnees",
                 NULL::VARCHAR AS "~places_occupees")
), participations AS (
    SELECT 'participations' AS dataset, filename,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('matricule'))) AS matricule,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('organisme'))) AS organisme,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('code_action'))) AS code_action,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_entree'))) AS date_entree,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('date_sortie'))) AS date_sortie,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('resultat_sortie'))) AS resultat_sortie,
           coalesce(*COLUMNS(lambda c: col_key(c) = col_key('heures_realisees'))) AS heures_realisees
    FROM (FROM read_csv(getvariable('participations_utf8'), union_by_name = true, all_varchar = true, filename = true,
                        quote = '"', escape = '"', ignore_errors = true, null_padding = true)
          UNION ALL BY NAME FROM floor_xlsx_participations),
         (SELECT NULL::VARCHAR AS "~matricule", NULL::VARCHAR AS "~organisme", NULL::VARCHAR AS "~code_action",
                 NULL::VARCHAR AS "~date_entree", NULL::VARCHAR AS "~date_sortie", NULL::VARCHAR AS "~resultat_sortie",
                 NULL::VARCHAR AS "~heures_realisees")
), cp1252_text AS (
    -- The Windows-1252 files, which DuckDB's reader cannot decode: bytes → text with \xNN escapes
    -- (\x0A newline, \x09 tab, \x22 quote); quoted cells blanked, newlines in them included (only
    -- list, comment and amount cells are ever quoted); leading blank lines and empty lines dropped
    -- (as read_csv does; a line of delimiters only is a row of NULLs, as in read_csv).
    SELECT filename, regexp_replace(CASE WHEN contains(text, '\x22')
                                         THEN regexp_replace(text, '\\x22.*?\\x22', '', 'g') ELSE text END,
                                    '^((\\x09|[;, ])*\\x0A)+', '') AS text
    FROM (SELECT filename, replace(content::VARCHAR, '\x0D', '') AS text FROM read_blob(getvariable('cp1252')))
), cp1252_files AS (
    -- Header = first line; delimiter = the most frequent of ; , tab in it; each column's position.
    SELECT filename, body, delimiter,
           list_position(keys, col_key('matricule')) AS matricule,
           list_position(keys, col_key('organisme')) AS organisme,
           list_position(keys, col_key('date_orientation')) AS date_orientation,
           list_position(keys, col_key('date_premier_rdv')) AS date_premier_rdv,
           list_position(keys, col_key('date_entree')) AS date_entree,
           list_position(keys, col_key('date_contrat')) AS date_contrat,
           list_position(keys, col_key('date_sortie')) AS date_sortie,
           list_position(keys, col_key('motif_sortie')) AS motif_sortie,
           list_position(keys, col_key('nb_entretiens')) AS nb_entretiens,
           list_position(keys, col_key('fonction')) AS fonction,
           list_position(keys, col_key('etp')) AS etp,
           list_position(keys, col_key('date_depart')) AS date_depart,
           list_position(keys, col_key('code_action')) AS code_action,
           list_position(keys, col_key('places_conventionnees')) AS places_conventionnees,
           list_position(keys, col_key('places_occupees')) AS places_occupees,
           list_position(keys, col_key('resultat_sortie')) AS resultat_sortie,
           list_position(keys, col_key('heures_realisees')) AS heures_realisees
    FROM (
        SELECT filename, body, delimiter,
               list_transform(string_split(header, delimiter), lambda h: col_key(h)) AS keys
        FROM (
            SELECT filename, header, body,
                   CASE greatest(semicolons, commas, tabs) WHEN semicolons THEN ';' WHEN commas THEN ',' ELSE '\x09' END
                       AS delimiter
            FROM (
                SELECT filename, header, body,
                       length(header) - length(replace(header, ';', '')) AS semicolons,
                       length(header) - length(replace(header, ',', '')) AS commas,
                       (length(header) - length(replace(header, '\x09', ''))) // 4 AS tabs
                FROM (SELECT filename, substr(text, 1, strpos(text || '\x0A', '\x0A') - 1) AS header,
                             substr(text, strpos(text || '\x0A', '\x0A') + 4) AS body
                      FROM cp1252_text)
            )
        )
    )
), cp1252 AS (
    SELECT f.dataset, c.filename,
           cells[c.matricule] AS matricule,
           cells[c.organisme] AS organisme,
           cells[c.date_orientation] AS date_orientation,
           cells[c.date_premier_rdv] AS date_premier_rdv,
           cells[c.date_entree] AS date_entree,
           cells[c.date_contrat] AS date_contrat,
           cells[c.date_sortie] AS date_sortie,
           cells[c.motif_sortie] AS motif_sortie,
           cells[c.nb_entretiens] AS nb_entretiens,
           cells[c.fonction] AS fonction,
           cells[c.etp] AS etp,
           cells[c.date_depart] AS date_depart,
           cells[c.code_action] AS code_action,
           cells[c.places_conventionnees] AS places_conventionnees,
           cells[c.places_occupees] AS places_occupees,
           cells[c.resultat_sortie] AS resultat_sortie,
           cells[c.heures_realisees] AS heures_realisees
    FROM (SELECT * EXCLUDE (line), string_split(line, delimiter) AS cells
          FROM (SELECT * EXCLUDE (body), unnest(string_split(body, '\x0A')) AS line FROM cp1252_files)
          WHERE line <> '') c
    JOIN floor_files f USING (filename)
)
SELECT dataset, upper(trim(string_split(filename, '/')[-2])) AS source_code,
       as_person(organisme, matricule) AS personne,
       as_date(date_orientation) AS date_orientation,
       as_date(date_premier_rdv) AS date_premier_rdv,
       as_date(date_entree) AS date_entree,
       as_date(date_contrat) AS date_contrat,
       as_date(date_sortie) AS date_sortie,
       as_code(motif_sortie) AS motif_sortie,
       try_cast(trim(nb_entretiens) AS INTEGER) AS nb_entretiens,
       as_code(fonction) AS fonction,
       as_number(etp) AS etp,
       as_date(date_depart) AS date_depart,
       as_code(code_action) AS code_action,
       as_number(places_conventionnees) AS places_conventionnees,
       as_number(places_occupees) AS places_occupees,
       as_code(resultat_sortie) AS resultat_sortie,
       as_number(heures_realisees) AS heures_realisees
FROM (FROM beneficiaires UNION ALL BY NAME FROM conseillers UNION ALL BY NAME FROM participations
      UNION ALL BY NAME FROM actions UNION ALL BY NAME FROM cp1252);

-- Indicators as in shared/spec/indicators.md, over every row read: a beneficiaire row counts when its
-- matricule parses (this also drops the closing Total rows), an actions row when it has a code.
CREATE TEMP TABLE floor_ali_mensuel AS
WITH b AS (
    SELECT source_code AS code_ali,
           count(DISTINCT personne) AS file_active,
           count(DISTINCT personne) FILTER (WHERE date_sortie IS NULL) AS accompagnes_fin_mois,
           count(*) FILTER (WHERE date_entree BETWEEN getvariable('debut') AND getvariable('fin')) AS entrees,
           count(date_sortie) AS sorties,
           count(*) FILTER (WHERE date_sortie IS NOT NULL AND motif_sortie IN (SELECT motif_sortie
               FROM read_csv('__SEEDS__/contrat_motifs_sortie.csv') WHERE est_positif)) AS sorties_positives,
           avg(date_premier_rdv - date_orientation)
               FILTER (WHERE date_premier_rdv BETWEEN getvariable('debut') AND getvariable('fin'))
               AS delai_moyen_orientation_rdv_j,
           avg((date_premier_rdv - date_orientation <= 30)::INTEGER)
               FILTER (WHERE date_premier_rdv BETWEEN getvariable('debut') AND getvariable('fin'))
               AS part_rdv_sous_30j,
           avg(coalesce(date_contrat <= getvariable('fin'), false)::INTEGER)
               FILTER (WHERE date_sortie IS NULL AND date_entree <= getvariable('fin') - 60)
               AS taux_contractualisation,
           sum(nb_entretiens) AS entretiens
    FROM floor_rows WHERE dataset = 'beneficiaires' AND personne IS NOT NULL GROUP BY ALL
), c AS (
    SELECT source_code AS code_ali,
           coalesce(sum(etp) FILTER (WHERE fonction IN (SELECT fonction FROM read_csv(
               '__SEEDS__/contrat_fonctions.csv') WHERE est_accompagnement)
               AND coalesce(date_depart >= getvariable('fin'), true)), 0) AS etp_accompagnement
    FROM floor_rows WHERE dataset = 'conseillers' GROUP BY ALL
), ali AS (
    SELECT DISTINCT source_code AS code_ali FROM floor_files WHERE dataset IN ('beneficiaires', 'conseillers')
)
SELECT DATE '__MONTH__' AS periode, code_ali, b.file_active IS NOT NULL AS livre,
       file_active, accompagnes_fin_mois, entrees, sorties, sorties_positives,
       sorties_positives / nullif(sorties, 0) AS taux_sorties_positives,
       etp_accompagnement,
       accompagnes_fin_mois / nullif(etp_accompagnement, 0) AS accompagnes_par_etp,
       delai_moyen_orientation_rdv_j, part_rdv_sous_30j, taux_contractualisation,
       entretiens / nullif(file_active, 0) AS entretiens_par_personne
FROM ali LEFT JOIN b USING (code_ali) LEFT JOIN c USING (code_ali)
ORDER BY code_ali;

CREATE TEMP TABLE floor_departement_mensuel AS
WITH p AS (
    SELECT count(*) AS file_active,
           count(*) FILTER (WHERE sans_sortie) AS accompagnes_fin_mois,
           count(*) FILTER (WHERE nb_ali >= 2) AS personnes_multi_ali
    FROM (SELECT personne, bool_or(date_sortie IS NULL) AS sans_sortie, count(DISTINCT source_code) AS nb_ali
          FROM floor_rows WHERE dataset = 'beneficiaires' AND personne IS NOT NULL GROUP BY personne)
), a AS (
    SELECT count(*) FILTER (WHERE livre) AS ali_ayant_livre,
           sum(entrees) AS entrees, sum(sorties) AS sorties, sum(sorties_positives) AS sorties_positives,
           sum(etp_accompagnement) AS etp_accompagnement
    FROM floor_ali_mensuel
), x AS (
    SELECT sum(places_conventionnees) AS places_conventionnees,
           sum(places_occupees) FILTER (WHERE places_conventionnees > 0) AS places_occupees,
           sum(places_occupees) FILTER (WHERE places_conventionnees > 0)
               / nullif(sum(places_conventionnees) FILTER (WHERE places_conventionnees > 0), 0) AS taux_occupation
    FROM floor_rows WHERE dataset = 'actions' AND code_action NOT LIKE 'TOTAL%'
)
SELECT DATE '__MONTH__' AS periode, ali_ayant_livre, file_active, accompagnes_fin_mois, personnes_multi_ali,
       entrees, sorties, sorties_positives, sorties_positives / nullif(sorties, 0) AS taux_sorties_positives,
       etp_accompagnement, accompagnes_fin_mois / nullif(etp_accompagnement, 0) AS accompagnes_par_etp,
       places_conventionnees, places_occupees, taux_occupation
FROM p, a, x;

-- Participations per (partner, action) as int_participations_actions_mois computes them for
-- mart_actions_mensuel, plus the hours: a row counts when its matricule parses and it has a code.
CREATE TEMP TABLE floor_participations_mensuel AS
SELECT DATE '__MONTH__' AS periode, source_code AS code_partenaire, code_action,
       count(DISTINCT personne) AS participants,
       count(*) FILTER (WHERE date_entree BETWEEN getvariable('debut') AND getvariable('fin')) AS entrees,
       count(date_sortie) AS sorties,
       count(*) FILTER (WHERE date_sortie IS NOT NULL AND resultat_sortie IN (SELECT resultat_sortie
           FROM read_csv('__SEEDS__/contrat_resultats_sortie.csv') WHERE est_positif)) AS sorties_positives,
       sum(heures_realisees) AS heures_realisees
FROM floor_rows WHERE dataset = 'participations' AND personne IS NOT NULL AND code_action IS NOT NULL
GROUP BY source_code, code_action
ORDER BY code_partenaire, code_action;
