#!/usr/bin/perl
# hvcsv_refresh() into a target partitioned across servers: a coordinator
# whose target is hash-partitioned by its key into two postgres_fdw foreign
# tables, one on each of two shard clusters (batch_size set), and an export
# of 100,000 rows:
#
#  - the first load routes every row to its shard, in batches of batch_size
#    (each shard's pg_stat_statements counts the remote INSERTs), as a later
#    run inserts its new rows;
#  - after rows changed, were added and were removed (delete_missing), each
#    shard's inserts, updates and deletes are exactly its changed rows, and
#    no other row is locked (fetched FOR UPDATE);
#  - an unchanged export is "unchanged"; a forced run writes and locks
#    nothing;
#  - a key twice in the export fails the run, and no shard changes; in a
#    first load too, where the shard's unique index refuses it;
#  - a target partitioned by a column outside the key is refused.
# The tables are a role's that is no superuser, refreshed by a superuser:
# the owner's user mappings write the shards.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(sum);

my $api_key    = 'tap-shard-key';
my $rows       = 100_000;
my $batch_size = 1000;
my $www        = PostgreSQL::Test::Utils::tempdir();

# The export: id, name, amount; %$amounts overrides amounts by id, @extra
# are more lines as they are.
sub write_export
{
	my ($ids, $amounts, @extra) = @_;
	my @lines = ('id,name,amount');
	push @lines, join(',', $_, "name $_", $amounts->{$_} // $_ % 1000) foreach @$ids;
	write_served($www, 't.csv', join("\n", @lines, @extra) . "\n");
}

my @ids = (1 .. $rows);
write_export(\@ids, {});
my $port = start_fixture($www, $api_key, 18870 .. 18877);

my @shards;
foreach my $i (0, 1)
{
	my $shard = PostgreSQL::Test::Cluster->new("shard$i");
	$shard->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$shard->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_stat_statements'\n");
	$shard->start;
	$shard->safe_psql('postgres', q{
CREATE EXTENSION pg_stat_statements;
CREATE ROLE shard_writer LOGIN;
CREATE ROLE nobody LOGIN;
CREATE TABLE t (id int PRIMARY KEY, name text, amount int);
CREATE TABLE t2 (id int PRIMARY KEY, name text, amount int);
ALTER TABLE t OWNER TO shard_writer;
ALTER TABLE t2 OWNER TO shard_writer;
});
	push @shards, $shard;
}

my $node = PostgreSQL::Test::Cluster->new('coordinator');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
# Everything is alice's, who is no superuser: her user mappings write the
# shards (as shard_writer); the superuser who calls the refresh has a
# mapping only to a remote role that may not read the shards' tables.
$node->safe_psql('postgres', qq{
CREATE EXTENSION hvcsv_fdw;
CREATE EXTENSION postgres_fdw;
CREATE ROLE alice LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
GRANT USAGE ON FOREIGN SERVER fx TO alice;
CREATE USER MAPPING FOR alice SERVER fx OPTIONS (api_key '$api_key');
});
foreach my $i (0, 1)
{
	my ($host, $shard_port) = ($shards[$i]->host, $shards[$i]->port);
	$node->safe_psql('postgres', qq{
CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '$host', port '$shard_port', dbname 'postgres', batch_size '$batch_size');
GRANT USAGE ON FOREIGN SERVER shard$i TO alice;
CREATE USER MAPPING FOR alice SERVER shard$i OPTIONS (user 'shard_writer', password_required 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i OPTIONS (user 'nobody');
});
}
$node->safe_psql('postgres', q{
SET ROLE alice;
CREATE TABLE t (id int, name text, amount int) PARTITION BY HASH (id);
CREATE FOREIGN TABLE t_0 PARTITION OF t FOR VALUES WITH (MODULUS 2, REMAINDER 0)
  SERVER shard0 OPTIONS (table_name 't');
CREATE FOREIGN TABLE t_1 PARTITION OF t FOR VALUES WITH (MODULUS 2, REMAINDER 1)
  SERVER shard1 OPTIONS (table_name 't');
CREATE FOREIGN TABLE t_ft (id int, name text, amount int) SERVER fx
  OPTIONS (path '/t.csv', key 'id', target 't', delete_missing 'true');
});

# as_alice(sql): the result of sql run as alice.
sub as_alice
{
	return $node->safe_psql('postgres', "SET ROLE alice; $_[0]");
}

# shard_of(ids): how many of ids each shard holds, by the target's hash
# partitioning, as "n0 n1".
sub shard_of
{
	my ($ids) = @_;
	return '0 0' unless @$ids;
	my $list = join(',', @$ids);
	return $node->safe_psql('postgres', qq{
SELECT concat_ws(' ', count(*) FILTER (WHERE satisfies_hash_partition('t'::regclass, 2, 0, id)),
                      count(*) FILTER (WHERE satisfies_hash_partition('t'::regclass, 2, 1, id)))
  FROM unnest('{$list}'::int[]) id});
}

# refresh(force): the run's status and counts, "status|inserted|updated|unchanged|deleted".
sub refresh
{
	my ($force) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT concat_ws('|', status, rows_inserted, rows_updated, rows_unchanged, rows_deleted)
		     FROM hvcsv_refresh('t_ft', force => $force)});
}

