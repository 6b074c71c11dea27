# FixtureServer.pm: the repository's fixture HTTP server (test/fixture_server.py)
# for TAP tests, in a process of its own, stopped at the end even when the
# test dies.
package FixtureServer;

use strict;
use warnings;

use Exporter 'import';
use FindBin;
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(start_fixture stop_fixture set_fault reset_fixture write_served fixture_log);

my ($fixture_pid, $fixture_port);

# start_fixture(root, api_key, ports... [, { args => [...] }]): serves root on
# the first free port; returns it.  args are more arguments for the server,
# such as --tls-port.
sub start_fixture
{
	my ($root, $api_key, @ports) = @_;
	my $opts = ref $ports[-1] eq 'HASH' ? pop @ports : {};
	my $script = $ENV{HVCSV_FIXTURE_SERVER}
	  // "$FindBin::RealBin/../test/fixture_server.py";
	die "fixture server not found at $script" unless -r $script;
	foreach my $port (@ports)
	{
		# Something listens there already: try the next port.
		next
		  if IO::Socket::INET->new(
			PeerAddr => '127.0.0.1',
			PeerPort => $port,
			Proto    => 'tcp');
		my $log = "$PostgreSQL::Test::Utils::tmp_check/fixture_$port.log";
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(STDOUT, '>', $log) or POSIX::_exit(126);
			open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
			exec('python3', $script, '--port', $port, '--root', $root,
				'--api-key', $api_key,
				'--pidfile', "$PostgreSQL::Test::Utils::tmp_check/fixture_$port.pid",
				@{ $opts->{args} // [] })
			  or POSIX::_exit(127);
		}
		for (1 .. 100)
		{
			if (-s $log && slurp_file($log) =~ /listening on/)
			{
				($fixture_pid, $fixture_port) = ($pid, $port);
				note "fixture server (pid $pid) on 127.0.0.1:$port";
				return $port;
			}
			last if waitpid($pid, WNOHANG) == $pid;    # it exited
			usleep(100_000);
		}
		kill 'KILL', $pid;
		waitpid($pid, 0);
		diag "fixture server did not start on port $port:\n"
		  . (-e $log ? slurp_file($log) : '');
	}
	BAIL_OUT("could not start the fixture server on any of ports @ports");
}

# write_served(root, name, content): writes a file for the server to serve
# under root, whole or not at all (a request never sees half of it).
sub write_served
{
	my ($root, $name, $content) = @_;
	open(my $fh, '>', "$root/$name.tmp") or die $!;
	print $fh $content;
	close($fh) or die $!;
	rename("$root/$name.tmp", "$root/$name") or die $!;
}

# stop_fixture(): stops the server, if it runs.
sub stop_fixture
{
	return unless $fixture_pid;
	kill 'TERM', $fixture_pid;
	for (1 .. 50)
	{
		last if waitpid($fixture_pid, WNOHANG) != 0;
		usleep(100_000);
	}
	if (kill 0, $fixture_pid)
	{
		kill 'KILL', $fixture_pid;
		waitpid($fixture_pid, 0);
	}
	$fixture_pid = undef;
}

# fixture_get(target): the body of a GET of a control endpoint; dies on failure.
sub fixture_get
{
	my ($target) = @_;
	my $response = HTTP::Tiny->new(timeout => 30)
	  ->get("http://127.0.0.1:$fixture_port$target");
	die "GET $target: $response->{status} $response->{content}"
	  unless $response->{success};
	return $response->{content};
}

# set_fault(path, params): every request for path misbehaves as the query
# parameters say ("rate=20000"); no params clears the fault.
sub set_fault
{
	my ($path, $params) = @_;
	fixture_get("/_fault?path=$path" . ($params ? "&$params" : ''));
}

# fixture_log(): the logged requests since the last reset, in order, each a
# hash of the columns of /_log.csv (target, status, if_none_match, ...).
sub fixture_log
{
	my @lines = split /\n/, fixture_get('/_log.csv');
	my @names = split /,/, shift @lines;
	my @rows;
	foreach my $line (@lines)
	{
		# No logged value of these tests has a comma or a quote in it.
		my @values = split /,/, $line, -1;
		my %row;
		@row{@names} = @values;
		push @rows, \%row;
	}
	return @rows;
}

# reset_fixture(): clears the request log, the counters and every fault.
sub reset_fixture
{
	fixture_get('/_reset');
}

END
{
	local $?;
	stop_fixture();
}

1;
