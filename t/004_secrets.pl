#!/usr/bin/perl
# The API key and TLS, against a real HTTPS server (the fixture server with a
# throwaway self-signed certificate made here with openssl):
# - certificates are verified: without ca_file the fetch fails with an error
#   that names the host; with ca_file it works; a wrong authority, a missing
#   file and a certificate for another name fail clearly;
# - the Authorization header is not sent when a redirect changes the scheme
#   (http to https, or https to http);
# - after all that, scans, retries, resumed and compressed bodies, EXPLAIN,
#   IMPORT FOREIGN SCHEMA and refreshes (succeeding and failing, in the
#   background worker), the server log at log_min_messages = debug5, with
#   every statement and error statement logged, does not contain the key.
#   The user mappings are created before that, and the log is read from
#   there on: PostgreSQL logs statements as they are written
#   (log_statement, log_min_error_statement, and the CONTEXT of a message
#   raised while a statement runs), so a CREATE USER MAPPING statement that
#   fails, or is logged at debug5, shows its key.  That is PostgreSQL's
#   behaviour, as for postgres_fdw passwords, not hvcsv_fdw's.
# - the same for the other auth styles' secrets: a key in X-API-Key, a key
#   in a query parameter (whose name does not look like a secret), an HTTP
#   Basic password, and an extra header's value; none is in the server log,
#   the sync state or its history, though the fixture server received each.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir();
my $www = "$dir/www";
mkdir $www or die "$www: $!";

# A key no other test uses, kept in a file the server reads.
my $key = 'tap-secret-' . join('', map { sprintf('%02x', int(rand(256))) } 1 .. 12);
open(my $kf, '>', "$dir/api_key") or die $!;
print $kf $key;
close($kf) or die $!;

open(my $csv, '>', "$www/accounts.csv") or die $!;
print $csv "has_id,name,city\nA1,Alice,Berlin\nA2,Bob,\"Paris, France\"\nA3,Carla,Zürich\n";
close($csv) or die $!;

# Two self-signed certificates: the server's (for the address 127.0.0.1
# only) and an unrelated one.
foreach my $name ('server', 'other')
{
	system_or_bail(
		'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
		'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
		'-subj', "/CN=hvcsv $name", '-addext', 'subjectAltName=IP:127.0.0.1',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt");
}

my $tls_port = 18789;
my $port = start_fixture(
	$www, $key,
	18780 .. 18784,
	{
		args => [
			'--tls-port', $tls_port, '--tls-cert', "$dir/server.crt",
			'--tls-key', "$dir/server.key"
		]
	});

my $node = PostgreSQL::Test::Cluster->new('secrets');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;

sub query { return $node->safe_psql('postgres', shift); }

# Runs a statement that must fail; returns its error as psql prints it with
# VERBOSITY verbose ("ERROR:  SQLSTATE: message", DETAIL, HINT ...).
sub error_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return $rc == 0 ? "no error, returned: $out" : $err;
}

query('CREATE EXTENSION hvcsv_fdw');

my $http  = "http://127.0.0.1:$port";
my $https = "https://127.0.0.1:$tls_port";
query(qq{
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$http', retry_delay '0.05', max_retry_delay '0.05');
CREATE SERVER fx_ca FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$http', ca_file '$dir/server.crt', max_retries '1');
CREATE SERVER tls FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url '$https', max_retries '1');
CREATE SERVER tls_ca FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$https', ca_file '$dir/server.crt', max_retries '1');
CREATE SERVER tls_other_ca FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$https', ca_file '$dir/other.crt', max_retries '1');
CREATE SERVER tls_no_file FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$https', ca_file '$dir/missing.crt', max_retries '1');
CREATE SERVER tls_name FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'https://localhost:$tls_port', ca_file '$dir/server.crt', max_retries '1');
DO \$\$
DECLARE
  s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['fx', 'fx_ca', 'tls', 'tls_ca', 'tls_other_ca', 'tls_no_file', 'tls_name'] LOOP
    EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (api_key %L)',
                   s, pg_read_file('$dir/api_key'));
  END LOOP;
END \$\$;
CREATE FOREIGN TABLE fixture_log (seq int, target text, status int, auth text, scheme text)
  SERVER fx OPTIONS (path '/_log.csv');
