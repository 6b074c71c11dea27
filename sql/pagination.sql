--
-- paginate 'link': path is the first page, each response's Link rel="next"
-- the next; every page one export with its own spool, the link kept in its
-- metadata; every link checked as a manifest's entries are; loops refused;
-- api_key_param; option checks; a refresh over the pages.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_pagination';

COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,10'), ('2,Bob,20'), ('3,Carla,30'),
  ('4,Dan,40'), ('5,Eve,50'), ('6,Finn,60')) v)
  TO '/tmp/hvcsv_fixture_www/pg_all.csv';

-- three pages of two rows, the links absolute paths
CREATE FOREIGN TABLE pg_pages (id int, name text, amount numeric)
  SERVER fx OPTIONS (path '/pg_all.csv?pages=3', paginate 'link');
SELECT * FROM fixture_reset;
SELECT * FROM pg_pages;
SELECT method, target, status FROM fixture_log ORDER BY seq;
-- the next scan revalidates each page: three 304s
SELECT * FROM fixture_reset;
SELECT count(*), sum(amount) FROM pg_pages;
SELECT method, target, status, if_none_match <> '' AS conditional FROM fixture_log ORDER BY seq;
-- within max_age no page is asked for again; the links come from the spools
ALTER SERVER fx OPTIONS (ADD max_age '1h');
SELECT * FROM fixture_reset;
SELECT count(*), sum(amount) FROM pg_pages;
SELECT count(*) FROM fixture_log;
ALTER SERVER fx OPTIONS (DROP max_age);
-- the other readers read the same pages
ALTER FOREIGN TABLE pg_pages OPTIONS (ADD reader 'partitioned');
SELECT * FROM pg_pages;
ALTER FOREIGN TABLE pg_pages OPTIONS (SET reader 'projected');
SELECT name FROM pg_pages WHERE id > 4;
-- EXPLAIN fetches nothing: it shows the pages the spools know
SELECT * FROM fixture_reset;
EXPLAIN (COSTS OFF) SELECT * FROM pg_pages;
SELECT count(*) FROM fixture_log;
-- the last page changes: it alone is downloaded again
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,10'), ('2,Bob,20'), ('3,Carla,30'),
  ('4,Dan,40'), ('5,Eve,50'), ('6,Finn,66')) v)
  TO '/tmp/hvcsv_fixture_www/pg_all.csv';
SELECT * FROM fixture_reset;
SELECT * FROM pg_pages WHERE id = 6;
SELECT method, target, status FROM fixture_log ORDER BY seq;

-- a relative link (resolved against the page's URL) and an absolute one
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=2&link=rel');
SELECT * FROM fixture_reset;
SELECT count(*), sum(amount) FROM pg_pages;
SELECT method, target, status FROM fixture_log ORDER BY seq;
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=4&link=abs');
SELECT * FROM fixture_reset;
SELECT count(*), sum(amount) FROM pg_pages;
SELECT method, target, status FROM fixture_log ORDER BY seq;

-- a link to another host is refused, and so is a loop
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=2&link_host=127.0.0.2:18765');
SELECT try('SELECT * FROM pg_pages');
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=3&loop_to=2');
SELECT try('SELECT * FROM pg_pages');
-- a page that names itself
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=1&loop_to=1');
SELECT try('SELECT * FROM pg_pages');

-- api_key_param: a server that echoes the key into its links has it
-- dropped from the link kept (each request adds it again); a link that
-- carries the key in another parameter is refused
CREATE SERVER pg_keyed FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER pg_keyed
  OPTIONS (api_key 'test-secret-key', api_key_param 'apikey');
CREATE FOREIGN TABLE pg_keyed_pages (id int, name text, amount numeric)
  SERVER pg_keyed OPTIONS (path '/pg_all.csv?pages=2&noauth=1', paginate 'link');
SELECT * FROM fixture_reset;
SELECT count(*), sum(amount) FROM pg_keyed_pages;
SELECT method, target, status FROM fixture_log ORDER BY seq;
SELECT count(*) FILTER (WHERE m LIKE '%test-secret-key%') AS with_key,
       count(*) FILTER (WHERE m LIKE E'%\nnext /pg_all.csv?pages=2&noauth=1&page=2\n%') AS with_link
  FROM (SELECT pg_read_file('pg_hvcsv_spool_pagination/' || f) AS m
        FROM pg_ls_dir('pg_hvcsv_spool_pagination') f WHERE f LIKE '%.meta') metas;
ALTER FOREIGN TABLE pg_keyed_pages OPTIONS (SET path '/pg_all.csv?pages=2&noauth=1&link_extra=sig%3Dtest-secret-key');
SELECT try('SELECT * FROM pg_keyed_pages');
DROP SERVER pg_keyed CASCADE;

-- option checks
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (path '/pg_all.csv', paginate 'cursor')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (paths '/a.csv, /b.csv', paginate 'link')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (manifest '/m.txt', paginate 'link')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (path_template '/{date}.csv', dates_from '2026-12-01', paginate 'link')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (paginate 'link')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (path '/pg_all.csv', paginate 'link', reader 'streaming')$$);
SELECT try($$CREATE FOREIGN TABLE pg_bad (id int) SERVER fx OPTIONS (path '/pg_all.csv', paginate 'link', missing_exports 'skip')$$);
SELECT try($$ALTER FOREIGN TABLE pg_pages OPTIONS (ADD manifest '/m.txt')$$);

-- a refresh over the pages: always a full compare
ALTER FOREIGN TABLE pg_pages OPTIONS (SET path '/pg_all.csv?pages=3');
CREATE TABLE pg_target (id int PRIMARY KEY, name text, amount numeric);
ALTER FOREIGN TABLE pg_pages OPTIONS (ADD target 'pg_target', ADD delete_missing 'true');
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('pg_pages');
SELECT * FROM pg_target ORDER BY id;
SELECT source_url FROM hvcsv_sync_state WHERE foreign_table = 'pg_pages'::regclass;
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,11'), ('2,Bob,20'), ('3,Carla,30'),
  ('4,Dan,40'), ('5,Eve,50')) v)
  TO '/tmp/hvcsv_fixture_www/pg_all.csv';
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('pg_pages');
SELECT * FROM pg_target ORDER BY id;

DROP FOREIGN TABLE pg_pages;
DROP TABLE pg_target;
