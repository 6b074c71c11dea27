#!/usr/bin/perl
# Which way hvcsv_refresh() compares an export with a non-empty target, read
# from the run's row in hvcsv_sync_history (rows_filtered: export rows equal
# to stored rows, dropped in the scan; rows_key_stored: of the rest, rows
# whose key is stored; export_processes, target_processes): the
# row filter (src/row_filter.c) is used for a plain target, and not where it
# could not give exactly what SQL gives: delete_missing (the DELETE needs
# every key), a partitioned target, row level security, a column type that
# differs between the foreign table and the target, and a target too large
# for maintenance_work_mem.  The filter needs no TEMP privilege.  Rows that
# pass are marked by whether their key is stored; a marked row deleted
# before the refresh writes is still inserted.  Every run, either way,
# leaves the target equal to the export.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use Time::HiRes qw(usleep);
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key = 'tap-filter-key';
my $www     = PostgreSQL::Test::Utils::tempdir();
my $port    = start_fixture($www, $api_key, 18816 .. 18823);

my $node = PostgreSQL::Test::Cluster->new('filter');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

# Writes the export: ids 1..$rows, with $changed's rows given another name.
sub write_export
{
	my ($rows, %changed) = @_;
	open(my $fh, '>', "$www/items.csv.tmp") or die $!;
	print $fh "id,name\n";
	printf $fh "%d,%s\n", $_, $changed{$_} // "item $_" foreach 1 .. $rows;
	close($fh) or die $!;
	rename("$www/items.csv.tmp", "$www/items.csv") or die $!;
}

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR PUBLIC SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE items (id int PRIMARY KEY, name text);
CREATE FOREIGN TABLE items_src (id int, name text) SERVER fx
  OPTIONS (path '/items.csv', target 'items');
-- a refresh runs as the foreign table's owner, whoever calls it: a role
-- that may use the server and write the target, and a login role in it
CREATE ROLE items_owner;
GRANT USAGE ON FOREIGN SERVER fx TO items_owner;
ALTER FOREIGN TABLE items_src OWNER TO items_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON items TO items_owner;
CREATE ROLE syncer LOGIN IN ROLE items_owner;
});

# What the newest run of foreign table $ft says of the row filter, in words:
# "N of M rows equal stored rows and go no further, K of the rest have a
# stored key" ('' if the run compared every row in SQL).
sub filter_of
{
	my ($ft) = @_;
	return query(qq{
SELECT CASE WHEN rows_filtered IS NULL THEN ''
       ELSE format('%s of %s rows equal stored rows and go no further, %s of the rest have a stored key',
                   rows_filtered, rows_inserted + rows_updated + rows_unchanged, rows_key_stored) END
  FROM hvcsv_sync_history WHERE foreign_table = '$ft'::regclass ORDER BY run_id DESC LIMIT 1});
}

# How many processes read the export and the target in the newest run of $ft.
sub processes_of
{
	my ($ft) = @_;
	return split(/\|/, query(qq{
SELECT concat_ws('|', coalesce(export_processes, 0), coalesce(target_processes, 0))
  FROM hvcsv_sync_history WHERE foreign_table = '$ft'::regclass ORDER BY run_id DESC LIMIT 1}));
}

# Refreshes items_src (as $role if given) with the export of $rows rows and
# the changes given; returns the run's "inserted/updated/unchanged" and the
# filter's figures in words ('' if the filter was not used; see filter_of).
my $version = 0;
my $target  = 'items';
sub refresh
{
	my ($role, $rows, %changed) = @_;
	$version++;
	write_export($rows, %changed, 1 => "item 1 v$version");
	my $set_role = $role ? "SET ROLE $role;" : '';
	my $counts = query(qq{$set_role
SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('items_src')});
	my $line = filter_of('items_src');
	my $differences = query(qq{
SELECT count(*) FROM ((SELECT * FROM $target EXCEPT SELECT * FROM items_src)
  UNION ALL (SELECT * FROM items_src EXCEPT SELECT * FROM $target)) d});
	is($differences, '0', "run $version: the target equals the export");
	return ($counts, $line);
}

# The first load: an empty target needs no comparison.
my ($counts, $line) = refresh(undef, 1000);
is($counts, 'ok/1000/0/0', 'first load');
is($line, '', 'no filter for an empty target');

