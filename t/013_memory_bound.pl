#!/usr/bin/perl
# A refresh's memory stays within its bound, and the bound changes nothing
# of what it writes.  The same export is refreshed into two targets that
# hold the same rows, once with the default maintenance_work_mem (the row
# filter's fingerprints and the key watch's hashes fit) and once with 1MB
# and work_mem 1MB (neither fits: SQL compares every row, and a second read
# looks for a key twice).  Both runs must count the same rows and leave the
# same rows; a key twice must still fail the bounded run, naming the key.
# While each run goes, the refresh worker and its parallel workers are
# sampled from /proc: their own memory (resident pages of every mapping but
# the server's main shared memory segment, so private memory and the
# dynamic shared memory they touched) less an idle backend's must stay
# within a bound that the sets alone would pass, were they not bounded.
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

my $rows    = 600_000;
my $api_key = 'tap-memory-key';
my $www     = PostgreSQL::Test::Utils::tempdir();
my $port    = start_fixture($www, $api_key, 18880 .. 18887);

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# JIT would map LLVM's library into the worker, tens of MB not of the
# refresh's making.
$node->append_conf('postgresql.conf', 'jit = off');
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

# Writes the export: ids 1..$rows (and $extra more), every 50th row changed
# if $changed, then the rows of @repeated once more.
sub write_export
{
	my ($changed, $extra, @repeated) = @_;
	open(my $fh, '>', "$www/big.csv.tmp") or die $!;
	print $fh "id,name,n\n";
	foreach my $id (1 .. $rows + $extra, @repeated)
	{
		my $n = $changed && $id % 50 == 0 ? -$id : $id * 3;
		print $fh "$id,name $id,$n\n";
	}
	close($fh) or die $!;
	rename("$www/big.csv.tmp", "$www/big.csv") or die $!;
}

# The resident kB of the mappings in smaps text, the main segment left out
# (as bench/peak_rss.py counts it).
sub own_memory
{
	my ($smaps) = @_;
	my ($kb, $counted) = (0, 1);
	foreach my $line (split /\n/, $smaps)
	{
		if ($line =~ /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/)
		{
			$counted = $1 !~ m{^(/dev/zero \(deleted\)|anon_hugepage \(deleted\)|/SYSV)};
		}
		elsif ($counted && $line =~ /^Rss:\s+(\d+) kB/)
		{
			$kb += $1;
		}
	}
	return $kb;
}

sub slurp_proc
{
	my ($path) = @_;
	open(my $fh, '<', $path) or return undef;
	local $/;
	my $text = <$fh>;
	return $text;
}

# The refresh workers and the parallel workers of one of them.
sub refresh_processes
{
	my (%leader, %parallel);
	opendir(my $dh, '/proc') or die $!;
	foreach my $pid (grep { /^\d+$/ } readdir($dh))
	{
		my $title = slurp_proc("/proc/$pid/cmdline") // next;
		$leader{$pid} = 1 if $title =~ /^postgres: (?:\S+: )?hvcsv_fdw refresh/;
		$parallel{$pid} = $1 if $title =~ /^postgres: (?:\S+: )?parallel worker for PID (\d+)/;
	}
	closedir($dh);
	return (keys %leader, grep { $leader{ $parallel{$_} } } keys %parallel);
}

# Runs the statements @sql, each in its own transaction, while sampling every 10 ms the own memory of the refresh worker
# and its parallel workers; returns psql's output and the highest sample.
sub run_sampled
{
	my (@sql) = @_;
	my ($out, $err, $peak) = ('', '', 0);
	my $run = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), map { ('-c', $_) } @sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	while ($run->pumpable)
	{
		foreach my $pid (refresh_processes())
		{
			my $smaps = slurp_proc("/proc/$pid/smaps") // next;
			my $kb = own_memory($smaps);
			$peak = $kb if $kb > $peak;
		}
		usleep(10_000);
		$run->pump_nb;
	}
	$run->finish;
	return ($out . $err, $peak);
}

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR PUBLIC SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE roomy (id int PRIMARY KEY, name text, n bigint);
CREATE TABLE bounded (id int PRIMARY KEY, name text, n bigint);
CREATE FOREIGN TABLE roomy_src (id int, name text, n bigint) SERVER fx
  OPTIONS (path '/big.csv', target 'roomy');
CREATE FOREIGN TABLE bounded_src (id int, name text, n bigint) SERVER fx
  OPTIONS (path '/big.csv', target 'bounded');
});
my $idle = own_memory(query(q{SELECT pg_read_file('/proc/self/smaps')}));
note "an idle backend's own memory: $idle kB";

# What the newest run of $ft counted, and whether the row filter was used.
sub counts_of
{
	my ($ft) = @_;
	return query(qq{
SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged)
  FROM hvcsv_sync_history WHERE foreign_table = '$ft'::regclass ORDER BY run_id DESC LIMIT 1});
}

sub filter_used
{
	my ($ft) = @_;
	return query(qq{
SELECT rows_filtered IS NOT NULL
  FROM hvcsv_sync_history WHERE foreign_table = '$ft'::regclass ORDER BY run_id DESC LIMIT 1});
}

# Both targets get the first version, loaded as a first load is.
write_export(0, 0);
query(q{SELECT hvcsv_refresh('roomy_src'); SELECT hvcsv_refresh('bounded_src')});
query(q{ANALYZE roomy; ANALYZE bounded});
is(query(q{SELECT count(*) FROM bounded}), $rows, 'both targets loaded');

# The second version: every 50th row changed, a thousand new.
write_export(1, 1000);
my ($out, $roomy_peak) = run_sampled(q{SELECT status FROM hvcsv_refresh('roomy_src')});
is($out, "ok\n", 'the roomy run ends well');
is(filter_used('roomy_src'), 't', 'the roomy run drops stored rows in the scan');

query(q{ALTER ROLE CURRENT_USER SET maintenance_work_mem = '1MB';
ALTER ROLE CURRENT_USER SET work_mem = '1MB'});
my $bounded_peak;
($out, $bounded_peak) = run_sampled(q{SELECT status FROM hvcsv_refresh('bounded_src')});
is($out, "ok\n", 'the bounded run ends well');
is(filter_used('bounded_src'), 'f', 'the bounded run compares in SQL');

my $changed = int($rows / 50);
is(counts_of('roomy_src'), "ok/1000/$changed/" . ($rows - $changed), 'the roomy run counts');
is(counts_of('bounded_src'), counts_of('roomy_src'), 'the bounded run counts the same');
is( query(q{SELECT count(*) FROM ((TABLE roomy EXCEPT TABLE bounded)
  UNION ALL (TABLE bounded EXCEPT TABLE roomy)) d}),
	'0', 'both targets hold the same rows');

note "own memory above idle: roomy run $roomy_peak - $idle kB, bounded run $bounded_peak - $idle kB";
cmp_ok($bounded_peak - $idle, '<=', 20 * 1024,
	'the bounded run stays within 20MB above an idle backend');

# A key twice still fails the bounded run, naming the key.
write_export(1, 1000, 4242);
($out) = run_sampled(q{SET hvcsv_fdw.refresh_failure = 'warning'},
	q{SELECT status FROM hvcsv_refresh('bounded_src')});
like(
	$out,
	qr/failed: the export has key \(id\)=4242 more than once; nothing was written/,
	'a key twice fails the bounded run, named');
query(q{ALTER ROLE CURRENT_USER RESET maintenance_work_mem;
ALTER ROLE CURRENT_USER RESET work_mem});

$node->stop;
stop_fixture();
done_testing();