CREATE FOREIGN TABLE fixture_headers (target text, auth_header text, x_api_key text,
  x_account_id text) SERVER fx OPTIONS (path '/_log.csv');
CREATE FOREIGN TABLE fixture_reset (reset boolean) SERVER fx OPTIONS (path '/_reset');
});
like(
	error_of(qq{DO \$\$ BEGIN
  EXECUTE format('ALTER USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (SET api_key %L)',
                 pg_read_file('$dir/api_key') || E'\\n');
END \$\$}),
	qr/ERROR:  22023: invalid value for option "api_key"\nDETAIL:  The value must not contain control characters\./,
	'a refused key is not shown');

# The other auth styles, each with secrets of its own.
my %secret = (
	header   => "$key-hdr",
	account  => "$key-acct",
	param    => "$key-param",
	password => "$key-pw");
query(qq{
CREATE SERVER fx_hdr FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$http', retry_delay '0.05', max_retry_delay '0.05');
CREATE SERVER fx_param FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$http', retry_delay '0.05', max_retry_delay '0.05');
CREATE SERVER fx_basic FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url '$http', retry_delay '0.05', max_retry_delay '0.05');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_hdr OPTIONS (api_key '$secret{header}',
  api_key_header 'X-API-Key', headers 'X-Account-Id: $secret{account}');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_param
  OPTIONS (api_key '$secret{param}', api_key_param 'p');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_basic
  OPTIONS (user 'tapuser', password '$secret{password}');
});
my $basic = query(
	"SELECT encode(convert_to('tapuser:$secret{password}', 'UTF8'), 'base64')");

# From here on, everything is logged, and the log is checked.
my $log_offset = -s $node->logfile;
$node->append_conf(
	'postgresql.conf', q{
log_min_messages = debug5
log_min_error_statement = debug5
log_statement = 'all'
log_error_verbosity = verbose
});
$node->reload;

# Makes a foreign table of accounts.csv (or path) on a server.
sub accounts_table
{
	my ($name, $server, $path, $reader) = @_;
	$path   //= '/accounts.csv';
	$reader //= 'projected';
	query(qq{CREATE FOREIGN TABLE $name (has_id text, name text, city text)
  SERVER $server OPTIONS (path '$path', reader '$reader')});
}

sub log_rows
{
	return query(
		'SELECT string_agg(scheme || \' \' || status || \' \' || auth, \', \' ORDER BY seq) FROM fixture_log'
	);
}

# --- TLS ------------------------------------------------------------------
accounts_table($_, $_)
  foreach ('tls', 'tls_ca', 'tls_other_ca', 'tls_no_file', 'tls_name');

my $unverified =
  qr/ERROR:  HV00N: could not fetch "https:\/\/127\.0\.0\.1:$tls_port\/accounts\.csv": the TLS certificate of host "127\.0\.0\.1" could not be verified\n/;
my $err = error_of('SELECT count(*) FROM tls');
like($err, $unverified, 'without ca_file, a self-signed certificate is refused, naming the host');
like($err, qr/DETAIL:  libcurl reported: SSL certificate problem: self-signed certificate\.\n/,
	'the detail says why');
like($err, qr/HINT:  If a private certificate authority issued it, set the server option ca_file /,
	'the hint names ca_file');

query('SELECT * FROM fixture_reset');
is(query('SELECT count(*) FROM tls_ca'), '3', 'with ca_file, the HTTPS export is read');
is(log_rows(), 'https 200 ok', 'over https, with the key');

like(error_of('SELECT count(*) FROM tls_other_ca'),
	$unverified, 'a ca_file with another authority is refused');
like(
	error_of('SELECT count(*) FROM tls_no_file'),
	qr/ERROR:  F0000: could not fetch "https:\/\/127\.0\.0\.1:$tls_port\/accounts\.csv": could not load certificate authorities from ca_file "\Q$dir\E\/missing\.crt"\n/,
	'a ca_file that cannot be read is a clear error');
like(
	error_of('SELECT count(*) FROM tls_name'),
	qr/ERROR:  HV00N: could not fetch "https:\/\/localhost:$tls_port\/accounts\.csv": the TLS certificate of host "localhost" could not be verified\n/,
	'a certificate for another name is refused, naming the host');

