#!/usr/bin/perl
# A table of a thousand exports, listed by a manifest and synced by
# hvcsv_refresh(), each export tracked on its own (hvcsv_sync_exports):
#
#  - the first run downloads every export and loads every row;
#  - a run after nothing changed makes one conditional request per export,
#    each answered 304, downloads nothing and writes nothing;
#  - after ten exports change (a row updated and one added in each), a run
#    downloads those ten only, and writes only their changed rows;
#  - with delete_missing, exports removed from the manifest have their keys
#    deleted, and the exports still listed are read from their spools, not
#    downloaded again;
#  - a plain scan of the table reads every row of every export.
# The fixture server's request log says what was requested; nothing here
# depends on timing.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $api_key  = 'tap-many-key';
my $exports  = 1000;
my $rows     = 20;
my $www      = PostgreSQL::Test::Utils::tempdir();

# Export i holds keys i*1000+1 .. i*1000+rows (and more when it grows).
sub export_name { sprintf('day_%04d.csv', $_[0]) }

sub write_export
{
	my ($i, $changed) = @_;
	my @lines = ('id,name,amount');
	foreach my $j (1 .. $rows)
	{
		my $amount = ($changed && $j == 1) ? 999 : $j;
		push @lines, join(',', $i * 1000 + $j, "name $i-$j", $amount);
	}
	push @lines, join(',', $i * 1000 + 500, "added $i", 5) if $changed;
	write_served($www, export_name($i), join("\n", @lines) . "\n");
}

sub write_manifest
{
	my (@listed) = @_;
	write_served($www, 'manifest.txt', join('', map { '/' . export_name($_) . "\n" } @listed));
}

write_export($_, 0) foreach 1 .. $exports;
write_manifest(1 .. $exports);

my $port = start_fixture($www, $api_key, 18860 .. 18867);
my $node = PostgreSQL::Test::Cluster->new('many');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE TABLE days (id int PRIMARY KEY, name text, amount int);
CREATE FOREIGN TABLE days_ft (id int, name text, amount int) SERVER fx
  OPTIONS (manifest '/manifest.txt', target 'days');
});

# refresh(): the run's status and counts, "status|inserted|updated|unchanged|deleted".
sub refresh
{
	return $node->safe_psql('postgres',
		q{SELECT concat_ws('|', status, rows_inserted, rows_updated, rows_unchanged, rows_deleted)
		    FROM hvcsv_refresh('days_ft')});
}

# requests(): how many requests of the last run answered each status, and
# how many of them were conditional, as "200:N 304:N conditional:N".
sub requests
{
	my %count;
	my $conditional = 0;
	foreach my $r (fixture_log())
	{
		$count{ $r->{status} }++;
		$conditional++ if $r->{if_none_match} ne '';
	}
	return join(' ', (map { "$_:$count{$_}" } sort keys %count), "conditional:$conditional");
}

reset_fixture();
is(refresh(), 'ok|' . ($exports * $rows) . '|0|0|0', 'the first run loads every row');
is(requests(), '200:' . ($exports + 1) . ' conditional:0',
	'... downloading the manifest and every export once');
is($node->safe_psql('postgres',
		q{SELECT count(*), sum(rows), count(DISTINCT synced_at) FROM hvcsv_sync_exports}),
	"$exports|" . ($exports * $rows) . '|1', '... and records each export with its rows');

reset_fixture();
is(refresh(), 'unchanged|0|0|0|0', 'a run after nothing changed writes nothing');
is(requests(), '304:' . ($exports + 1) . ' conditional:' . ($exports + 1),
	'... and asks for each export once, conditionally, downloading none');

my @changed = map { $_ * 97 } 1 .. 10;
write_export($_, 1) foreach @changed;
reset_fixture();
is(refresh(), 'ok|10|10|' . (10 * ($rows - 1)) . '|0',
	'after ten exports changed, a run writes only their changed rows');
is(requests(), '200:10 304:' . ($exports - 10 + 1) . ' conditional:' . ($exports + 1),
	'... downloading those ten exports only');
is($node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE rows = 21), count(DISTINCT synced_at) FROM hvcsv_sync_exports}),
	'10|2', '... and records those ten again, with their new rows');
is($node->safe_psql('postgres', q{SELECT count(*), sum(amount) FROM days}),
	($exports * $rows + 10) . '|' . ($exports * $rows * ($rows + 1) / 2 + 10 * (999 - 1) + 10 * 5),
	'the target holds every row as the exports now have them');

# Five exports leave the manifest; with delete_missing their keys go.
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE days_ft OPTIONS (ADD delete_missing 'true')});
is(refresh(), 'ok|0|0|' . ($exports * $rows + 10) . '|0',
	'delete_missing changes the definition: one full compare');
write_manifest(6 .. $exports);
reset_fixture();
is(refresh(), 'ok|0|0|' . (($exports - 5) * $rows + 10) . '|' . (5 * $rows),
	'exports removed from the manifest have their keys deleted');
is(requests(), '200:1 304:' . ($exports - 5) . ' conditional:' . ($exports - 5 + 1),
	'... reading the others from their spools, none downloaded again');
is($node->safe_psql('postgres', q{SELECT count(*) FROM hvcsv_sync_exports}),
	$exports - 5, '... and their state is gone');

is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM days_ft}),
	(($exports - 5) * $rows + 10) . '|' . (($exports - 5) * $rows + 10),
	'a scan reads every row of every export');

$node->stop;
done_testing();
