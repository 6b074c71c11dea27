#!/usr/bin/perl
# A refresh worker killed with SIGKILL in the middle of a download: the
# postmaster restarts (crash recovery), and afterwards the target and the
# sync state are exactly as the last successful refresh left them, no partial
# download is published as a spool, and the next refresh loads the new export.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use Time::HiRes qw(usleep time);
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key = 'tap-kill-key';

# The background psql running the refresh that gets killed.
my $refresh_run;

END
{
	local $?;
	$refresh_run->kill_kill if $refresh_run && $refresh_run->pumpable;
	stop_fixture();
}

# ---------------------------------------------------------------------------
my $www = PostgreSQL::Test::Utils::tempdir();

# The export: has_id K00001..K0nnnnn, a name, a city, an amount and some
# padding, about 110 bytes a row.  Version 2 changes every 20th amount and
# adds 50 rows.  Returns the rows as psql -A prints the target.
sub write_export
{
	my ($version) = @_;
	my $rows = $version == 1 ? 2000 : 2050;
	my (@csv, @psql);
	foreach my $i (1 .. $rows)
	{
		my $id     = sprintf('K%05d', $i);
		my $name   = "name $i";
		my $city   = ('Berlin', 'Oslo', 'Paris, France', 'Rome')[ $i % 4 ];
		my $amount = sprintf('%d.%02d', $i, $i % 100);
		$amount = "$i.99" if $version == 2 && $i % 20 == 0;
		my $notes = 'x' x (40 + $i % 17);
		push @csv,  join(',', $id, $name, qq{"$city"}, $amount, $notes);
		push @psql, join('|', $id, $name, $city, $amount, $notes);
	}
	open(my $fh, '>', "$www/big.csv.tmp") or die $!;
	print $fh "has_id,name,city,amount,notes\n", map { "$_\n" } @csv;
	close($fh) or die $!;
	rename("$www/big.csv.tmp", "$www/big.csv") or die $!;
	return join("\n", @psql);
}

my $v1_rows = write_export(1);
my $port    = start_fixture($www, $api_key, 18792 .. 18799);

my $node = PostgreSQL::Test::Cluster->new('kill');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# PostgreSQL::Test::Cluster turns restart_after_crash off; this test needs
# the postmaster to reinitialize after the worker is killed.
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:$port');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE big (has_id text PRIMARY KEY, name text, city text, amount numeric, notes text);
CREATE FOREIGN TABLE big_src (has_id text, name text, city text, amount numeric, notes text)
  SERVER fx OPTIONS (path '/big.csv', target 'big');
CREATE FOREIGN TABLE fixture_log (seq int, method text, target text, status int, range text,
  if_none_match text, if_modified_since text, if_range text, auth text, bytes_sent bigint,
  complete boolean) SERVER fx OPTIONS (path '/_log.csv');
});

my $rows_sql  = 'SELECT * FROM big ORDER BY has_id';
my $state_sql = 'SELECT s::text FROM hvcsv_sync_state s ORDER BY foreign_table';
my $ok_runs_sql =
  q{SELECT count(*) FROM hvcsv_sync_history WHERE status = 'ok'};

# --- the first version, refreshed normally -----------------------------------
is(query('SELECT status, rows_inserted FROM hvcsv_refresh()'),
	'ok|2000', 'the first version is loaded');
my $rows_before  = query($rows_sql);
my $state_before = query($state_sql);
my $ok_runs      = query($ok_runs_sql);
is($rows_before, $v1_rows, 'the target has the first version');
like($state_before, qr/\bok\b/, 'the sync state says ok');

# --- the second version, downloaded slowly; the worker killed midway ---------
my $v2_rows = write_export(2);
my $v2_size = -s "$www/big.csv";
# About 230 kB at 20 kB/s: ten seconds or more.
my $slow_path = '/big.csv?rate=20000';
query("ALTER FOREIGN TABLE big_src OPTIONS (SET path '$slow_path')");

my ($out, $err) = ('', '');
$refresh_run = IPC::Run::start(
	[
		'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('postgres'),
		'-c', 'SELECT status FROM hvcsv_refresh()'
	],
	'<', \undef, '>', \$out, '2>', \$err);

# Wait until the worker is downloading: it shows in hvcsv_refresh_progress
# with bytes fetched.
my ($worker_pid, $bytes);
my $deadline = time + 60;
while (time < $deadline)
{
	my $row = query(q{
SELECT a.pid || '|' || coalesce(p.bytes_fetched, 0)
  FROM pg_stat_activity a LEFT JOIN hvcsv_refresh_progress p USING (pid)
 WHERE a.backend_type = 'hvcsv_fdw refresh'});
	if ($row =~ /^(\d+)\|(\d+)$/ && $2 > 0)
	{
		($worker_pid, $bytes) = ($1, $2);
		last;
	}
	$refresh_run->pump_nb;
	last unless $refresh_run->pumpable;    # the refresh ended already
	usleep(100_000);
}
ok($worker_pid, 'the refresh worker is downloading')
  or BAIL_OUT("no refresh worker seen; psql said: $out$err");
note "worker $worker_pid has fetched $bytes of $v2_size bytes";
cmp_ok($bytes, '<', $v2_size, 'the download is not complete');

my $log_offset = -s $node->logfile;
ok(kill('KILL', $worker_pid), 'worker killed with SIGKILL');

# The caller's session ends with the crash.
my $psql_ok = $refresh_run->finish;
$refresh_run = undef;
ok(!$psql_ok, 'the refresh call fails');
unlike($out, qr/ok/, 'it returned no result');
note "psql: $err";

# The postmaster notices, reinitializes and recovers.
ok( $node->wait_for_log(
		qr/background worker "hvcsv_fdw refresh" \(PID $worker_pid\) was terminated by signal 9/,
		$log_offset),
	'the postmaster saw the worker die');
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the node accepts connections again');

# --- nothing of the killed run is left ---------------------------------------
is(query($rows_sql), $rows_before, 'the target is exactly as before');
is(query($state_sql), $state_before, 'the sync state is exactly as before');
is(query($ok_runs_sql), $ok_runs, 'no successful run was recorded');
is(query('SELECT count(*) FROM hvcsv_refresh_progress'), '0', 'no refresh in progress');
# EXPLAIN never fetches: it shows the spool of the slow URL, which the killed
# download never completed, so there is none.
like(query('EXPLAIN SELECT * FROM big_src'), qr/Spool: not fetched yet/,
	'the partial download was not published as a spool');
# The server saw the download break off (it logs a request once it notices
# the client is gone).
ok( $node->poll_query_until(
		'postgres', qq{
SELECT string_agg(status || ':' || complete, ',' ORDER BY seq) FROM fixture_log
 WHERE target = '$slow_path'},
		'200:false'),
	'the fixture server saw one interrupted download');

# --- the next refresh, at full speed, loads the second version --------------
query("ALTER FOREIGN TABLE big_src OPTIONS (SET path '/big.csv')");
is( query('SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh()'),
	'ok|50|100|1900',
	'the refresh after the crash succeeds');
is(query($rows_sql), $v2_rows, 'the target has the second version');
is( query(q{SELECT status, bytes, last_error IS NULL FROM hvcsv_sync_state}),
	"ok|$v2_size|t",
	'the sync state describes the second version');
like(query('EXPLAIN SELECT * FROM big_src'), qr/Spool Size: $v2_size\b/,
	'the spool holds the whole second version');

$node->stop;
stop_fixture();

done_testing();