($counts, $line) = refresh(undef, 1002, 5 => 'five');
is($counts, 'ok/2/2/998', 'a plain target: 2 changed, 2 new');
is($line, '998 of 1002 rows equal stored rows and go no further, 2 of the rest have a stored key',
	'the filter drops the stored rows; the 2 new keys are marked so');

($counts, $line) = refresh('syncer', 1002, 6 => 'six');
is($counts, 'ok/0/3/999', "as a member of the foreign table's owner");
is($line, '999 of 1002 rows equal stored rows and go no further, 3 of the rest have a stored key',
	'the filter is used');

query(q{ALTER FOREIGN TABLE items_src OPTIONS (ADD delete_missing 'true')});
($counts, $line) = refresh(undef, 1001);
is($counts, 'ok/0/2/999', 'delete_missing: 2 changed, 1 deleted');
is($line, '', 'delete_missing: no filter');
query(q{ALTER FOREIGN TABLE items_src OPTIONS (DROP delete_missing)});

query(q{ALTER TABLE items ENABLE ROW LEVEL SECURITY; CREATE POLICY everything ON items USING (true)});
($counts, $line) = refresh('syncer', 1001, 7 => 'seven');
is($counts, 'ok/0/2/999', 'row level security');
is($line, '', 'row level security: no filter');
query(q{ALTER TABLE items DISABLE ROW LEVEL SECURITY});

# A partitioned target: its rows are in its partitions.
query(q{
CREATE TABLE items_by_range (id int PRIMARY KEY, name text) PARTITION BY RANGE (id);
CREATE TABLE items_low PARTITION OF items_by_range FOR VALUES FROM (MINVALUE) TO (500);
CREATE TABLE items_high PARTITION OF items_by_range FOR VALUES FROM (500) TO (MAXVALUE);
INSERT INTO items_by_range SELECT * FROM items;
GRANT SELECT, INSERT, UPDATE ON items_by_range TO items_owner;
ALTER FOREIGN TABLE items_src OPTIONS (SET target 'items_by_range')});
$target = 'items_by_range';
($counts, $line) = refresh(undef, 1001, 3 => 'three');
is($counts, 'ok/0/3/998', 'a partitioned target');
is($line, '', 'a partitioned target: no filter');
$target = 'items';
query(qq{ALTER FOREIGN TABLE items_src OPTIONS (SET target 'items');
UPDATE items SET name = 'three' WHERE id = 3;
UPDATE items SET name = 'item 1 v$version' WHERE id = 1});

query(q{ALTER FOREIGN TABLE items_src ALTER COLUMN id TYPE bigint});
($counts, $line) = refresh(undef, 1001, 8 => 'eight');
is($counts, 'ok/0/4/997', 'a column of another type');
is($line, '', 'a column of another type: no filter');
query(q{ALTER FOREIGN TABLE items_src ALTER COLUMN id TYPE int});

# The rows left wait in memory (or a temporary file), not in a temporary
# table, which this role could not create.
query(q{REVOKE TEMP ON DATABASE postgres FROM PUBLIC});
($counts, $line) = refresh('syncer', 1001, 9 => 'nine');
is($counts, 'ok/0/3/998', 'no TEMP privilege');
is($line, '998 of 1001 rows equal stored rows and go no further, 3 of the rest have a stored key',
	'no TEMP privilege: the filter is used');
query(q{GRANT TEMP ON DATABASE postgres TO PUBLIC});

# 70,000 rows need a 1 MB set (8 bytes a slot at half load): past 1 MB of
# maintenance_work_mem, the filter gives up and SQL compares.  The refresh
# worker logs in as the session's user, so its settings come from there
# (here the database's).
($counts, $line) = refresh(undef, 70000);
is($counts, 'ok/68999/2/999', 'a larger export');
query(q{ALTER DATABASE postgres SET maintenance_work_mem = '1MB'});
($counts, $line) = refresh('syncer', 70000, 10 => 'ten');
is($counts, 'ok/0/2/69998', 'too large for maintenance_work_mem');
is($line, '', 'too large for maintenance_work_mem: no filter');
query(q{ALTER DATABASE postgres RESET maintenance_work_mem});
($counts, $line) = refresh('syncer', 70000, 10 => 'ten');
is($line, '69999 of 70000 rows equal stored rows and go no further, 1 of the rest have a stored key',
	'with the default, the filter is used again');

