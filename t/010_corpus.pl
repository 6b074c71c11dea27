#!/usr/bin/perl
# Real-world CSV files (test/corpus, listed with their packages and licences
# in test/corpus/SOURCES), served over HTTP and read through every reader:
#
#  - every reader (and a parallel scan of the partitioned reader in small
#    partitions) returns exactly the rows COPY makes of the same file, as
#    text, compared as multisets;
#  - IMPORT FOREIGN SCHEMA's types hold for every value of the file: the
#    imported table scans to the end, each value equals the file's text cast
#    to the column's type, and no type changes what the file says (an
#    integer prints as the file writes it, so no leading zero is lost; a
#    boolean column holds only true/false spellings; a number keeps no
#    leading zero; a date or time is written the ISO way, which does not
#    depend on DateStyle).
#
# COPY has no options for preambles, comment lines and ragged records, so
# for files read with skip_lines, comment, missing_fields or extra_fields,
# COPY reads a copy of the file that this test makes by those options'
# definitions: the first lines dropped, comment lines dropped, short
# records padded with empty fields and long ones cut, record by record with
# a quote-aware split of its own.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use FixtureServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $corpus  = "$FindBin::RealBin/../test/corpus";
my $api_key = 'tap-corpus-key';
my $port    = start_fixture($corpus, $api_key, 18850 .. 18857);
my $tmp     = PostgreSQL::Test::Utils::tempdir();

my $node = PostgreSQL::Test::Cluster->new('corpus');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;

$node->safe_psql('postgres', qq{
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$port', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key '$api_key');
CREATE SCHEMA model;
CREATE SCHEMA readers;
CREATE SCHEMA imported;
});

# sql(query): its output, or undef (and a diagnostic) if it failed, so that
# one file's failure fails its checks and the others still run.
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

sub quote_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# The corpus list: file, { option => value }.
sub read_sources
{
	my @files;
	open(my $fh, '<', "$corpus/SOURCES") or die "$corpus/SOURCES: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		next if $line =~ /^(#|$)/;
		my ($file, $options) = split /\t/, $line;
		my %opts = (header => 'true');
		if ($options ne '-')
		{
			foreach my $pair (split / /, $options)
			{
				my ($name, $value) = split /=/, $pair, 2;
				$value =~ s/\\t/\t/g;
				$value =~ s/\\s/ /g;
				$opts{$name} = $value;
			}
		}
		push @files, { file => $file, opts => \%opts };
	}
	return @files;
}

# split_records(text, delimiter, comment): the records of a CSV text, each
# a list of its fields as written (quotes kept), by RFC 4180 with '"' as
# quote and escape.  A line that starts with the comment character outside
# quotes is no record.
sub split_records
{
	my ($text, $delim, $comment) = @_;
	my @records;
	my ($pos, $len) = (0, length $text);
	while ($pos < $len)
	{
		if (defined $comment && substr($text, $pos, 1) eq $comment)
		{
			my $nl = index($text, "\n", $pos);
			$pos = $nl < 0 ? $len : $nl + 1;
			next;
		}
		my (@fields, $field, $quoted);
		$field = '';
		while (1)
		{
			my $c = $pos < $len ? substr($text, $pos, 1) : "\n";
			$pos++;
			if ($quoted)
			{
				$field .= $c;
				if ($c eq '"')
				{
					if ($pos < $len && substr($text, $pos, 1) eq '"')
					{
						$field .= '"';
						$pos++;
					}
					else
					{
						$quoted = 0;
					}
				}
				die "a quoted field runs to the end of the file" if $pos > $len;
			}
			elsif ($c eq '"')
			{
				$field .= $c;
				$quoted = 1;
			}
			elsif ($c eq $delim)
			{
				push @fields, $field;
				$field = '';
			}
			elsif ($c eq "\n")
			{
				$field =~ s/\r$//;
				push @fields, $field;
				last;
			}
			else
			{
				$field .= $c;
			}
		}
		push @records, \@fields;
	}
	return @records;
}

# A header field's name: its text without the quotes.
sub field_text
{
	my ($field) = @_;
	return $field unless $field =~ /^"(.*)"$/s;
	(my $text = $1) =~ s/""/"/g;
	return $text;
}