# --- the key and redirects across schemes --------------------------------
# A redirect to another port reaches a loopback address only if
# hvcsv_fdw.allowed_hosts lists the host, even from a superuser's server.
my $listed = "SET hvcsv_fdw.allowed_hosts = '127.0.0.1';";
my $to_https = "/accounts.csv?redirect_to=https%3A%2F%2F127.0.0.1%3A$tls_port%2Faccounts.csv";
accounts_table('up', 'fx_ca', $to_https);
accounts_table('up_presigned', 'fx_ca', $to_https . '%3Fnoauth%3D1');
accounts_table('down', 'tls_ca',
	"/accounts.csv?redirect_to=http%3A%2F%2F127.0.0.1%3A$port%2Faccounts.csv%3Fnoauth%3D1");
like(
	error_of('SELECT count(*) FROM up'),
	qr/ERROR:  42501: could not fetch "http:\/\/127\.0\.0\.1:$port\/.*" \(redirected to "https:\/\/127\.0\.0\.1:$tls_port\/accounts\.csv"\): host "127\.0\.0\.1" resolves to a non-public address\n/,
	'a redirect to another port of a loopback address is refused unless listed');
query('SELECT * FROM fixture_reset');
like(
	error_of("$listed SELECT count(*) FROM up"),
	qr/ERROR:  28000: could not fetch "http:\/\/127\.0\.0\.1:$port\/.*" \(redirected to "https:\/\/127\.0\.0\.1:$tls_port\/accounts\.csv"\): HTTP status 401\n/,
	'a redirect from http to https gets no key');
is(query("$listed SELECT count(*) FROM up_presigned"), '3', 'and reads a pre-signed URL');
is(query("$listed SELECT count(*) FROM down"), '3', 'a redirect from https to http');
is( log_rows(),
	'http 302 ok, https 401 missing, http 302 ok, https 200 missing, https 302 ok, http 200 missing',
	'the key went only to the scheme, host and port of the first request');

# --- everything else that could log it --------------------------------------
accounts_table('plain',      'fx');
accounts_table('flaky',      'fx', '/accounts.csv?fail=1&status=503');
accounts_table('cut',        'fx', '/accounts.csv?cut=20&cut_times=1');
accounts_table('gz',         'fx', '/accounts.csv?gzip=1');
accounts_table('streamed',   'fx', '/accounts.csv', 'streaming');
accounts_table('wrong_auth', 'fx', '/accounts.csv?scheme=Bearer');
accounts_table('missing',    'fx', '/missing.csv');
is(query('SELECT count(*) FROM plain'),    '3', 'a plain scan');
is(query('SELECT count(*) FROM flaky'),    '3', 'a retried scan');
is(query('SELECT count(*) FROM cut'),      '3', 'a resumed scan');
is(query('SELECT count(*) FROM gz'),       '3', 'a compressed scan');
is(query('SELECT count(*) FROM streamed'), '3', 'a streaming scan');
like(error_of('SELECT count(*) FROM wrong_auth'), qr/ERROR:  28000: .*HTTP status 401\n/, '401');
like(error_of('SELECT count(*) FROM missing'),    qr/ERROR:  HV00R: /, '404');
like(query('EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM plain'), qr/Source: /, 'EXPLAIN ANALYZE VERBOSE');
query(q{IMPORT FOREIGN SCHEMA accounts FROM SERVER fx INTO public OPTIONS (path '/accounts.csv')});
query(q{
CREATE TABLE target_ok (has_id text PRIMARY KEY, name text, city text);
ALTER FOREIGN TABLE plain OPTIONS (ADD target 'target_ok');
CREATE TABLE target_bad (has_id text PRIMARY KEY, name text, city text);
ALTER FOREIGN TABLE wrong_auth OPTIONS (ADD target 'target_bad');
});
is( query(
		q{SET hvcsv_fdw.refresh_failure = 'warning'; SELECT string_agg(foreign_table || ' ' || status, ', ' ORDER BY foreign_table::text) FROM hvcsv_refresh()}
	),
	'plain ok, wrong_auth failed',
	'refreshes that work and fail, in the background worker');

