#!/usr/bin/perl
# The spool on disk: files only the server's OS user can read, a directory
# others cannot write to, a directory that is not writable or full (the user
# gets an error with its SQLSTATE, the old spool stays, nothing is left
# behind), and the cleanup rule: two generations per spool, temporary files
# of writers that are gone, and spools unused for 7 days.
use strict;
use warnings;

use Fcntl qw(S_IMODE);
use FindBin;
use IPC::Run;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key = 'tap-spool-key';
my $www     = PostgreSQL::Test::Utils::tempdir();

# A session kept open while the spool directory is swept.
my $sleeper;

END
{
	local $?;
	$sleeper->kill_kill if $sleeper && $sleeper->pumpable;
}

# Writes an export of the given rows, each padded to about 100 bytes.
sub write_export
{
	my ($name, $rows, $tag) = @_;
	open(my $fh, '>', "$www/$name.tmp") or die $!;
	print $fh "id,pad\n";
	printf $fh "%d,%s %s\n", $_, $tag, 'x' x 90 foreach 1 .. $rows;
	close($fh) or die $!;
	rename("$www/$name.tmp", "$www/$name") or die $!;
}

my $port = start_fixture($www, $api_key, 18800 .. 18807);

# Group access (initdb -g): the server creates its own files readable by its
# group, so a spool file that is not is so on purpose.
my $node = PostgreSQL::Test::Cluster->new('spool');
$node->init(extra => [ '--encoding=UTF8', '--locale=C', '--allow-group-access' ]);
$node->start;
my $datadir = $node->data_dir;
my $spool   = "$datadir/hvcsv_fdw/pgsql_tmp_spool";

sub query { return $node->safe_psql('postgres', shift); }

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE FOREIGN TABLE a (id int, pad text) SERVER fx OPTIONS (path '/a.csv');
CREATE FOREIGN TABLE b (id int, pad text) SERVER fx OPTIONS (path '/b.csv');
CREATE FOREIGN TABLE c (id int, pad text) SERVER fx OPTIONS (path '/c.csv');
CREATE FOREIGN TABLE d (id int, pad text) SERVER fx OPTIONS (path '/d.csv', target 'd_target');
CREATE TABLE d_target (id int PRIMARY KEY, pad text);
-- a statement's error as "SQLSTATE: message (detail)", or 'ok: ' and its result
CREATE FUNCTION try(query text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
  result text;
  detail text;
BEGIN
  EXECUTE query INTO result;
  RETURN 'ok: ' || result;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END \$\$;
});

# The files of the spool directory, or of one spool (by key).
sub spool_files
{
	my ($dir, $key) = @_;
	opendir(my $dh, $dir) or die "$dir: $!";
	my @files = sort grep { !/^\./ && (!defined $key || /^\Q$key\E\./) } readdir $dh;
	closedir $dh;
	return @files;
}

# Scans a table; returns the key of the spool the scan created.
sub first_scan
{
	my ($table) = @_;
	my %before = map { $_ => 1 } (-d $spool ? spool_files($spool) : ());
	query("SELECT count(*) FROM $table");
	my @new = grep { /\.meta$/ && !$before{$_} } spool_files($spool);
	die "no new spool for $table: @new" unless @new == 1;
	return $new[0] =~ s/\.meta$//r;
}

write_export('a.csv', 100, 'a1');
write_export('b.csv', 100, 'b1');
write_export('c.csv', 100, 'c1');

# --- only the server's OS user can read a spool ------------------------------
my $key_a = first_scan('a');
is(S_IMODE((stat "$datadir/PG_VERSION")[2]), 0640,
	'the cluster lets its group read its own files');
is(S_IMODE((stat $spool)[2]), 0700, 'the spool directory is mode 0700');
my @modes = map { sprintf('%s %04o', $_ =~ s/^\Q$key_a\E\.\w+\./GEN./r, S_IMODE((stat "$spool/$_")[2])) }
  spool_files($spool, $key_a);
is_deeply(\@modes, [ 'GEN.csv 0600', 'GEN.idx 0600', "$key_a.meta 0600" ],
	'its data, row index and metadata files are mode 0600');
ok(!(grep { slurp_file("$spool/$_") =~ /\Q$api_key\E/ } spool_files($spool)), 'none holds the API key');

