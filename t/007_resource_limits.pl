#!/usr/bin/perl
# Bounds on what a foreign table's owner can make the server hold.
#  - Memory: a CSV header of millions of fields is read by every reader in
#    bounded memory (the backend's peak resident size, VmHWM), also when the
#    table's columns are its last fields.
#  - Disk: the default spool directory is left out of a base backup and kept
#    across a restart; hvcsv_fdw.spool_max_size is for superusers to set; a
#    download that would pass it first removes what no session uses (the
#    generation before the one it replaces, then other spools, least
#    recently used first, never one a session has open), and if that is not
#    enough fails, keeping the table's previous spool and leaving no file
#    behind; a download still being written counts against another.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key = 'tap-limits-key';
my $www     = PostgreSQL::Test::Utils::tempdir();
my $mb      = 1024 * 1024;

# Writes a file for the fixture server to serve, whole or not at all.
sub write_www { write_served($www, @_); }

# An export of about $bytes bytes whose rows say $tag; returns "rows tag",
# what the scans below return.
sub write_export
{
	my ($name, $bytes, $tag) = @_;
	my $row  = sprintf("%s,%s\n", $tag, 'x' x 1000);
	my $rows = int($bytes / length($row));
	write_www($name, "tag,pad\n" . ($row x $rows));
	return "$rows $tag";
}