# Waits until no session of the refresh is left on a shard: a backend
# reports its table counters when it ends.
sub settled
{
	my ($shard) = @_;
	$shard->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity
		   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
	  or die 'a session of the refresh stays on the shard';
}

# writes(): what each shard's t has had written, as "ins/upd/del ins/upd/del".
sub writes
{
	my @w;
	foreach my $shard (@shards)
	{
		settled($shard);
		push @w, $shard->safe_psql('postgres',
			q{SELECT concat_ws('/', n_tup_ins, n_tup_upd, n_tup_del)
			    FROM pg_stat_user_tables WHERE relname = 't'});
	}
	return join(' ', @w);
}

# Subtracts two writes() results, shard by shard.
sub delta
{
	my ($before, $after) = @_;
	my @b = map { [ split m{/} ] } split / /, $before;
	my @a = map { [ split m{/} ] } split / /, $after;
	return join(' ', map { my $s = $_; join('/', map { $a[$s][$_] - $b[$s][$_] } 0 .. 2) } 0, 1);
}

# locked(ids): how many rows of each shard's t, but those of ids, a
# transaction locked (their xmax is set; postgres_fdw locks a row it
# updates, and the new version keeps the lock), as "n0 n1".
sub locked
{
	my ($ids) = @_;
	my $list = join(',', @$ids);
	return join(' ', map {
		$_->safe_psql('postgres', qq{SELECT count(*) FROM t WHERE xmax <> '0' AND id <> ALL ('{$list}')})
	} @shards);
}

# xmaxes(): each shard's rows with their xmax, hashed, as "md5 md5".
sub xmaxes
{
	return join(' ', map {
		$_->safe_psql('postgres',
			q{SELECT md5(string_agg(concat_ws(':', id, xmax), ',' ORDER BY id)) FROM t})
	} @shards);
}

# contents(): each shard's rows, as "count:sum:md5 count:sum:md5".
sub contents
{
	return join(' ', map {
		$_->safe_psql('postgres',
			q{SELECT concat_ws(':', count(*), sum(amount),
			                   md5(string_agg(concat_ws(',', id, name, amount), ';' ORDER BY id)))
			    FROM t})
	} @shards);
}

# batches(): the remote INSERTs each shard ran since the last call, and
# their rows, as "statements rows, statements rows".
sub batches
{
	return join(', ', map {
		$_->safe_psql('postgres', q{
SELECT concat_ws(' ', coalesce(sum(calls), 0), coalesce(sum(rows), 0)) FROM pg_stat_statements
 WHERE query LIKE 'INSERT INTO%';
SELECT pg_stat_statements_reset();}) =~ s/\n.*//sr
	} @shards);
}

# batches_of(n0, n1): what batches() says when each shard got its rows in
# as few INSERTs of batch_size rows as can hold them.
sub batches_of
{
	return join(', ', map { int(($_ + $batch_size - 1) / $batch_size) . " $_" } @_);
}

# ---------------------------------------------------------------------------
# The first load.
my $w0 = writes();
is(refresh('false'), "ok|$rows|0|0|0", 'the first load inserts every row');
my ($n0, $n1) = split / /, shard_of(\@ids);
is(join(' ', map { $_->safe_psql('postgres', 'SELECT count(*) FROM t') } @shards),
	"$n0 $n1", '... each on the shard its key hashes to');
cmp_ok($n0 * $n1, '>', 0, '... both shards have rows');
is(delta($w0, writes()), "$n0/0/0 $n1/0/0", '... each row inserted once');
is(batches(), batches_of($n0, $n1), "... in remote INSERTs of batch_size ($batch_size) rows");
is(as_alice('SELECT sum(amount) FROM t'),
	$node->safe_psql('postgres', "SELECT sum(g % 1000) FROM generate_series(1, $rows) g"),
	'the coordinator reads every row back through the partitions');
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT count(*) FROM t');
like($stderr, qr/permission denied for table t/,
	"... as the owner's mappings do; the caller's would not have");

