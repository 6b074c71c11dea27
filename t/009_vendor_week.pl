#!/usr/bin/perl
# A week of simulated vendor events, each "day" a cron-style
# SELECT hvcsv_refresh() (issue 15: a sync that never loses a row).
#
# Two feeds:
#  - events_src -> events: an incremental feed (cursor_column created_at,
#    cursor_lag '1 hour', cursor_nulls 'include' by default) that receives
#    appends with ties at the mark, late rows within and beyond the lag,
#    out-of-order rows, rows with a NULL cursor, changes to old rows inside
#    and outside the window, a header column it ignores, a reset
#    (hvcsv_reset) that makes it read everything again, and a VACUUM FULL
#    of its target that makes the next run compare in full;
#  - accounts_src -> accounts: a snapshot feed (delete_missing 'soft' with
#    deleted_column deleted_at, on_duplicate_key 'last', on_new_columns
#    'add', on_missing_columns 'keep') that receives updates, deletes and
#    returns, corrections appended at the end of the file (duplicate keys),
#    a new column, a vanishing (and returning) column, a truncated file the
#    delete guard refuses, and local resets of the target (TRUNCATE,
#    VACUUM FULL) while its export does not change.
#
# The test keeps in Perl a model of what each target must hold, computed
# from the export and the table's options alone, and after every run checks
# row for row that the target equals the model (all of the target's columns,
# sorted text dumps), that every row the model says did not change kept its
# xmin (it was not rewritten), the status and counts each run returns, the
# cursor's mark and a few columns of hvcsv_sync_history.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::Local qw(timegm);

my $api_key = 'tap-week-key';
my $www     = PostgreSQL::Test::Utils::tempdir();
my $port    = start_fixture($www, $api_key, 18840 .. 18847);

my $node = PostgreSQL::Test::Cluster->new('week');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Timestamps are dumped (and the mark stored) in UTC.
$node->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$node->start;

# sql(query): its output, or undef (and a diagnostic) if it failed, so that a
# feature that is missing fails its checks instead of ending the test.
sub sql
{
	my ($query) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $query);
	if ($rc != 0)
	{
		diag("query failed:\n$query\n$err");
		return undef;
	}
	return $out;
}

# The same, but the setup must work.
sub setup_sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

setup_sql(qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
-- the time window of each run, to tell which run wrote a deleted_at
CREATE TABLE week_clock (run int PRIMARY KEY, t0 timestamptz NOT NULL, t1 timestamptz);
});

# ---------------------------------------------------------------------------
# Exports: CSV text from rows (hashes) and a header, served whole.

