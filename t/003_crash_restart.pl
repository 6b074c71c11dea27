#!/usr/bin/perl
# Crashes in the middle of the work: a backend killed with SIGKILL while it
# writes a spool, and the whole server stopped at once (pg_ctl -m immediate)
# while a refresh downloads and while it upserts.  After each, the spool is
# the last complete download (never the partial one), the target and the sync
# state are as the last successful refresh left them, the killed writer's
# temporary file goes at the next download, and the next refresh succeeds.
# Then the postmaster is killed with SIGKILL while a refresh downloads: the
# refresh worker must stop at once.  Last, the API server itself goes away
# and comes back.
# (t/002_kill_refresh.pl kills the refresh worker itself.)
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

my $api_key = 'tap-crash-key';
my $www     = PostgreSQL::Test::Utils::tempdir();

# Background psql sessions still running.
my @running;

END
{
	local $?;
	$_->kill_kill foreach grep { $_->pumpable } @running;
}

# Writes version v of the export: 2000 rows of about 120 bytes; every 10th
# amount differs between versions.
sub write_export
{
	my ($version) = @_;
	open(my $fh, '>', "$www/big.csv.tmp") or die $!;
	print $fh "has_id,amount,pad\n";
	foreach my $i (1 .. 2000)
	{
		printf $fh "K%05d,%d,%s\n", $i, $i % 10 ? $i : $i + 1000 * $version, 'x' x 100;
	}
	close($fh) or die $!;
	rename("$www/big.csv.tmp", "$www/big.csv") or die $!;
	return -s "$www/big.csv";
}

my $port = start_fixture($www, $api_key, 18808 .. 18815);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# PostgreSQL::Test::Cluster turns restart_after_crash off; a killed backend
# must make the postmaster reinitialize here.
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
my $spool = $node->data_dir . '/hvcsv_fdw/pgsql_tmp_spool';

sub query { return $node->safe_psql('postgres', shift); }

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:$port');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE big (has_id text PRIMARY KEY, amount int, pad text);
CREATE FOREIGN TABLE big_src (has_id text, amount int, pad text)
  SERVER fx OPTIONS (path '/big.csv', target 'big');
});

# What a version looks like in the target: its row count and amount total.
sub target_of
{
	my ($version) = @_;
	my $sum = 0;
	$sum += $_ % 10 ? $_ : $_ + 1000 * $version foreach 1 .. 2000;
	return "2000|$sum";
}
my $target_sql = 'SELECT count(*), sum(amount) FROM big';
my $state_sql  = 'SELECT s::text FROM hvcsv_sync_state s';
my $runs_sql   = 'SELECT count(*) FROM hvcsv_sync_history';

# The spool's size as EXPLAIN shows it (EXPLAIN never fetches).
sub spool_size
{
	my $plan = query('EXPLAIN SELECT * FROM big_src');
	return $plan =~ /Spool Size: (\d+)/ ? $1 : 'none';
}

sub temp_files
{
	opendir(my $dh, $spool) or die "$spool: $!";
	my @files = grep { /\.tmp$/ } readdir $dh;
	closedir $dh;
	return @files;
}

# Starts psql running sql in the background.
sub start_psql
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $run = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	push @running, $run;
	return $run;
}

# Waits until query returns true; dies after a minute.
sub wait_until
{
	my ($what, $sql) = @_;
	$node->poll_query_until('postgres', $sql) or die "waited in vain for $what";
}

# Waits for the postmaster to reinitialize after a crash from log_offset on.
sub wait_for_recovery
{
	my ($log_offset) = @_;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	$node->poll_query_until('postgres', 'SELECT true') or die 'the node did not come back';
}

# --- version 1, refreshed normally --------------------------------------------
my $size_v1 = write_export(1);
is(query('SELECT status FROM hvcsv_refresh()'), 'ok', 'version 1 is loaded');
is(query($target_sql), target_of(1), 'the target has version 1');
is(spool_size(), $size_v1, 'the spool has version 1');