# --- a directory others may write to is refused ------------------------------
my $open_dir = PostgreSQL::Test::Utils::tempdir();
foreach my $mode (0777, 0770)
{
	chmod($mode, $open_dir) or die $!;
	like(
		query(qq{SET hvcsv_fdw.spool_directory = '$open_dir';
			SELECT try('SELECT count(*) FROM a')}),
		qr/^55000: spool directory "\Q$open_dir\E" has unsafe ownership or permissions \(It must be owned by the database server's operating system user, and no one else may write to it.\)$/,
		sprintf('a spool directory of mode %04o is refused', $mode));
}
is_deeply([ spool_files($open_dir) ], [], 'and nothing was written there');

# --- a spool directory that is not writable ----------------------------------
my @a_files = spool_files($spool, $key_a);
chmod(0500, $spool) or die $!;
write_export('a.csv', 100, 'a2');
is( query(q{SELECT try('SELECT count(*) FROM a')}),
	qq{42501: could not create a spool file in "hvcsv_fdw/pgsql_tmp_spool": Permission denied (The download of "http://127.0.0.1:$port/a.csv" was abandoned; the previous download, if any, is kept.)},
	'a changed export cannot be stored: an error with SQLSTATE 42501');
is_deeply([ spool_files($spool, $key_a) ], \@a_files, 'the old spool is as it was');
# (with max_age, a spool is used without asking the server)
query(q{ALTER SERVER fx OPTIONS (ADD max_age '1h')});
is(query('SELECT count(*), min(pad) FROM a'), '100|a1 ' . 'x' x 90, 'and still serves the previous export');
query(q{ALTER SERVER fx OPTIONS (DROP max_age)});
write_export('a.csv', 100, 'a1');
my ($out, $err) = ('', '');
$node->psql('postgres', 'SELECT count(*) FROM a', stdout => \$out, stderr => \$err);
is($out, '100', 'an unchanged export is revalidated (304) and read from the spool');
like($err, qr/WARNING:  could not write spool metadata "hvcsv_fdw\/pgsql_tmp_spool\/$key_a\.meta": Permission denied$/m,
	'with a warning that the check could not be noted');
chmod(0700, $spool) or die $!;
is_deeply([ grep { /\.tmp$/ } spool_files($spool) ], [], 'no temporary file is left');

# --- a full spool directory --------------------------------------------------
SKIP:
{
	my $small = $ENV{HVCSV_SMALL_FS} // '';
	skip 'no small file system to fill (test/run_all.sh mounts one when it runs as root and may mount)', 9
	  unless $small ne '' && -d $small && -w $small;
	my $in_small = "SET hvcsv_fdw.spool_directory = '$small'; SET hvcsv_fdw.refresh_failure = 'warning';";
	my $row_v1 = '2000|d1 ' . 'x' x 90;
	my $row_v2 = '2000|d2 ' . 'x' x 90;

	write_export('d.csv', 2000, 'd1');
	is(query("$in_small SELECT status FROM hvcsv_refresh('d')"), 'ok', 'a refresh into a small file system');

	# Fill it up, then free 64 kB: the next download breaks off midway.
	open(my $fh, '>', "$small/filler") or die $!;
	1 while syswrite($fh, "\0" x 65536);
	close($fh);
	truncate("$small/filler", (-s "$small/filler") - 65536) or die $!;

	write_export('d.csv', 2000, 'd2');
	like(
		query("$in_small SELECT try('SELECT count(*) FROM d')"),
		qr/^53100: could not write a spool file in "\Q$small\E": No space left on device \(The download of "http:\/\/127\.0\.0\.1:$port\/d\.csv" was abandoned after \d+ bytes; the previous download, if any, is kept\.\)$/,
		'a download into a full directory: an error with SQLSTATE 53100');
	is(query("$in_small SELECT status FROM hvcsv_refresh('d')"), 'failed', 'a refresh fails');
	like(query("SELECT last_error FROM hvcsv_sync_state"),
		qr/^could not write a spool file in "\Q$small\E": No space left on device$/, 'and records why');
	is(query('SELECT count(*), min(pad) FROM d_target'), $row_v1, 'the target is as it was');
	is_deeply([ grep { /\.tmp$/ } spool_files($small) ], [], 'no temporary file is left');
	query(q{ALTER SERVER fx OPTIONS (ADD max_age '1h')});
	is(query("$in_small SELECT count(*), min(pad) FROM d"), $row_v1, 'the previous spool still serves');
	query(q{ALTER SERVER fx OPTIONS (DROP max_age)});

	# Space again: the next run succeeds.
	unlink("$small/filler") or die $!;
	is(query("$in_small SELECT status FROM hvcsv_refresh('d')"), 'ok', 'with space again the refresh succeeds');
	is(query('SELECT count(*), min(pad) FROM d_target'), $row_v2, 'and loads the new export');
}

# --- the cleanup rule --------------------------------------------------------
# Spools of b and c, a second database's, and files that belong to no spool.
my $key_b = first_scan('b');
my $key_c = first_scan('c');
query('CREATE DATABASE other');
$node->safe_psql('other', qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:$port');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE FOREIGN TABLE b (id int, pad text) SERVER fx OPTIONS (path '/b.csv');
});
my %before = map { $_ => 1 } spool_files($spool);
$node->safe_psql('other', 'SELECT count(*) FROM b');
my ($key_other) = map { s/\.meta$//r } grep { /\.meta$/ && !$before{$_} } spool_files($spool);
ok($key_other, "the other database's spool");

my $orphan_key = 'f' x 32;    # a download that crashed before its metadata
my $recent_key = 'e' x 32;    # one that may still be publishing
my $first_key  = 'd' x 32;    # first downloads, by two backends
foreach my $file ("$orphan_key.1.csv", "$recent_key.1.csv", 'not-a-spool')
{
	open(my $fh, '>', "$spool/$file") or die $!;
	close($fh);
}

# A temporary file of a backend that is gone, and one of a live backend.
my ($sleep_out, $sleep_err) = ('', '');
$sleeper = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', 'SELECT pg_sleep(300)' ],
	'<', \undef, '>', \$sleep_out, '2>', \$sleep_err);
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'}, '1'),
	'a live backend');