# A row whose key was stored when the filter read the target, deleted before
# the refresh writes: the UPDATE misses it, so the INSERT looks up the keys
# the UPDATE missed and inserts the row again.  The export is streamed and
# stalls after 30 kB, by when the filter has read the target and the scan
# has counted rows.
query(q{CREATE FOREIGN TABLE items_stream (id int, name text) SERVER fx
  OPTIONS (path '/items.csv', target 'items', reader 'streaming')});
$version++;
write_export(70000, 1 => "item 1 v$version", 10 => 'ten', 60000 => 'sixty thousand');
# The first request only revalidates; the second, the scan's, stalls once.
set_fault('/items.csv', 'stall=3&stall_after=30000&stall_times=2');
my ($out, $err) = ('', '');
my $run = IPC::Run::start(
	[
		'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c',
		q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
		    FROM hvcsv_refresh('items_stream')}
	],
	'<', \undef, '>', \$out, '2>', \$err);
my $scanning = '0';
my $deadline = time + 60;
while (time < $deadline)
{
	$scanning = query(q{SELECT count(*) FROM hvcsv_refresh_progress WHERE rows_processed > 0});
	last if $scanning ne '0';
	$run->pump_nb;
	last unless $run->pumpable;
	usleep(20_000);
}
is($scanning, '1', 'the refresh is scanning the stalled export');
query('DELETE FROM items WHERE id = 60000');
$run->finish;
is($out, "ok/1/1/69998\n", 'the row deleted meanwhile is inserted again, the other updated')
  or diag($err);
is(filter_of('items_stream'),
	'69998 of 70000 rows equal stored rows and go no further, 2 of the rest have a stored key',
	'both rows were marked as having a stored key');
set_fault('/items.csv');
is(query('SELECT name FROM items WHERE id = 60000'), 'sixty thousand', 'the row is back');
is( query(q{SELECT count(*) FROM ((SELECT * FROM items EXCEPT SELECT * FROM items_stream)
  UNION ALL (SELECT * FROM items_stream EXCEPT SELECT * FROM items)) d}),
	'0', 'the target equals the export');

# The partitioned reader reads the export in parallel (min_parallel_table_scan_size
# 0 makes even this small export worth 2 workers): each process drops the
# stored rows and watches the keys through the scan's shared memory.  The
# row filter reads the target in parallel too, and the export of a table
# with the projected reader.
query(q{CREATE FOREIGN TABLE items_part (id int, name text) SERVER fx
  OPTIONS (path '/items.csv', target 'items', reader 'partitioned', block_size '64kB');
ALTER DATABASE postgres SET min_parallel_table_scan_size = 0});
$version++;
write_export(70000, 1 => "item 1 v$version", 10 => 'ten', 69000 => 'sixty-nine thousand');
open(my $fh, '>>', "$www/items.csv") or die $!;
print $fh "70001,new\n";
close($fh) or die $!;
is( query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('items_part')}), 'ok/1/3/69997', 'a parallel read: 3 changed, 1 new');
is(filter_of('items_part'),
	'69997 of 70001 rows equal stored rows and go no further, 3 of the rest have a stored key',
	'a parallel read: the filter is used');
my ($processes, $readers) = processes_of('items_part');
cmp_ok($processes, '>', 1, 'the export was read by more than one process');
# The setting makes the target worth parallel workers too.
cmp_ok($readers, '>', 1, 'the target was read by more than one process');
is( query(q{SELECT count(*) FROM ((SELECT * FROM items EXCEPT SELECT * FROM items_part)
  UNION ALL (SELECT * FROM items_part EXCEPT SELECT * FROM items)) d}),
	'0', 'the target equals the export');

# The projected reader's export is spooled too: the refresh reads it in
# parallel as well, cut at the table's block_size.
query(q{ALTER FOREIGN TABLE items_src OPTIONS (ADD block_size '64kB')});
is( query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('items_src')}), 'ok/0/0/70001', 'the projected reader: nothing changed');
is(filter_of('items_src'),
	'70001 of 70001 rows equal stored rows and go no further, 0 of the rest have a stored key',
	'the projected reader: the filter is used');
($processes) = processes_of('items_src');
cmp_ok($processes, '>', 1, 'its export was read by more than one process too');
query(q{ALTER FOREIGN TABLE items_src OPTIONS (DROP block_size)});