# model_file(path, opts): the file COPY reads for opts, and the header's
# names (or undef without a header), and the number of fields a record has.
sub model_file
{
	my ($path, $opts) = @_;
	my $text  = slurp_file($path);
	my $delim = $opts->{delimiter} // ',';
	# A UTF-8 byte order mark is not part of the first field (COPY keeps it;
	# the readers drop it).
	$text =~ s/^\xEF\xBB\xBF//;
	for (1 .. ($opts->{skip_lines} // 0))
	{
		$text =~ s/^[^\n]*\n?//;
	}
	my @records = split_records($text, $delim, $opts->{comment});
	my $width   = scalar @{ $records[0] };
	my $names =
	  $opts->{header} eq 'true'
	  ? [ map { field_text($_) } @{ $records[0] } ]
	  : undef;
	foreach my $record (@records)
	{
		push @$record, ('') x ($width - @$record)
		  if @$record < $width && ($opts->{missing_fields} // '') eq 'null';
		splice @$record, $width
		  if @$record > $width && ($opts->{extra_fields} // '') eq 'ignore';
	}
	my $out = "$tmp/" . ($path =~ s{.*/}{}r);
	open(my $fh, '>', $out) or die "$out: $!";
	print $fh join($delim, @$_), "\n" foreach @records;
	close($fh) or die $!;
	return ($out, $names, $width);
}

# The table options of a file's foreign tables, besides the reader.
sub table_options
{
	my ($f) = @_;
	my @opts = ("path " . quote_literal("/$f->{file}"));
	foreach my $name (sort keys %{ $f->{opts} })
	{
		push @opts, "$name " . quote_literal($f->{opts}{$name});
	}
	return join(', ', @opts);
}

# Checks of one imported column against the text COPY read (b.cN): the
# typed value equals the text cast to the type, and the type does not
# change what the text says.
sub type_check
{
	my ($col, $n, $type) = @_;
	my $text  = "b.c$n";
	my $typed = "a.$col";
	my $same  = "$typed IS NOT DISTINCT FROM $text\::$type";
	return "$typed IS NOT DISTINCT FROM $text" if $type eq 'text';
	return "$same AND ($text IS NULL OR $typed\::text = $text)"
	  if $type =~ /^(smallint|integer|bigint)$/;
	return "$same AND ($text IS NULL OR lower($text) IN ('true', 'false'))"
	  if $type eq 'boolean';
	return "$same AND ($text IS NULL OR $text !~ '^[-+]?0[0-9]')"
	  if $type =~ /^(numeric|double precision|real)/;
	return "$same AND ($text IS NULL OR $text ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}')"
	  if $type =~ /^(date|timestamp)/;
	return "$same";
}

my %types_seen;
my $k = 0;
foreach my $f (read_sources())
{
	$k++;
	my $file = $f->{file};
	my ($model, $names, $width) = model_file("$corpus/$file", $f->{opts});
	my @cols = map { "c$_" } 1 .. $width;
	my $collist = join(', ', @cols);
	my $delim = $f->{opts}{delimiter} // ',';
	my $encoding =
	  $f->{opts}{encoding} ? ", ENCODING " . quote_literal($f->{opts}{encoding}) : '';

	# COPY's reading of the file, in file order
	my $copied = sql(qq{
CREATE TABLE model.f$k (id int GENERATED ALWAYS AS IDENTITY, }
		  . join(', ', map { "$_ text" } @cols) . qq{);
COPY model.f$k ($collist) FROM } . quote_literal($model) . qq{
  (FORMAT csv, HEADER $f->{opts}{header}, DELIMITER } . quote_literal($delim) . qq{$encoding);
SELECT count(*) FROM model.f$k;});
	ok(defined $copied, "$file: COPY reads it") or next;

	# Columns named as the header names them: by name with header 'true', in
	# order with header 'match' when the header repeats a name.
	my %seen;
	my $repeats = $names && grep { $seen{$_}++ } @$names;
	my $coldefs = join(', ',
		map {
			"c$_ text"
			  . ($names
				? " OPTIONS (column_name " . quote_literal($names->[ $_ - 1 ]) . ")"
				: '')
		} 1 .. $width);
	my %opts = %{ $f->{opts} };
	$opts{header} = 'match' if $repeats;
	my $options = table_options({ file => $file, opts => \%opts });

	foreach my $reader (qw(projected streaming partitioned parallel))
	{
		my $kind = $reader eq 'parallel' ? 'partitioned' : $reader;
		my $extra = $reader eq 'parallel' ? ", block_size '64kB'" : '';
		my $settings =
		  $reader eq 'parallel'
		  ? "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
			 SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;"
		  : '';
		my $t = "readers.f${k}_$reader";
		my $got = sql(qq{
CREATE FOREIGN TABLE $t ($coldefs) SERVER fx
  OPTIONS ($options, reader '$kind'$extra);
$settings
SELECT (SELECT count(*) FROM $t) || ' rows, ' ||
  ((SELECT count(*) FROM (SELECT $collist FROM $t EXCEPT ALL SELECT $collist FROM model.f$k) d)
 + (SELECT count(*) FROM (SELECT $collist FROM model.f$k EXCEPT ALL SELECT $collist FROM $t) d))
  || ' differences';});
		is($got, "$copied rows, 0 differences", "$file: $reader reader equals COPY");
	}

	# IMPORT FOREIGN SCHEMA's types against the text, value by value
	my $imported = sql(qq{
IMPORT FOREIGN SCHEMA i$k FROM SERVER fx INTO imported
  OPTIONS (readers 'projected', $options);
SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), E'\\n' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = 'imported.i$k'::regclass
  AND attnum > 0 AND NOT attisdropped;});
	ok(defined $imported, "$file: IMPORT FOREIGN SCHEMA") or next;
	my @columns = map { [ /^(.*) (\S.*)$/ ] } split /\n/, $imported;
	is(scalar @columns, $width, "$file: IMPORT makes one column per field")
	  or next;
	note "$file: " . join(', ', map { "$_->[0] $_->[1]" } @columns);
	my @checks;
	for my $i (1 .. $width)
	{
		my ($col, $type) = @{ $columns[ $i - 1 ] };
		$types_seen{$type}++;
		push @checks, type_check($col, $i, $type);
	}
	# A serial scan returns the rows in file order, as COPY stored them.
	my $bad = sql(qq{
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM
  (SELECT row_number() OVER () AS id, t.* FROM imported.i$k t) a
  FULL JOIN model.f$k b ON a.id = b.id
WHERE a.id IS NULL OR b.id IS NULL OR NOT (} . join("\n  AND ", @checks) . ')');
	is($bad, '0', "$file: every value fits IMPORT's types and keeps its text")
	  or diag("$file columns:\n$imported");
}

note "types IMPORT chose across the corpus: "
  . join(', ', map { "$_ $types_seen{$_}" } sort keys %types_seen);

$node->stop;
done_testing();