# The other styles: scans that work, are retried, fail; EXPLAIN; refreshes
# that work and fail.
foreach my $style ('hdr', 'param', 'basic')
{
	accounts_table("${style}_plain", "fx_$style", '/accounts.csv?noauth=1');
	accounts_table("${style}_flaky", "fx_$style", '/accounts.csv?noauth=1&fail=1&status=503');
	accounts_table("${style}_same", "fx_$style",
		'/accounts.csv?noauth=1&redirect_to=%2Faccounts.csv%3Fnoauth%3D1');
	accounts_table("${style}_missing", "fx_$style", '/missing.csv?noauth=1');
	accounts_table("${style}_401", "fx_$style", '/accounts.csv');
	is(query("SELECT count(*) FROM ${style}_plain"), '3', "$style: a plain scan");
	is(query("SELECT count(*) FROM ${style}_flaky"), '3', "$style: a retried scan");
	is(query("SELECT count(*) FROM ${style}_same"),  '3', "$style: a redirected scan");
	like(error_of("SELECT count(*) FROM ${style}_missing"), qr/ERROR:  HV00R: /, "$style: 404");
	like(error_of("SELECT count(*) FROM ${style}_401"), qr/ERROR:  28000: /, "$style: 401");
	like(query("EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM ${style}_plain"),
		qr/Source: /, "$style: EXPLAIN ANALYZE VERBOSE");
	query(qq{
CREATE TABLE ${style}_ok (has_id text PRIMARY KEY, name text, city text);
ALTER FOREIGN TABLE ${style}_plain OPTIONS (ADD target '${style}_ok');
CREATE TABLE ${style}_bad (has_id text PRIMARY KEY, name text, city text);
ALTER FOREIGN TABLE ${style}_401 OPTIONS (ADD target '${style}_bad');
});
	is(query("SELECT status FROM hvcsv_refresh('${style}_plain')"), 'ok', "$style: a refresh");
	is( query(
			"SET hvcsv_fdw.refresh_failure = 'warning'; SELECT status FROM hvcsv_refresh('${style}_401')"
		),
		'failed',
		"$style: a refresh that fails");
}
like(query('EXPLAIN SELECT * FROM param_plain'),
	qr/Source: http:\/\/127\.0\.0\.1:$port\/accounts\.csv\?noauth=xxxxx&p=xxxxx$/m,
	'EXPLAIN shows the key parameter masked');

# The fixture server received every secret (compared here: a statement
# that holds one would put it into the log).
my $received = query(
	q{SELECT string_agg(concat_ws('|', target, auth_header, x_api_key, x_account_id), E'\n')
  FROM fixture_headers});
like($received, qr/\|\Q$secret{header}\E\|\Q$secret{account}\E$/m,
	'the fixture server received the key header and the extra header');
like($received, qr/[?&]p=\Q$secret{param}\E/, 'and the key parameter');
like($received, qr/\|Basic \Q$basic\E$/m, 'and HTTP Basic');

# Nothing of them in the sync state, its history or pg_stat_activity.
my $state = query(
	q{SELECT string_agg(t::text, E'\n') FROM (SELECT s::text AS t FROM hvcsv_sync_state s
  UNION ALL SELECT h::text FROM hvcsv_sync_history h
  UNION ALL SELECT a::text FROM pg_stat_activity a) x});
like($state, qr/p=xxxxx/, 'the sync state shows the key parameter masked');
foreach my $kind (sort keys %secret)
{
	unlike($state, qr/\Q$secret{$kind}\E/,
		"the $kind secret is not in the sync state, its history or pg_stat_activity");
}
unlike($state, qr/\Q$basic\E/, 'nor the Basic credentials');

# The fixture server saw the key, so it was in use all along.
cmp_ok(query(q{SELECT count(*) FROM fixture_log WHERE auth = 'ok'}),
	'>', 5, 'requests carried the key');

my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/DEBUG:  .*/,                    'the log has DEBUG messages');
like($log, qr/LOG:  .*retrying "http:/,       'and hvcsv_fdw\'s messages');
like($log, qr/ERROR:  .*HTTP status 401/,     'and its errors');
like($log, qr/STATEMENT:  /,                  'and statements');
like($log, qr/hvcsv_fdw refresh/,             'and the refresh worker');
unlike($log, qr/\Q$key\E/, 'the key is nowhere in the server log');
foreach my $kind (sort keys %secret)
{
	unlike($log, qr/\Q$secret{$kind}\E/, "the $kind secret is nowhere in the server log");
}
unlike($log, qr/\Q$basic\E/, 'nor the Basic credentials');
like($log, qr/p=xxxxx/, 'the log names URLs with the key parameter masked');

$node->stop;
stop_fixture();

done_testing();