my $live_pid = query(q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'});
my $dead_pid = 2147483646;    # above any pid_max: no backend has it
foreach my $file ("$first_key.$dead_pid.tmp", "$first_key.$live_pid.tmp")
{
	open(my $fh, '>', "$spool/$file") or die $!;
	close($fh);
}

# Last used 8 days ago: b, the other database's spool, the orphan, and the
# stray file; c 6 days ago.
my $now = time;
utime($now - 8 * 86400, $now - 8 * 86400, map { "$spool/$_" }
	  (spool_files($spool, $key_b), spool_files($spool, $key_other), "$orphan_key.1.csv", 'not-a-spool'))
  or die $!;
utime($now - 6 * 86400, $now - 6 * 86400, map { "$spool/$_" } spool_files($spool, $key_c)) or die $!;

# Three more downloads of a: each sweeps the directory.
my @a_generations = grep { /\.csv$/ } spool_files($spool, $key_a);
foreach my $version (3 .. 5)
{
	write_export('a.csv', 100, "a$version");
	is(query('SELECT min(pad) FROM a'), "a$version " . 'x' x 90, "version $version of a is downloaded");
}
my @left = grep { /\.csv$/ } spool_files($spool, $key_a);
is(scalar(@left), 2, 'a keeps two generations: the current one and the one it replaced');
ok(!(grep { my $old = $_; grep { $_ eq $old } @left } @a_generations), 'the older ones are gone');
is_deeply([ spool_files($spool, $key_b) ], [], 'b, unused for 8 days, is gone');
is_deeply([ spool_files($spool, $first_key) ], [ "$first_key.$live_pid.tmp" ],
	'of two temporary files, the one whose backend is gone is gone');
ok(scalar(spool_files($spool, $key_c)) == 3, 'c, unused for 6 days, stays');
ok(scalar(spool_files($spool, $key_other)) == 3, "the other database's spool stays: it is that database's to remove");
ok(!-e "$spool/$orphan_key.1.csv", 'a file of a spool without metadata, 8 days old, is gone');
ok(-e "$spool/$recent_key.1.csv", 'one that is new stays');
ok(-e "$spool/not-a-spool", 'a file that is not a spool file is never touched');

# Using a spool (here without asking the server) keeps it.
utime($now - 8 * 86400, $now - 8 * 86400, map { "$spool/$_" } spool_files($spool, $key_c)) or die $!;
query(q{ALTER SERVER fx OPTIONS (ADD max_age '1h')});
query('SELECT count(*) FROM c');
query(q{ALTER SERVER fx OPTIONS (DROP max_age)});
query("SELECT pg_terminate_backend($live_pid)");
$node->poll_query_until('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $live_pid", '0')
  or die 'the backend did not end';
$sleeper->finish;
query('DROP DATABASE other');
write_export('a.csv', 100, 'a6');
query('SELECT count(*) FROM a');
ok(scalar(spool_files($spool, $key_c)) == 3, 'c, used just now, stays');
is_deeply([ spool_files($spool, $first_key) ], [], 'the other goes once its backend has ended');
is_deeply([ spool_files($spool, $key_other) ], [], "the dropped database's spool is gone");

$node->stop;
stop_fixture();

done_testing();