# --- a backend killed while it writes the spool ---------------------------------
my $size_v2 = write_export(2);
set_fault('/big.csv', 'rate=20000');    # about 12 s for the whole body
my $scan = start_psql('SELECT count(*) FROM big_src');
my $deadline = time + 60;
usleep(100_000) until (grep { -s "$spool/$_" } temp_files()) || time > $deadline;
my ($partial) = temp_files();
ok($partial, 'a scan is writing the spool');
my $scan_pid = query(q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT count(*) FROM big_src'});
my $log_offset = -s $node->logfile;
ok(kill('KILL', $scan_pid), 'its backend is killed with SIGKILL');
$scan->finish;
wait_for_recovery($log_offset);

is_deeply([ temp_files() ], [$partial], 'the partial download is still on disk after the crash');
is(spool_size(), $size_v1, 'but the spool is version 1, complete');
query(q{ALTER SERVER fx OPTIONS (ADD max_age '1h')});
reset_fixture();
is(query('SELECT count(*), sum(amount) FROM big_src'), target_of(1), 'and that is what a scan reads');
query(q{ALTER SERVER fx OPTIONS (DROP max_age)});

is(query('SELECT status, rows_updated FROM hvcsv_refresh()'), 'ok|200', 'the next refresh succeeds');
is(query($target_sql), target_of(2), 'the target has version 2');
is(spool_size(), $size_v2, 'so does the spool');
is_deeply([ temp_files() ], [], 'and the partial download is gone');

# --- the server stopped at once while a refresh downloads ----------------------
my $target_before = query($target_sql);
my $state_before  = query($state_sql);
my $runs_before   = query($runs_sql);
my $size_v3 = write_export(3);
set_fault('/big.csv', 'rate=20000');
my $refresh = start_psql('SELECT status FROM hvcsv_refresh()');
wait_until('the refresh to download', q{SELECT bytes_fetched > 0 FROM hvcsv_refresh_progress});
ok(scalar(temp_files()) == 1, 'a refresh is writing the spool');
$node->stop('immediate');
$refresh->finish;
$node->start;

is(query($target_sql), $target_before, 'after an immediate shutdown the target is as before');
is(query($state_sql), $state_before, 'so is the sync state');
is(query($runs_sql), $runs_before, 'no run was recorded');
is(spool_size(), $size_v2, 'the spool is version 2, complete');
set_fault('/big.csv');
is(query('SELECT status, rows_updated FROM hvcsv_refresh()'), 'ok|200', 'the next refresh succeeds');
is(query($target_sql), target_of(3), 'the target has version 3');
is_deeply([ temp_files() ], [], 'the partial download is gone');

# --- the server stopped at once while a refresh upserts ------------------------
# Another session holds a row that version 4 changes, so the upsert waits.
$target_before = query($target_sql);
$state_before  = query($state_sql);
$runs_before   = query($runs_sql);
my $size_v4 = write_export(4);
my $locker = start_psql(q{BEGIN; UPDATE big SET pad = pad WHERE has_id = 'K00010'; SELECT pg_sleep(300)});
wait_until('the row lock', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'});
$refresh = start_psql('SELECT status FROM hvcsv_refresh()');
wait_until('the upsert to wait',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'hvcsv_fdw refresh' AND wait_event_type = 'Lock'});
$node->stop('immediate');
$refresh->finish;
$locker->finish;
$node->start;

is(query($target_sql), $target_before, 'after an immediate shutdown in the upsert the target is as before');
is(query($state_sql), $state_before, 'so is the sync state');
is(query($runs_sql), $runs_before, 'no run was recorded');
is(spool_size(), $size_v4, 'the spool is version 4: its download was complete');
is(query('SELECT status, rows_updated FROM hvcsv_refresh()'), 'ok|200', 'the next refresh succeeds');
is(query($target_sql), target_of(4), 'the target has version 4');

# --- the postmaster killed with SIGKILL while a refresh downloads -------------
# Its refresh worker must stop too, not finish the download and commit.
$target_before = query($target_sql);
$state_before  = query($state_sql);
$runs_before   = query($runs_sql);
my $size_v5 = write_export(5);
set_fault('/big.csv', 'rate=20000');
$refresh = start_psql('SELECT status FROM hvcsv_refresh()');
wait_until('the refresh to download', q{SELECT bytes_fetched > 0 FROM hvcsv_refresh_progress});
my $worker = query(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'hvcsv_fdw refresh'});
$node->kill9;
my $worker_deadline = time + 5;
usleep(50_000) while kill(0, $worker) && time < $worker_deadline;
ok(!kill(0, $worker), 'the refresh worker exits when the postmaster is gone');
$refresh->finish;
# The other orphans leave the shared memory too, each in its own time: the
# start is refused while one is still attached.
my $start_deadline = time + 60;
usleep(200_000) until $node->start(fail_ok => 1) || time > $start_deadline;
is(query($target_sql), $target_before, 'after the restart the target is as before');
is(query($state_sql), $state_before, 'so is the sync state');
is(query($runs_sql), $runs_before, 'no run was recorded');
is(spool_size(), $size_v4, 'the spool is version 4, complete');
set_fault('/big.csv');

# --- the API server down, and back ----------------------------------------------
stop_fixture();
query(q{ALTER SERVER fx OPTIONS (ADD retry_delay '0.1', max_retry_delay '0.2')});
is( query(q{SET hvcsv_fdw.refresh_failure = 'warning';
		SELECT status FROM hvcsv_refresh()}),
	'failed', 'with the API server down a refresh fails');
like(query('SELECT last_error FROM hvcsv_sync_state'),
	qr/^could not fetch "http:\/\/127\.0\.0\.1:$port\/big\.csv": Couldn't connect to server$/, 'and says why');
is(query($target_sql), target_of(4), 'the target is as it was');
is(spool_size(), $size_v4, 'so is the spool');
is(start_fixture($www, $api_key, $port), $port, 'the API server is back');
is(query('SELECT status, rows_updated FROM hvcsv_refresh()'), 'ok|200', 'the next refresh succeeds');
is(spool_size(), $size_v5, 'the spool has version 5');

$node->stop;
stop_fixture();

done_testing();
