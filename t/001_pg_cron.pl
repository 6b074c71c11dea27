#!/usr/bin/perl
# hvcsv_refresh() scheduled by pg_cron: a run that loads the export, a later
# run that picks up a changed export, and a run that cron records as failed
# (a duplicate key, a missing export) while hvcsv_sync_state keeps the error
# and the other tables are still refreshed.
#
# pg_cron 1.4 schedules by the minute, so this test takes two to three
# minutes: the first run starts at the next full minute, then one a minute.
use strict;
use warnings;

use FindBin;

use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key = 'tap-cron-key';

# ---------------------------------------------------------------------------
my $www = PostgreSQL::Test::Utils::tempdir();

sub write_csv
{
	my ($name, @lines) = @_;
	# Written to a temporary name and renamed, so the server never serves
	# half a file.
	open(my $fh, '>', "$www/$name.tmp") or die "$www/$name.tmp: $!";
	print $fh map { "$_\n" } @lines;
	close($fh) or die "$www/$name.tmp: $!";
	rename("$www/$name.tmp", "$www/$name") or die "rename $name: $!";
}

my $header = 'has_id,name,city,amount';
my @v1 = (
	'A1,Alice,Berlin,10.50',
	'A2,Bob,"Paris, France",20',
	'A3,Carla,Zürich,30');
write_csv('accounts.csv', $header, @v1);

my $port = start_fixture($www, $api_key, 18791 .. 18799);

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# cron connects through the node's Unix socket (the node has no TCP listener).
my $socket_dir = $node->host;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.host = '$socket_dir'
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_cron;
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:$port');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE accounts (has_id text PRIMARY KEY, name text, city text, amount numeric);
CREATE FOREIGN TABLE accounts_src (has_id text, name text, city text, amount numeric)
  SERVER fx OPTIONS (path '/accounts.csv', target 'accounts');
});

my $jobid = $node->safe_psql('postgres',
	q{SELECT cron.schedule('hvcsv', '* * * * *', 'SELECT hvcsv_refresh()')});
like($jobid, qr/^\d+$/, 'job scheduled');

# Waits for the first run of the job after run $after that has ended;
# returns (runid, status, return_message), status 'timeout' if none in time.
sub wait_for_run
{
	my ($after) = @_;
	my $started  = time;
	my $deadline = $started + 150;
	while (time < $deadline)
	{
		my $row = $node->safe_psql(
			'postgres', qq{
SELECT runid || '|' || status || '|' || coalesce(return_message, '')
  FROM cron.job_run_details
 WHERE jobid = $jobid AND runid > $after AND status IN ('succeeded', 'failed')
 ORDER BY runid LIMIT 1});
		if ($row ne '')
		{
			my ($runid, $status, $message) = split(/\|/, $row, 3);
			note "cron run $runid: $status after ${\(time - $started)} s: $message";
			return ($runid, $status, $message);
		}
		sleep 1;
	}
	my $all = $node->safe_psql('postgres',
		'SELECT runid, status, return_message, start_time FROM cron.job_run_details ORDER BY runid');
	diag "no cron run after run $after ended in time; runs so far:\n$all";
	return (undef, 'timeout', '');
}

sub query { return $node->safe_psql('postgres', shift); }

my $rows_sql = 'SELECT has_id, name, city, amount FROM accounts ORDER BY has_id';

sub expected_rows
{
	# The psql -A form of the target's rows for CSV lines (no quotes but
	# the one around "Paris, France").
	return join("\n",
		map { my $l = $_; $l =~ s/"([^"]*)"/$1/; join('|', split(/,(?! )/, $l)) }
		  @_);
}

# --- 1. the first run loads the export --------------------------------------
my ($run1, $status1, $message1) = wait_for_run(0);
is($status1, 'succeeded', 'first cron run succeeded');
is(query($rows_sql), expected_rows(@v1), 'the target has the rows of the export');
is( query(q{SELECT status, rows_inserted, last_error IS NULL FROM hvcsv_sync_state
             WHERE foreign_table = 'accounts_src'::regclass}),
	'ok|3|t',
	'hvcsv_sync_state: ok, 3 rows inserted');

# --- 2. a changed export arrives with the next run --------------------------
my @v2 = (@v1, 'A4,Dan,Oslo,40');
write_csv('accounts.csv', $header, @v2);
my ($run2, $status2) = wait_for_run($run1 // 0);
is($status2, 'succeeded', 'second cron run succeeded');
is(query($rows_sql), expected_rows(@v2), 'the new row arrived');
is( query(q{SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_sync_state
             WHERE foreign_table = 'accounts_src'::regclass}),
	'ok|1|0|3',
	'hvcsv_sync_state: one row inserted, three unchanged');

# --- 3. failures: cron records the run as failed -----------------------------
# accounts.csv now has the new key A5 twice (and a changed A1 that must
# not be written); a second table's export does not exist; a third table is
# fine and is refreshed anyway, in its own transaction.
write_csv('accounts.csv', $header, 'A1,Alice,Berlin,99', @v2[ 1 .. 3 ],
	'A5,Eve,Rome,50', 'A5,Eve again,Rome,51');
write_csv('cities.csv', 'city,country', 'Berlin,DE', 'Oslo,NO');
query(
	q{
CREATE TABLE missing_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE missing_src (has_id text, name text)
  SERVER fx OPTIONS (path '/missing.csv', target 'missing_target');
CREATE TABLE cities (city text PRIMARY KEY, country text);
CREATE FOREIGN TABLE cities_src (city text, country text)
  SERVER fx OPTIONS (path '/cities.csv', target 'cities');
});
my ($run3, $status3, $message3) = wait_for_run($run2 // $run1 // 0);
is($status3, 'failed', 'third cron run is recorded as failed');
like($message3, qr/2 of 3 tables failed/, 'cron keeps the error of the run');
is(query($rows_sql), expected_rows(@v2),
	'the target of the export with a duplicate key is unchanged');
is( query(q{SELECT status FROM hvcsv_sync_state WHERE foreign_table = 'accounts_src'::regclass}),
	'failed', 'hvcsv_sync_state: the duplicate key failed');
like(
	query(q{SELECT last_error FROM hvcsv_sync_state WHERE foreign_table = 'accounts_src'::regclass}),
	qr/A5/,
	'hvcsv_sync_state: the error names the duplicate key');
is( query(q{SELECT status, last_error LIKE '%404%' FROM hvcsv_sync_state
             WHERE foreign_table = 'missing_src'::regclass}),
	'failed|t',
	'hvcsv_sync_state: the missing export failed with its HTTP status');
is( query(q{SELECT status FROM hvcsv_sync_state WHERE foreign_table = 'cities_src'::regclass}),
	'ok', 'hvcsv_sync_state: the table that did not fail was refreshed');
is(query('SELECT city, country FROM cities ORDER BY city'),
	"Berlin|DE\nOslo|NO", 'its rows were committed');
is( query(q{SELECT string_agg(status, ',' ORDER BY run_id) FROM hvcsv_sync_history
             WHERE foreign_table = 'accounts_src'::regclass}),
	'ok,ok,failed', 'hvcsv_sync_history has the three runs');

query(q{SELECT cron.unschedule('hvcsv')});
$node->stop;
stop_fixture();

done_testing();