# ---------------------------------------------------------------------------
# Some rows change, some are added, some removed.
my @changed = map { $_ * 997 } 1 .. 60;
my @added   = ($rows + 1 .. $rows + 40);
my @removed = (1 .. 25);
my %amounts = map { $_ => 5000 + $_ } @changed;
my @ids2    = ((26 .. $rows), @added);
write_export(\@ids2, \%amounts);
my $w1 = writes();
is(refresh('false'),
	'ok|' . scalar(@added) . '|' . scalar(@changed) . '|'
	  . ($rows - @removed - @changed) . '|' . scalar(@removed),
	'a changed export: new rows inserted, changed ones updated, missing ones deleted');
my @a = split / /, shard_of(\@added);
my @c = split / /, shard_of(\@changed);
my @r = split / /, shard_of(\@removed);
is(delta($w1, writes()), "$a[0]/$c[0]/$r[0] $a[1]/$c[1]/$r[1]",
	'... and each shard writes exactly its changed rows');
is(batches(), batches_of(@a), '... inserting its new rows in batches too');
is(locked(\@changed), '0 0', '... locking no other row');
is(as_alice('SELECT count(*), sum(amount) FILTER (WHERE amount >= 5000), min(id), max(id) FROM t'),
	($rows - @removed + @added) . '|' . sum(values %amounts) . '|26|' . ($rows + @added),
	'... and the target holds the export as it is now');

# ---------------------------------------------------------------------------
# Nothing changed.
my $w2 = writes();
my $x2 = xmaxes();
is(refresh('false'), 'unchanged|0|0|0|0', 'an unchanged export: unchanged');
is(refresh('true'), 'ok|0|0|' . scalar(@ids2) . '|0', 'a forced run compares every row');
is(delta($w2, writes()), '0/0/0 0/0/0', '... and writes nothing on either shard');
is(xmaxes(), $x2, '... nor locks a row');

# ---------------------------------------------------------------------------
# A key twice, with a changed row and a new one that would be written.
my $before = contents();
my $w3     = writes();
write_export(\@ids2, { %amounts, 500 => 77 }, '777,twice,1', ($rows + 500) . ',new,1');
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT * FROM hvcsv_refresh('t_ft')});
isnt($ret, 0, 'a key twice in the export fails the run');
like($stderr, qr/the export has key \(id\)=777 more than once/, '... naming the key');
is(contents(), $before, '... and no shard changes');
is($node->safe_psql('postgres',
		q{SELECT status FROM hvcsv_sync_history ORDER BY run_id DESC LIMIT 1}),
	'failed', '... and the run is recorded as failed');
write_export(\@ids2, \%amounts);

# A key twice in the first load: the shard's unique index refuses it.
write_served($www, 'dup.csv', "id,name,amount\n1,a,1\n2,b,2\n3,c,3\n2,again,4\n");
as_alice(q{
CREATE TABLE t2 (id int, name text, amount int) PARTITION BY HASH (id);
CREATE FOREIGN TABLE t2_0 PARTITION OF t2 FOR VALUES WITH (MODULUS 2, REMAINDER 0)
  SERVER shard0 OPTIONS (table_name 't2');
CREATE FOREIGN TABLE t2_1 PARTITION OF t2 FOR VALUES WITH (MODULUS 2, REMAINDER 1)
  SERVER shard1 OPTIONS (table_name 't2');
CREATE FOREIGN TABLE t2_ft (id int, name text, amount int) SERVER fx
  OPTIONS (path '/dup.csv', key 'id', target 't2');
});
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT * FROM hvcsv_refresh('t2_ft')});
like($stderr, qr/the export has key \(id\)=2 more than once/,
	'a key twice in a first load fails the run, naming the key');
is(join(' ', map { $_->safe_psql('postgres', 'SELECT count(*) FROM t2') } @shards), '0 0',
	'... and no shard has a row of it');

# ---------------------------------------------------------------------------
# A target partitioned by a column that is not part of the key.
as_alice(q{
CREATE TABLE by_name (id int, name text, amount int) PARTITION BY HASH (name);
CREATE FOREIGN TABLE by_name_0 PARTITION OF by_name FOR VALUES WITH (MODULUS 2, REMAINDER 0)
  SERVER shard0 OPTIONS (table_name 't');
CREATE FOREIGN TABLE by_name_1 PARTITION OF by_name FOR VALUES WITH (MODULUS 2, REMAINDER 1)
  SERVER shard1 OPTIONS (table_name 't');
CREATE FOREIGN TABLE by_name_ft (id int, name text, amount int) SERVER fx
  OPTIONS (path '/t.csv', key 'id', target 'by_name');
});
my $w4 = writes();
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT * FROM hvcsv_refresh('by_name_ft')});
isnt($ret, 0, 'a target partitioned by a column outside the key is refused');
like($stderr,
	qr/target table "by_name" has no unique index on the key \(id\), and the partition key of "by_name" is not made of key columns/,
	'... saying why');
is(delta($w4, writes()), '0/0/0 0/0/0', '... before anything is written');

$node->stop;
$_->stop foreach @shards;
done_testing();