# A key in two partitions is seen by the shared watch.
open($fh, '>>', "$www/items.csv") or die $!;
print $fh "5,five again\n";
close($fh) or die $!;
my ($ok, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT status FROM hvcsv_refresh('items_part')});
like($stderr, qr/the export has key \(id\)=5 more than once/, 'a key in two partitions is found');
query(q{ALTER DATABASE postgres RESET min_parallel_table_scan_size});

# force_parallel_mode would put the scan alone in a worker, where no filter
# or watch is: the refresh reads serially then.
query(q{ALTER DATABASE postgres SET force_parallel_mode = on});
$version++;
write_export(70000, 1 => "item 1 v$version", 10 => 'ten');
is( query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('items_part')}), 'ok/0/2/69998', 'force_parallel_mode: 1 and 69000 changed');
is(filter_of('items_part'),
	'69998 of 70000 rows equal stored rows and go no further, 2 of the rest have a stored key',
	'force_parallel_mode: the filter is used');
($processes) = processes_of('items_part');
is($processes, '1', 'force_parallel_mode: in one process');
query(q{ALTER DATABASE postgres RESET force_parallel_mode});

# A trigger on the target that reads the foreign table itself, in a
# parallel scan of its own, while the refresh writes: the trigger's scans
# are not the refresh's (every row reaches the trigger, none is counted or
# dropped for the refresh, nothing of the refresh's shared memory is
# reused), and the refresh's counts stay its own.
query(q{
CREATE TABLE seen (n bigint);
CREATE FUNCTION note_export() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.seen SELECT count(*) FROM public.items_part; RETURN NEW; END $$;
CREATE TRIGGER note_export AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION note_export();
ALTER DATABASE postgres SET min_parallel_table_scan_size = 0;
ALTER DATABASE postgres SET parallel_setup_cost = 0;
ALTER DATABASE postgres SET parallel_tuple_cost = 0;
ALTER DATABASE postgres SET force_parallel_mode = on});
$version++;
write_export(70000, 1 => "item 1 v$version", 10 => 'ten again');
is( query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('items_part')}), 'ok/0/2/69998', 'a trigger that reads the export: 2 changed');
is(query(q{SELECT string_agg(n::text, ',') FROM seen}), '70000,70000',
	'the trigger read every row of the export, once per updated row');
is(filter_of('items_part'),
	'69998 of 70000 rows equal stored rows and go no further, 2 of the rest have a stored key',
	"the refresh's counts are its own");
query(q{
DROP TRIGGER note_export ON items;
ALTER DATABASE postgres RESET min_parallel_table_scan_size;
ALTER DATABASE postgres RESET parallel_setup_cost;
ALTER DATABASE postgres RESET parallel_tuple_cost;
ALTER DATABASE postgres RESET force_parallel_mode});

# Key columns that are not the first, in another order than the table's:
# the filter hashes them first, and reads them back by their place in the
# kept rows; each changed row is still marked as having a stored key.
sub write_pairs
{
	my @rows = @_;
	open(my $fh, '>', "$www/pairs.csv.tmp") or die $!;
	print $fh "note,b,a\n", map { "$_\n" } @rows;
	close($fh) or die $!;
	rename("$www/pairs.csv.tmp", "$www/pairs.csv") or die $!;
}
query(q{
CREATE TABLE pairs (note text, b text, a int, PRIMARY KEY (a, b));
CREATE FOREIGN TABLE pairs_src (note text, b text, a int) SERVER fx
  OPTIONS (path '/pairs.csv', target 'pairs')});
write_pairs('one,x,1', 'two,x,2', 'three,y,1');
is(query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('pairs_src')}), 'ok/3/0/0', 'pairs: first load');
write_pairs('one v2,x,1', 'two,x,2', 'three,y,1', 'four,y,2', 'five,z,1');
is(query(q{SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_refresh('pairs_src')}), 'ok/2/1/2', 'pairs: 1 changed, 2 new');
is(filter_of('pairs_src'),
	'2 of 5 rows equal stored rows and go no further, 1 of the rest have a stored key',
	'pairs: the changed row is marked, the new ones are not');
is(query(q{SELECT string_agg(concat_ws(':', a, b, note), ' ' ORDER BY a, b) FROM pairs}),
	'1:x:one v2 1:y:three 1:z:five 2:x:two 2:y:four', 'pairs: the target equals the export');

$node->stop;
stop_fixture();
done_testing();