my $port = start_fixture($www, $api_key, 18824 .. 18831);

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init(allows_streaming => 1, extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
my $datadir = $node->data_dir;

sub query { return $node->safe_psql('postgres', shift); }

query(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
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

# --- a header of millions of fields, through every reader --------------------
# Three million empty names (6 MB of header): enough that any memory kept
# per header field, as there was before names were matched as they went by,
# passes the bound, which the record's own bytes stay far below.  In
# wide_back.csv the table's columns are the last two fields.
my $fields = 3_000_000;
write_www('wide_front.csv', 'a,b' . (',' x $fields) . "\n1,2" . (',' x $fields) . "\n");
write_www('wide_back.csv', (',' x $fields) . "a,b\n" . (',' x $fields) . "1,2\n");
foreach my $file ('wide_front', 'wide_back')
{
	foreach my $reader ('projected', 'streaming', 'partitioned')
	{
		query("CREATE FOREIGN TABLE ${file}_$reader (a int, b int) SERVER fx
			OPTIONS (path '/$file.csv', reader '$reader')");
		# A fresh backend, whose peak is this scan's; the leader reads alone.
		my $out = query(qq{SET max_parallel_workers_per_gather = 0;
			SELECT a, b FROM ${file}_$reader;
			SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]});
		my ($row, $peak_kb) = split /\n/, $out;
		is($row, '1|2', "$file.csv, $reader reader: the row");
		cmp_ok($peak_kb, '<', 100 * 1024, "$file.csv, $reader reader: peak memory ${peak_kb} kB");
	}
}
# The names the table uses are still named in errors.
query(q{CREATE FOREIGN TABLE wide_missing (a int, c int) SERVER fx OPTIONS (path '/wide_front.csv')});
like(query(q{SELECT try('SELECT count(*) FROM wide_missing')}),
	qr/^HV005: column "c" of foreign table "wide_missing" is not in the CSV header \(The header is: "a", "b", "", "", .*, \.\.\.\.\)$/,
	'a column missing from the wide header: the error describes its start');

# --- the default spool directory ---------------------------------------------
my $spool = "$datadir/hvcsv_fdw/pgsql_tmp_spool";
my ($kept_rows) = split / /, write_export('kept.csv', 100_000, 'k1');
query(q{CREATE FOREIGN TABLE kept (tag text, pad text) SERVER fx OPTIONS (path '/kept.csv')});
is(query('SELECT count(*) FROM kept'), $kept_rows, 'a scan spools the export');
my @spooled = grep { !/^\./ } do { opendir(my $dh, $spool) or die "$spool: $!"; readdir $dh };
ok(scalar(grep { /\.csv$/ } @spooled) >= 1, 'the spool is in hvcsv_fdw/pgsql_tmp_spool of the data directory');

$node->backup('base');
my $backup = $node->backup_dir . '/base';
ok(-f "$backup/PG_VERSION", 'pg_basebackup took a backup');
ok(-d "$backup/hvcsv_fdw", 'the directory above the spools is in it');
ok(!-e "$backup/hvcsv_fdw/pgsql_tmp_spool", 'the spool directory is not');

$node->restart;
is_deeply([ sort grep { !/^\./ } do { opendir(my $dh, $spool) or die $!; readdir $dh } ],
	[ sort @spooled ], 'a restart keeps every spool file');

# --- who may set the limit ---------------------------------------------------
is(query(q{LOAD 'hvcsv_fdw'; SHOW hvcsv_fdw.spool_max_size}), '40GB', 'the limit is 40GB by default');
query(q{CREATE ROLE alice});
like(query(q{LOAD 'hvcsv_fdw'; SET ROLE alice; SELECT try('SET hvcsv_fdw.spool_max_size = -1')}),
	qr/^42501: permission denied to set parameter "hvcsv_fdw.spool_max_size"$/,
	'a role that is not superuser cannot set it');

# --- the limit, each case in a spool directory of its own --------------------
my %key_of;    # the key of each table's spool
my %dir_of;    # the spool directory each table is read with

# The spool files of a table.
sub spool_files
{
	my ($table) = @_;
	opendir(my $dh, $dir_of{$table}) or die $!;
	my @files = sort grep { /^\Q$key_of{$table}\E\./ } readdir $dh;
	return @files;
}

# Scans a table within a limit: "ok: <rows> <tag>", or the error.
sub scan
{
	my ($table, $limit) = @_;
	return query("SET hvcsv_fdw.spool_directory = '$dir_of{$table}';
		SET hvcsv_fdw.spool_max_size = '$limit';
		SELECT try('SELECT count(*) || '' '' || min(tag) FROM $table')");
}

# The first scan of a table, in dir: notes its spool's key.
sub first_scan
{
	my ($table, $dir, $limit) = @_;
	$dir_of{$table} = $dir;
	opendir(my $dh, $dir) or die $!;
	my %before = map { $_ => 1 } readdir $dh;
	my $result = scan($table, $limit);
	opendir($dh, $dir) or die $!;
	my @new = grep { /\.meta$/ && !$before{$_} } readdir $dh;
	die "no new spool for $table ($result)" unless @new == 1;
	$key_of{$table} = $new[0] =~ s/\.meta$//r;
	return $result;
}

# Marks a spool as last used $age seconds ago.
sub used_ago
{
	my ($table, $age) = @_;
	my $t = time - $age;
	utime($t, $t, "$dir_of{$table}/$key_of{$table}.meta") or die $!;
}

foreach my $t ('p', 'q1', 'q2', 'q3', 'q4', 'y')
{
	query("CREATE FOREIGN TABLE $t (tag text, pad text) SERVER fx OPTIONS (path '/$t.csv')");
}
query(q{CREATE FOREIGN TABLE x (tag text, pad text) SERVER fx OPTIONS (path '/x.csv?rate=2000000')});

# p keeps two generations (0.86 MB each); a third fits in 2 MB once the
# generation before the one it replaces is gone.
my $p_dir = PostgreSQL::Test::Utils::tempdir();
my $p1 = write_export('p.csv', 900_000, 'p1');
is(first_scan('p', $p_dir, '2MB'), "ok: $p1", 'p, version 1');
my $p2 = write_export('p.csv', 900_000, 'p2');
is(scan('p', '2MB'), "ok: $p2", 'version 2');
is(scalar(grep { /\.csv$/ } spool_files('p')), 2, 'p holds two generations');
my $p3 = write_export('p.csv', 900_000, 'p3');
is(scan('p', '2MB'), "ok: $p3", 'version 3 fits in 2MB');
is(scalar(grep { /\.csv$/ } spool_files('p')), 2, 'p holds two generations again');

# q1 and q2 take 2.9 MB of 5; q3 needs 2.4: q1, used least recently, goes.
my $q_dir = PostgreSQL::Test::Utils::tempdir();
my $q1 = write_export('q1.csv', 1_500_000, 'q1');
my $q2 = write_export('q2.csv', 1_500_000, 'q2');
my $q3 = write_export('q3.csv', 2_500_000, 'q3');
is(first_scan('q1', $q_dir, '5MB'), "ok: $q1", 'q1 spooled');
is(first_scan('q2', $q_dir, '5MB'), "ok: $q2", 'q2 spooled');
used_ago('q1', 3600);
used_ago('q2', 1800);
is(first_scan('q3', $q_dir, '5MB'), "ok: $q3", 'q3 needs room, and is spooled');
is_deeply([ spool_files('q1') ], [], 'q1, the least recently used, was removed');
ok(scalar(spool_files('q2')) == 3, 'q2 stays');

# A session that has read q2 keeps it, even as the least recently used.
my $reader = $node->background_psql('postgres', on_error_stop => 0);
$reader->query_safe("SET hvcsv_fdw.spool_directory = '$q_dir'; BEGIN; SELECT count(*) FROM q2;");
used_ago('q2', 7200);
used_ago('q3', 3600);
my $q4 = write_export('q4.csv', 2_500_000, 'q4v1');
is(first_scan('q4', $q_dir, '5MB'), "ok: $q4", 'q4 needs room, and is spooled');
ok(scalar(spool_files('q2')) == 3, 'q2, open in a transaction, was not removed');
is_deeply([ spool_files('q3') ], [], 'q3 was removed instead');

# q4's second version does not fit beside its first (kept until replaced)
# and q2: the download fails, and the first version stays.
my @q4_before = spool_files('q4');
my $q4v2 = write_export('q4.csv', 2_300_000, 'q4v2');
like(scan('q4', '5MB'),
	qr/^53400: spool directory "\Q$q_dir\E" would grow past hvcsv_fdw.spool_max_size \(5MB\) \(The download of "http:\/\/127\.0\.0\.1:$port\/q4\.csv" was abandoned after \d+ bytes; the previous download, if any, is kept\. The spools take \d+ bytes, and those left are in use\.\)$/,
	'a download that cannot fit fails with SQLSTATE 53400');
is_deeply([ spool_files('q4') ], \@q4_before,
	'the previous spool of q4 is as it was, and no partial file is left');
query(q{ALTER SERVER fx OPTIONS (ADD max_age '1h')});
is(scan('q4', '5MB'), "ok: $q4", 'the previous spool still serves');
query(q{ALTER SERVER fx OPTIONS (DROP max_age)});
$reader->query_safe('COMMIT');
is(scan('q4', '5MB'), "ok: $q4v2", 'once no session uses q2, the new version fits');
is_deeply([ spool_files('q2') ], [], 'in place of q2');
$reader->quit;

# x (20 MB, at 2 MB/s) and y (12 MB, at once) share 24 MB: y starts when x
# has written 14 MB, which y counts, so y fails; x then finishes.
my $race_dir = PostgreSQL::Test::Utils::tempdir();
my ($x_rows) = split / /, write_export('x.csv', 20 * $mb, 'x');
write_export('y.csv', 12 * $mb, 'y');
$dir_of{y} = $race_dir;
my $slow = $node->background_psql('postgres', on_error_stop => 0);
$slow->query_until(qr/started/,
	"SET hvcsv_fdw.spool_directory = '$race_dir'; SET hvcsv_fdw.spool_max_size = '24MB';\n"
	  . "\\echo started\nSELECT count(*) FROM x;\n");

# The bytes of the file x is being written to.
sub partial_bytes
{
	opendir(my $dh, $race_dir) or die $!;
	my ($tmp) = grep { /\.tmp$/ } readdir $dh;
	return $tmp ? (-s "$race_dir/$tmp" // 0) : 0;
}
my $waited = 0;
while (partial_bytes() < 14 * $mb && $waited++ < 600)
{
	select(undef, undef, undef, 0.05);
}
cmp_ok(partial_bytes(), '>=', 14 * $mb, 'x has written 14 MB');
like(scan('y', '24MB'),
	qr/^53400: spool directory "\Q$race_dir\E" would grow past hvcsv_fdw.spool_max_size \(24MB\)/,
	'y fails: the bytes x has written count');
is($slow->query_safe('SELECT 1'), "$x_rows\n1", 'x finishes');
$slow->quit;
# 0 and -1 mean no limit.
my $p4 = write_export('p.csv', 3_000_000, 'p4');
is(scan('p', '-1'), "ok: $p4", 'with -1, 3 MB spool where 2 MB would not hold it');
my $p5 = write_export('p.csv', 3_000_000, 'p5');
is(scan('p', '0'), "ok: $p5", 'and with 0');

$node->stop;
stop_fixture();

done_testing();