sub csv_field
{
	my ($v) = @_;
	return '' unless defined $v;    # unquoted empty: NULL
	die "the test cannot write an empty string" if $v eq '';
	return $v =~ /[",\r\n]/ ? '"' . ($v =~ s/"/""/gr) . '"' : $v;
}

sub csv_text
{
	my ($header, $rows) = @_;
	return join('', map { join(',', map { csv_field($_) } @$_) . "\n" }
		  ($header, map { my $r = $_; [ map { $r->{$_} } @$header ] } @$rows));
}

my %served;    # name -> text now served

sub serve
{
	my ($name, $text) = @_;
	return if defined $served{$name} && $served{$name} eq $text;
	write_served($www, $name, $text);
	$served{$name} = $text;
}

# ---------------------------------------------------------------------------
# A model row as a line: its columns, sorted by name, as "name=value", NULL
# as NULL, deleted_at as the run that set it ("run N") or "active".
sub model_line
{
	my ($cols, $row) = @_;
	return join('|',
		map {
			my $v = $row->{$_};
			"$_="
			  . ($_ eq 'deleted_at' ? (defined $v ? "run $v" : 'active') : $v // 'NULL')
		} sort @$cols);
}

sub model_dump
{
	my ($cols, $target) = @_;
	return join("\n", sort map { model_line($cols, $target->{$_}) } keys %$target);
}

# The target's rows in the same form, every column it has (so a column added
# or missing in the target shows); a deleted_at that no run's window holds is
# shown as its value.
sub target_dump
{
	my ($table) = @_;
	my $cols = sql(qq{SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute
	  WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped});
	return undef unless defined $cols;
	my @parts = map {
		$_ eq 'deleted_at'
		  ? q{'deleted_at=' || coalesce((SELECT string_agg('run ' || c.run, ',') FROM week_clock c
		         WHERE r.deleted_at BETWEEN c.t0 AND c.t1), 'at ' || r.deleted_at::text, 'active')}
		  : "'$_=' || coalesce(r.$_\::text, 'NULL')"
	} split(/,/, $cols);
	my $out = sql('SELECT ' . join(q{ || '|' || }, @parts) . " FROM $table r");
	return undef unless defined $out;
	return join("\n", sort split(/\n/, $out));
}

# is() on two dumps; on a difference, also the lines only one side has.
sub is_dump
{
	my ($got, $expected, $name) = @_;
	return 1 if is($got, $expected, $name);
	my %g = map { $_ => 1 } split(/\n/, $got // '');
	my %e = map { $_ => 1 } split(/\n/, $expected);
	diag("only in the target:\n  " . join("\n  ", grep { !$e{$_} } sort keys %g));
	diag("only in the model:\n  " . join("\n  ", grep { !$g{$_} } sort keys %e));
	return 0;
}

# key -> xmin of every row of the target
sub xmins
{
	my ($table) = @_;
	my $out = sql("SELECT id::text || '|' || xmin::text FROM $table") // '';
	return { map { split(/\|/, $_, 2) } split(/\n/, $out) };
}

# The columns of a relation and their types, "name type, ..." by attnum.
sub columns_of
{
	my ($rel) = @_;
	return sql(qq{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	  FROM pg_attribute WHERE attrelid = '$rel'::regclass AND attnum > 0 AND NOT attisdropped});
}

# ---------------------------------------------------------------------------
# Feed 1: events, incremental by created_at with a lag of one hour.

my $T0  = timegm(0, 0, 0, 2, 2, 2026);    # Monday 2026-03-02 00:00 UTC
my $LAG = 3600;

sub at { my ($h, $m, $s) = @_; return $T0 + $h * 3600 + ($m // 0) * 60 + ($s // 0); }
sub ts { return strftime('%Y-%m-%d %H:%M:%S+00', gmtime(shift)); }

my @ev_header = qw(id kind amount created_at);
my @ev_cols   = qw(id kind amount created_at);    # of the foreign table and the target
my %ev_base;                                      # id -> row as the export has it
my @ev_order;                                     # ids in file order

sub ev_add
{
	my ($id, $kind, $amount, $created) = @_;
	$ev_base{$id} = {
		id         => $id,
		kind       => $kind,
		amount     => $amount,
		created_at => $created,    # epoch seconds, or undef
		source     => 'web'
	};
	push @ev_order, $id;
}

sub ev_text
{
	return csv_text(\@ev_header,
		[ map { my %r = %{ $ev_base{$_} }; $r{created_at} = ts($r{created_at}) if defined $r{created_at}; \%r }
			  @ev_order ]);
}

my %ev_target;            # the model: id -> row (created_at as text)
my $ev_mark;              # epoch, or undef: read everything
my $ev_last_text;         # the export the last good run synced, or undef
my $ev_local_reset = 0;   # the target was rewritten since: read everything

# What a run of events_src must do; updates the model.  Returns the expected
# (status, inserted, updated, deleted).
sub ev_model_run
{
	my $text = ev_text();
	return ('unchanged')
	  if !$ev_local_reset && defined $ev_last_text && $text eq $ev_last_text;
	# a rewritten target starts the cursor over
	$ev_mark = undef if $ev_local_reset;
	$ev_local_reset = 0;
	my $threshold = defined $ev_mark ? $ev_mark - $LAG : undef;
	my ($inserted, $updated) = (0, 0);
	my $mark = $ev_mark;
	my %seen;
	foreach my $id (@ev_order)
	{
		my $r = $ev_base{$id};
		die "test bug: events key $id twice" if $seen{$id}++;
		my $c = $r->{created_at};
		# inclusive bound; a NULL cursor is compared like any row
		next if defined $c && defined $threshold && $c < $threshold;
		my $row = { map { $_ => $r->{$_} } @ev_cols };
		$row->{created_at} = ts($c) if defined $c;
		if (!exists $ev_target{$id})
		{
			$inserted++;
		}
		elsif (model_line(\@ev_cols, $ev_target{$id}) ne model_line(\@ev_cols, $row))
		{
			$updated++;
		}
		$ev_target{$id} = $row;
		$mark = $c if defined $c && (!defined $mark || $c > $mark);
	}
	$ev_mark      = $mark;
	$ev_last_text = $text;
	return ('ok', $inserted, $updated, 0);
}

setup_sql(q{
CREATE TABLE events (id int PRIMARY KEY, kind text, amount numeric, created_at timestamptz);
CREATE FOREIGN TABLE events_src (id int, kind text, amount numeric, created_at timestamptz)
  SERVER fx OPTIONS (path '/events.csv', target 'events',
                     cursor_column 'created_at', cursor_lag '1 hour');
});

# An incremental export holds only rows past the mark: delete_missing cannot
# go with it.
{
	my ($rc, $out, $err) = $node->psql('postgres',
		q{ALTER FOREIGN TABLE events_src OPTIONS (ADD delete_missing 'soft', ADD deleted_column 'deleted_at')});
	isnt($rc, 0, 'delete_missing and cursor_column cannot be combined');
	like($err, qr/delete_missing.*cursor_column/, '... and the error says why');
}

# ---------------------------------------------------------------------------
# Feed 2: accounts, a full snapshot with soft deletes.

my @acc_ft_cols     = qw(id name city balance);                # of the foreign table
my @acc_target_cols = (@acc_ft_cols, 'deleted_at');            # of the target
my @acc_header      = @acc_ft_cols;                            # of the export
my %acc_base;        # id -> the row the vendor means (the last of its key)
my @acc_rows;        # the export's rows in file order

sub acc_set
{
	my ($id, %values) = @_;
	$acc_base{$id} = { %{ $acc_base{$id} // { id => $id } }, %values };
}

# The export: the rows of @ids in that order, where a key in %$wrong first
# appears with those values, and its correction (the row of %acc_base) is
# appended at the end of the file.
sub acc_export
{
	my ($ids, $wrong) = @_;
	$wrong //= {};
	@acc_rows = (
		(map { $wrong->{$_} ? { %{ $acc_base{$_} }, %{ $wrong->{$_} } } : $acc_base{$_} } @$ids),
		(map { $acc_base{$_} } sort keys %$wrong));
}

sub acc_text { return csv_text(\@acc_header, \@acc_rows); }

my %acc_target;        # the model: id -> row (deleted_at: the run number)
my $acc_last_text;     # the export the last good run synced, or undef
my $acc_local_reset = 0;    # the target was truncated or rewritten since
my $acc_force       = 0;    # the next run is forced
my $acc_duplicates;         # rows the last run dropped as duplicates

# What a run of accounts_src must do; updates the model.  Returns the
# expected (status, inserted, updated + deleted).
sub acc_model_run
{
	my ($run) = @_;
	my $text = acc_text();
	my $full = $acc_force || $acc_local_reset || !defined $acc_last_text || $text ne $acc_last_text;
	$acc_force = 0;
	return ('unchanged') unless $full;

	my %in_header = map { $_ => 1 } @acc_header;
	my %declared  = map { $_ => 1 } @acc_ft_cols;
	my @new_cols  = grep { !$declared{$_} } @acc_header;

	# on_duplicate_key 'last': the last row of a key, by file order
	my %row_of;
	$row_of{ $_->{id} } = $_ foreach @acc_rows;
	$acc_duplicates = @acc_rows - keys %row_of;

	# the delete guard, on the rows soft delete would mark (the test's
	# scenario makes the share of all rows and of the active rows agree)
	my @to_delete = grep { !exists $row_of{$_} && !defined $acc_target{$_}{deleted_at} } keys %acc_target;
	my $total  = keys %acc_target;
	my $active = grep { !defined $acc_target{$_}{deleted_at} } keys %acc_target;
	my $over_total  = @to_delete > 0.5 * $total;
	my $over_active = @to_delete > 0.5 * $active;
	die "test bug: run $run is ambiguous for the delete guard" if $over_total != $over_active;
	return ('failed') if $over_total;

	# on_new_columns 'add'
	push @acc_ft_cols,     @new_cols;
	push @acc_target_cols, @new_cols;

	my ($inserted, $changed) = (0, 0);
	my %new;
	foreach my $id (keys %row_of)
	{
		my %row = %{ $acc_target{$id} // {} };
		$inserted++ unless exists $acc_target{$id};
		# on_missing_columns 'keep': a column the export lacks is left alone
		$row{$_} = $row_of{$id}{$_} foreach grep { $in_header{$_} } @acc_ft_cols;
		$row{deleted_at} = undef;    # a key that comes back is active again
		$new{$id} = \%row;
	}
	foreach my $id (grep { !exists $row_of{$_} } keys %acc_target)
	{
		my %row = %{ $acc_target{$id} };
		$row{deleted_at} //= $run;    # once: the first time is kept
		$new{$id} = \%row;
	}
	foreach my $id (grep { exists $acc_target{$_} } keys %new)
	{
		$changed++
		  if model_line(\@acc_target_cols, $acc_target{$id})
		  ne model_line(\@acc_target_cols, $new{$id});
	}
	%acc_target      = %new;
	$acc_last_text   = $text;
	$acc_local_reset = 0;
	return ('ok', $inserted, $changed);
}

setup_sql(q{
CREATE TABLE accounts (id text PRIMARY KEY, name text, city text, balance numeric,
                       deleted_at timestamptz);
CREATE FOREIGN TABLE accounts_src (id text, name text, city text, balance numeric)
  SERVER fx OPTIONS (path '/accounts.csv', target 'accounts',
                     delete_missing 'soft', deleted_column 'deleted_at',
                     on_duplicate_key 'last', on_new_columns 'add', on_missing_columns 'keep');
});

# ---------------------------------------------------------------------------
# One cron-style run: $calls (SQL returning foreign_table, status,
# rows_inserted, rows_updated, rows_deleted) refreshes the tables in $tables
# ('events', 'accounts'); checks everything against the model.

sub history_of
{
	my ($ft) = @_;
	my $out = sql(qq{SELECT concat_ws('|', status, coalesce(rows_duplicate::text, 'NULL'),
	                                  coalesce(schema_changes, 'NULL'))
	  FROM hvcsv_sync_history WHERE foreign_table = '$ft'::regclass ORDER BY run_id DESC LIMIT 1});
	return defined $out ? split(/\|/, $out, 3) : ();
}

my $REFRESH_COLS = q{concat_ws('|', foreign_table::text, status, coalesce(rows_inserted, -1),
  coalesce(rows_updated, -1), coalesce(rows_deleted, -1))};

# Checks that no row the model kept as it was was written: each keeps the
# xmin it had before the run (a row without one, before or after, counts
# as rewritten too).
sub check_xmins
{
	my ($name, $table, $cols, $before_model, $after_model, $before_xmin) = @_;
	my $after_xmin = xmins($table);
	my @kept = grep {
		exists $after_model->{$_}
		  && model_line($cols, $before_model->{$_}) eq model_line($cols, $after_model->{$_})
	} sort keys %$before_model;
	my @rewritten = grep {
		     !defined $before_xmin->{$_}
		  || !defined $after_xmin->{$_}
		  || $before_xmin->{$_} ne $after_xmin->{$_}
	} @kept;
	is(join(',', @rewritten), '',
		"$name: $table: none of the " . scalar(@kept) . " rows that did not change was rewritten");
}

sub run_day
{
	my ($run, $day, $calls, @tables) = @_;
	my $name = "run $run ($day)";
	my %do = map { $_ => 1 } @tables;

	my %before_model = (events => { %ev_target }, accounts => { %acc_target });
	my %before_xmin  = (events => xmins('events'), accounts => xmins('accounts'));

	setup_sql("INSERT INTO week_clock VALUES ($run, clock_timestamp())");
	my $out = sql("SET hvcsv_fdw.refresh_failure = 'warning';\n"
		  . join("\n", map { "SELECT $REFRESH_COLS FROM $_;" } @$calls));
	setup_sql("UPDATE week_clock SET t1 = clock_timestamp() WHERE run = $run");
	my %got = map { my @f = split(/\|/); ($f[0] => \@f) } split(/\n/, $out // '');

	my %expect;
	$expect{events}   = [ ev_model_run() ]       if $do{events};
	$expect{accounts} = [ acc_model_run($run) ] if $do{accounts};

	foreach my $t (sort keys %expect)
	{
		my ($status, @counts) = @{ $expect{$t} };
		my $row = $got{"${t}_src"} // [];
		is($row->[1], $status, "$name: ${t}_src: status $status");
		if ($status eq 'ok' && $t eq 'events')
		{
			is(join('/', @$row[ 2 .. 4 ]), join('/', @counts),
				"$name: events_src: inserted/updated/deleted");
		}
		elsif ($status eq 'ok')
		{
			is(join('/', $row->[2] // '', ($row->[3] // 0) + ($row->[4] // 0)), join('/', @counts),
				"$name: accounts_src: inserted/written otherwise (updated + soft deleted)");
		}
	}
	is(scalar(keys %got), scalar(keys %expect), "$name: one result row per table")
	  or diag($out // '');

	# the targets, row for row
	is_dump(target_dump('events'), model_dump(\@ev_cols, \%ev_target), "$name: events equals the model");
	is_dump(target_dump('accounts'), model_dump(\@acc_target_cols, \%acc_target),
		"$name: accounts equals the model");
	check_xmins($name, 'events', \@ev_cols, $before_model{events}, \%ev_target, $before_xmin{events});
	# (columns added by the run are NULL in the rows before it: compare on
	# the columns of the model after the run)
	check_xmins($name, 'accounts', \@acc_target_cols, $before_model{accounts}, \%acc_target,
		$before_xmin{accounts});

	# the mark: the largest cursor value synced
	is( sql(q{SELECT coalesce(cursor_value, 'NULL') FROM hvcsv_sync_state
	          WHERE foreign_table = 'events_src'::regclass}),
		defined $ev_mark ? ts($ev_mark) : 'NULL',
		"$name: the mark of events_src")
	  if $do{events};

	# the history: rows_duplicate of every run that read the snapshot
	if ($do{accounts} && $expect{accounts}[0] eq 'ok')
	{
		my ($status, $duplicates, $changes) = history_of('accounts_src');
		is($duplicates, $acc_duplicates, "$name: accounts_src: rows_duplicate");
	}
	return \%got;
}

# ---------------------------------------------------------------------------
# Monday: first exports.

ev_add(1, 'signup',     '10.00', at(8));
ev_add(2, 'login',      '0',     at(8, 30));
ev_add(3, 'purchase',   '25.50', at(9));
ev_add(4, 'purchase',   '12.00', at(9, 45));
ev_add(5, 'refund',     '-5.00', at(10, 15));
ev_add(6, 'login',      '0',     at(11));
ev_add(7, 'purchase',   '40.00', at(10, 59, 59));    # out of order
ev_add(8, 'signup',     '10.00', at(11));            # a tie for the mark
ev_add(9, 'adjustment', '1.00',  undef);             # no cursor
serve('events.csv', ev_text());

acc_set('A01', name => 'Anna',  city => 'Berlin',        balance => '10.00');
acc_set('A02', name => 'Ben',   city => 'Paris, France', balance => '20.00');
acc_set('A03', name => 'Carla', city => 'Zürich',        balance => '30.00');
acc_set('A04', name => 'Dan',   city => 'Oslo',          balance => '40.00');
acc_set('A05', name => 'Eve',   city => 'Rome',          balance => '50.00');
acc_set('A06', name => 'Finn',  city => 'Madrid',        balance => '60.00');
acc_set('A07', name => 'Gina',  city => 'Lisbon',        balance => '70.00');
acc_set('A08', name => 'Hugo',  city => 'Vienna',        balance => '80.00');
acc_set('A09', name => 'Ines',  city => 'Prague',        balance => '90.00');
acc_set('A10', name => 'Jon',   city => 'Dublin',        balance => '100.00');
acc_set('A11', name => 'Kim',   city => 'Seoul',         balance => '110.00');
acc_set('A12', name => 'Lena',  city => 'Oslo',          balance => '120.00');
# A12 is new and twice in the file: a correction at the end.
acc_export([ map { sprintf('A%02d', $_) } 1 .. 12 ], { A12 => { balance => '0.00' } });
serve('accounts.csv', acc_text());

my @all = ('hvcsv_refresh() ORDER BY 1');
run_day(1, 'Monday', \@all, 'events', 'accounts');
my ($status, $duplicates, $changes) = history_of('events_src');
is($changes, 'NULL', 'run 1: events_src: no schema changes');
($status, $duplicates, $changes) = history_of('accounts_src');
is($changes, 'NULL', 'run 1: accounts_src: no schema changes');

# ---------------------------------------------------------------------------
# Tuesday.  Events: a tie at the mark (11:00), a new maximum (12:00) before
# it in the file, a late row within the lag (10:30 >= 11:00 - 1 hour) and
# one beyond it (09:30), which the run does not read.
ev_add(11, 'purchase', '18.00', at(12));
ev_add(10, 'login',    '0',     at(11));
ev_add(12, 'purchase', '7.25',  at(10, 30));
ev_add(13, 'refund',   '-3.00', at(9, 30));
serve('events.csv', ev_text());

# Accounts: A02 moves, A03, A04 and A10 vanish (soft deleted), A05 comes
# first with a wrong balance and then, corrected, as the target stores it.
acc_set('A02', city => 'Lyon');
acc_export([ map { sprintf('A%02d', $_) } 1, 2, 5 .. 9, 11, 12 ], { A05 => { balance => '999.00' } });
serve('accounts.csv', acc_text());

run_day(2, 'Tuesday', \@all, 'events', 'accounts');
($status, $duplicates, $changes) = history_of('events_src');
is($changes, 'NULL', 'run 2: events_src: no schema changes');
($status, $duplicates, $changes) = history_of('accounts_src');
is($changes, 'NULL', 'run 2: accounts_src: no schema changes');

# ---------------------------------------------------------------------------
# Wednesday.  Events: the mark is 12:00, so the window starts at 11:00: the
# correction of event 10 (11:00) is read, the one of event 7 (10:59:59) is
# not; the NULL-cursor event 9 changes and a new one (14) arrives; two new
# rows tie at 13:00.
$ev_base{10}{amount} = '2.00';
$ev_base{7}{amount}  = '45.00';
$ev_base{9}{amount}  = '1.50';
ev_add(14, 'adjustment', '2.00', undef);
ev_add(15, 'purchase',   '9.99', at(13));
ev_add(16, 'login',      '0',    at(13));
serve('events.csv', ev_text());

# With cursor_nulls 'error', the NULL cursors fail the run and nothing is
# written (a second foreign table on the same export and target).
{
	my $before_dump = target_dump('events');
	my $before_xmin = xmins('events');
	setup_sql(q{
CREATE FOREIGN TABLE events_strict (id int, kind text, amount numeric, created_at timestamptz)
  SERVER fx OPTIONS (path '/events.csv', target 'events',
                     cursor_column 'created_at', cursor_nulls 'error');
});
	is( sql(qq{SET hvcsv_fdw.refresh_failure = 'warning';
SELECT status FROM hvcsv_refresh('events_strict')}),
		'failed',
		"run 3: cursor_nulls 'error': a NULL cursor fails the run");
	is(target_dump('events'), $before_dump, "run 3: cursor_nulls 'error': nothing written");
	my $after_xmin = xmins('events');
	is( join(',', grep { ($after_xmin->{$_} // '') ne $before_xmin->{$_} } sort keys %$before_xmin),
		'', "run 3: cursor_nulls 'error': no row rewritten");
	setup_sql('DROP FOREIGN TABLE events_strict');
}

# Accounts: A03 comes back with a new balance, A10 comes back as it was
# (only its deleted_at changes), A13 is new, A14 is new and corrected at
# the end, and a column "score" appears in the middle of the header
# (integers, none 0 or 1, so not boolean): it is added to the foreign table
# and the target and filled in this run (A10 has none); A04, still gone,
# keeps its deleted_at and is not rewritten.
acc_set('A03', balance => '35.00');
acc_set('A13', name => 'Mia',  city => 'Athens', balance => '130.00');
acc_set('A14', name => 'Nora', city => 'Bergen', balance => '15.00');
my $score = 2;
acc_set($_, score => $score++ * 3) foreach map { sprintf('A%02d', $_) } 1 .. 14;
delete $acc_base{A04}{score};    # A04 is not in this export
acc_set('A10', score => undef);
@acc_header = qw(id name score city balance);
acc_export([ map { sprintf('A%02d', $_) } 1, 2, 3, 5 .. 14 ], { A14 => { balance => '5.00' } });
serve('accounts.csv', acc_text());

run_day(3, 'Wednesday', \@all, 'events', 'accounts');
is(columns_of('accounts_src'),
	'id text, name text, city text, balance numeric, score integer',
	'run 3: on_new_columns add: score is a column of the foreign table, typed as IMPORT FOREIGN SCHEMA would');
like(columns_of('accounts') // '', qr/(^|, )score integer(,|$)/,
	'run 3: on_new_columns add: score is a column of the target');
($status, $duplicates, $changes) = history_of('accounts_src');
like($changes // '', qr/score/, 'run 3: accounts_src: schema_changes names the new column');
($status, $duplicates, $changes) = history_of('events_src');
is($changes, 'NULL', 'run 3: events_src: no schema changes');

# ---------------------------------------------------------------------------
# Thursday.  Events: a tie at the mark (13:00), a new maximum (14:00) and an
# out-of-order row within the lag (12:30), in that file order.
ev_add(18, 'purchase', '30.00', at(14));
ev_add(17, 'login',    '0',     at(13));
ev_add(19, 'purchase', '4.00',  at(12, 30));
serve('events.csv', ev_text());

# Accounts: the city column vanishes (kept in the target, NULL in scans),
# A06's balance changes, A07 vanishes, A15 is new (no city), A08 is
# corrected at the end.
acc_set('A06', balance => '66.00');
acc_set('A15', name => 'Olga', score => 45, balance => '150.00');
acc_set('A08', balance => '85.00');
@acc_header = qw(id name score balance);
acc_export([ map { sprintf('A%02d', $_) } 1, 2, 3, 5, 6, 8 .. 15 ], { A08 => { balance => '80.00' } });
serve('accounts.csv', acc_text());

run_day(4, 'Thursday', \@all, 'events', 'accounts');
is( sql(q{SELECT count(*) || ' rows, ' || count(city) || ' cities' FROM accounts_src}),
	scalar(@acc_rows) . ' rows, 0 cities',
	'run 4: on_missing_columns keep: the vanished column reads as NULL in scans');
($status, $duplicates, $changes) = history_of('accounts_src');
like($changes // '', qr/city/, 'run 4: accounts_src: schema_changes names the missing column');
($status, $duplicates, $changes) = history_of('events_src');
is($changes, 'NULL', 'run 4: events_src: no schema changes');

# ---------------------------------------------------------------------------
# Friday morning: nothing changed anywhere.
run_day(5, 'Friday morning', \@all, 'events', 'accounts');

# Friday evening: a local reset of the snapshot's target, its export the
# same: the run must compare in full and load it all again (without the
# city, which the export still lacks; A04 and A07 are gone for good).
setup_sql('TRUNCATE accounts');
%acc_target      = ();
$acc_local_reset = 1;
run_day(6, 'Friday evening, after TRUNCATE accounts', \@all, 'events', 'accounts');

# ---------------------------------------------------------------------------
# Saturday.  Events: the vendor adds a column (ignored by default) and
# rewrites an old event outside the window (2, 08:30), which is not read;
# one new event at 15:00.
@ev_header = (@ev_header, 'source');
$ev_base{2}{amount} = '0.50';
ev_add(20, 'purchase', '22.00', at(15));
serve('events.csv', ev_text());

# Accounts: the vendor ships a truncated file: 10 of the 13 rows would be
# soft deleted, more than delete_limit (0.5): the run fails, nothing written.
acc_export([qw(A01 A02 A03)]);
serve('accounts.csv', acc_text());

run_day(7, 'Saturday', \@all, 'events', 'accounts');
is(columns_of('events_src'), 'id integer, kind text, amount numeric, created_at timestamp with time zone',
	"run 7: on_new_columns ignore: the foreign table is as declared");

# ---------------------------------------------------------------------------
# Sunday morning.  Events: a row exactly at the window's start (15:00 - 1
# hour), and a change to event 18 (14:00) read with it; a change to event
# 17 (13:00) is outside the window.
ev_add(21, 'refund', '-2.00', at(14));
$ev_base{18}{amount} = '31.00';
$ev_base{17}{amount} = '0.10';
serve('events.csv', ev_text());

# Accounts: the full file is back, with the city again; A04 and A07 come
# back (as new rows: the TRUNCATE removed them), A09 vanishes, A10 and A11
# are corrected at the end.
acc_set('A04', score => 48);
acc_set('A07', score => 51);
acc_set('A11', balance => '111.00');
acc_set('A15', city => 'Riga');
@acc_header = qw(id name score city balance);
acc_export([ map { sprintf('A%02d', $_) } 1 .. 8, 10 .. 15 ],
	{ A10 => { name => 'Jon (draft)' }, A11 => { balance => '110.00' } });
serve('accounts.csv', acc_text());

run_day(8, 'Sunday morning', \@all, 'events', 'accounts');

# ---------------------------------------------------------------------------
# Sunday evening.  The snapshot's target is rewritten by VACUUM FULL (a new
# relfilenode), its export the same: a full compare that writes nothing,
# and A09 keeps the time of its deletion.  The incremental feed is reset:
# the run reads the whole export again, so the late event 13 and the changes
# to events 2, 7 and 17 outside the old windows arrive; every other row is
# equal and stays as it is.
setup_sql('VACUUM FULL accounts');
$acc_local_reset = 1;
ok(defined sql(q{SELECT hvcsv_reset('events_src')}), 'run 9: hvcsv_reset() of events_src');
is( sql(q{SELECT count(*) FROM hvcsv_sync_state
          WHERE foreign_table = 'events_src'::regclass AND cursor_value IS NOT NULL}),
	'0', 'run 9: hvcsv_reset() forgot the mark');
($ev_mark, $ev_last_text) = (undef, undef);
run_day(9, 'Sunday evening, after VACUUM FULL accounts and hvcsv_reset(events_src)',
	\@all, 'events', 'accounts');

# ---------------------------------------------------------------------------
# Monday again: a forced run of the snapshot compares in full and writes
# nothing; the incremental feed's target was rewritten by VACUUM FULL, its
# export the same: it is read whole again (the cursor starts over) and
# nothing is written either.
$acc_force = 1;
setup_sql('VACUUM FULL events');
$ev_local_reset = 1;
run_day(10, 'next Monday, forced, after VACUUM FULL events',
	[ q{hvcsv_refresh('accounts_src', force => true)}, q{hvcsv_refresh('events_src')} ],
	'events', 'accounts');

# Monday evening: nothing changed since the full compares: both unchanged.
run_day(11, 'next Monday evening', \@all, 'events', 'accounts');

$node->stop;
stop_fixture();
done_testing();
