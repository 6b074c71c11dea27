--
-- A sharded target: partitioned by key columns at every level, with no
-- unique index of its own, each partition refusing a key twice by its own
-- (here local partitions with a unique index; t/012_sharded_target.pl has
-- postgres_fdw partitions on other servers).  The refresh inserts without
-- ON CONFLICT, and writes only changed rows; a target that is not sharded
-- so is refused, saying why.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_sharded';
SET timezone = 'UTC';

COPY (SELECT * FROM (VALUES ('region,id,name'), ('eu,1,one'), ('eu,2,two'), ('us,1,uno'),
  ('us,3,tres')) v) TO '/tmp/hvcsv_fixture_www/sharded.csv';
-- two levels: by list of region, then by hash of id
CREATE TABLE shard_t (region text, id int, name text, deleted_at timestamptz) PARTITION BY LIST (region);
CREATE TABLE shard_eu PARTITION OF shard_t FOR VALUES IN ('eu') PARTITION BY HASH (id);
CREATE TABLE shard_eu_0 PARTITION OF shard_eu FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE shard_eu_1 PARTITION OF shard_eu FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE shard_us PARTITION OF shard_t FOR VALUES IN ('us');
CREATE UNIQUE INDEX ON shard_eu_0 (region, id);
CREATE UNIQUE INDEX ON shard_eu_1 (id, region);
CREATE UNIQUE INDEX ON shard_us (region, id);
CREATE FOREIGN TABLE shard_src (region text, id int, name text) SERVER fx
  OPTIONS (path '/sharded.csv', target 'shard_t', key 'region, id',
           delete_missing 'soft', deleted_column 'deleted_at');

-- the first load routes each row to its partition
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('shard_src');
SELECT tableoid::regclass, region, id, name, deleted_at FROM shard_t ORDER BY region, id;

-- one row changed, one new, one missing (marked), two the same: only the
-- changed and the missing row get a new row version
CREATE TEMP TABLE shard_versions AS SELECT region, id, xmin::text AS version FROM shard_t;
COPY (SELECT * FROM (VALUES ('region,id,name'), ('eu,1,one'), ('eu,2,TWO'), ('us,1,uno'),
  ('us,4,cuatro')) v) TO '/tmp/hvcsv_fixture_www/sharded.csv';
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('shard_src');
SELECT s.region, s.id, s.name, s.deleted_at IS NOT NULL AS deleted, s.xmin::text = v.version AS same_row_version
  FROM shard_t s LEFT JOIN shard_versions v USING (region, id) ORDER BY region, id;

-- the missing key comes back: unmarked
COPY (SELECT * FROM (VALUES ('region,id,name'), ('eu,1,one'), ('eu,2,TWO'), ('us,1,uno'),
  ('us,3,tres'), ('us,4,cuatro')) v) TO '/tmp/hvcsv_fixture_www/sharded.csv';
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('shard_src');
SELECT region, id, name, deleted_at IS NOT NULL AS deleted FROM shard_t ORDER BY region, id;

-- targets that are not sharded by the key are refused before anything is read
SET hvcsv_fdw.refresh_failure = 'warning';
ALTER FOREIGN TABLE shard_src OPTIONS (SET key 'id');
SELECT status FROM hvcsv_refresh('shard_src');
ALTER FOREIGN TABLE shard_src OPTIONS (SET key 'region, id');
CREATE TABLE shard_us_2 PARTITION OF shard_t FOR VALUES IN ('us2');
SELECT status FROM hvcsv_refresh('shard_src');
DROP TABLE shard_us_2;
CREATE FOREIGN TABLE shard_us_3 PARTITION OF shard_t FOR VALUES IN ('us3')
  SERVER fx OPTIONS (path '/sharded.csv');
SELECT status FROM hvcsv_refresh('shard_src');
DROP FOREIGN TABLE shard_us_3;
RESET hvcsv_fdw.refresh_failure;
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('shard_src');

DROP FOREIGN TABLE shard_src;
DROP TABLE shard_t;
