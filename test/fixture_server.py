#!/usr/bin/env python3
"""Fixture HTTP/1.1 server playing the "vendor CSV API" for the hvcsv_fdw regression tests.

Usage:
    python3 test/fixture_server.py --port 18765 --root DIR [--api-key KEY]
                                   [--pidfile F] [--host 127.0.0.1]
                                   [--tls-port P --tls-cert CERT --tls-key KEY]

Serves the files under DIR (GET and HEAD; 404 for anything missing, for
directories and for paths escaping DIR) as text/csv with an ETag (first 16 hex
digits of the SHA-1 of the content), Last-Modified, Accept-Ranges: bytes,
If-None-Match / If-Modified-Since (304), single byte ranges "bytes=N-" and
"bytes=N-M" (206, 416 when N >= size) and If-Range.  The ETag of a file is
computed once per (path, inode, size, mtime) and then cached, so a conditional
request for a big file is answered at once; a file modified less than 2 s
before the request is hashed again every time (a rewrite within the file
system's timestamp granularity keeps its mtime).  A body is read from the file
while it is sent, never held in memory whole (but see gzip=1).  Binds to a loopback address
only, prints "listening on HOST:PORT" once ready (after "listening (tls) on
HOST:P" with --tls-port) and exits on SIGTERM/SIGINT.

With --tls-port P --tls-cert CERT --tls-key KEY it also serves HTTPS on P (PEM
files; Python's ssl module), with the same files, faults, counters and log.

With --api-key KEY every non-control request needs "Authorization: apiKey KEY"
(401 otherwise).

GET /_gen.csv[?mb=N] serves a generated CSV that needs no file (it hides a file
of that name under DIR), for streaming and memory tests of any size: the header
line "id,name,city,created_at,amount,notes\n" (37 bytes), then
blocks = ceil(N) copies of one fixed 1 MiB (1048576-byte) block, where N is a
number with 0 < N <= 1048576 (default 1; 0.5 gives 1 block; otherwise 400).
Length = 37 + blocks * 1048576.  The block holds exactly 14700 complete rows
(so count(*) = blocks * 14700), ids 1..14700 restarting in every block; names
sometimes quoted with an embedded comma or doubled quotes, UTF-8 cities
("Zürich"), created_at like 2024-01-05T13:59:10Z, amounts with 2 decimals
(some negative), and every 50th row (293 per block) has a quoted notes value
with one embedded newline, so the body has 1 + blocks * 14993 newlines (what
`wc -l` prints).  The last row's notes ("pad...") pad the block to 1 MiB.
Otherwise it is an ordinary file: counted, logged, authenticated, every fault
below applies, ETag "gen-<blocks>-<8 hex digits of the content hash>",
Last-Modified = server start time, 304, Range and If-Range; the body is
computed from header/block offsets, never built in memory, and written in
pieces of up to 1 MiB that never cross a header/block boundary (with chunked=1
each piece is one chunk).  GET /_gen_info.csv (a control endpoint) gives
"rows_per_block,block_bytes,header_bytes\n14700,1048576,37\n".

The query string selects the file only with then= (below), and a page of it
with pages= and page=; otherwise it only injects faults (and gives the size of
/_gen.csv).  A
"scenario" is the full request target (path + query); the server counts the
requests per target, and the *_times / fail limits refer to that count.
Sticky faults (GET /_fault, below) add parameters to every request for a
path; such requests are counted per path and sticky fault instead.
    scheme=NAME      expect "Authorization: NAME KEY" instead of "apiKey KEY"
    fail=N           the first N requests answer `status` (default 503)
    status=S         status used by fail / always
    always=1         every request answers `status` (default 503)
    retry_after=R    send "Retry-After: R" with those injected failures
    redirect=N       302 to the same target with redirect=N-1, until 0
    redirect_to=URL  302 to URL (absolute, any scheme; percent-encode it in
                     the query string)
    noauth=1         answer without checking the Authorization header (it
                     is still logged), like a pre-signed URL
    gzip=1           compress the body: Content-Encoding: gzip (whether or
                     not the request asked for it, as some servers do),
                     Vary: Accept-Encoding, ETag "<hash>-gz"; Content-Length,
                     Range and the body faults count compressed bytes; the
                     whole body is compressed in memory first (also of
                     /_gen.csv, so keep its mb small)
    delay=SEC        wait SEC seconds before sending anything
    cut=K            send full headers but only K body bytes, then close
                     abruptly (K counts bytes of a 206 body when ranged)
    cut_times=N      ... only for the first N requests (default: always)
    cut_from=B       ... only for requests whose Range begins at byte B (one
                     range of a download in ranges; its resumption begins
                     elsewhere, so it is cut once)
    stall=SEC        after the headers and `stall_after` body bytes, hang for
                     SEC seconds, then close without sending the rest
    stall_after=B    body bytes sent before stalling (default 0)
    stall_times=N    ... only for the first N requests (default: always)
    rate=BPS         throttle the body to about BPS bytes per second
    chunked=1        Transfer-Encoding: chunked instead of Content-Length (with
                     cut/stall the terminating zero chunk is never sent)
    noetag=1         no ETag / Last-Modified; conditional headers are ignored
    etag=VALUE       use "VALUE" as the ETag instead of the content hash
    norange=1        ignore Range / If-Range, no Accept-Ranges header
    range_short=K    answer a "bytes=N-M" range K bytes short of M (its
                     Content-Range says so): not the range asked for
    then=PATH        after the first `then_after` requests (default 1), serve
                     the file at PATH instead: an export published between
                     two reads of it
    then_after=N     ... see then
    then_mb=M        of /_gen.csv: after the first `then_after` requests,
                     serve mb=M instead (another ETag when M differs)
    pages=N          serve the file split into N pages by lines (the first
                     line, the header, on every page; the other lines in N
                     runs as even as can be, so rows must not span lines):
                     page=K (default 1) selects one.  Each page but the last
                     has "Link: <...>; rel="next"" naming the same target
                     with page=K+1 (the other parameters kept in order), and
                     each page but the first also a rel="prev" link before
                     it; the ETag is "<16 hex digits of the SHA-1 of the
                     page>", so changing one page changes only its ETag
    link=FORM        how the links are written: path (default: "/dir/f.csv?..."),
                     rel ("f.csv?...", relative to the page), abs
                     ("http://HOST/dir/f.csv?...", HOST from the Host header)
    link_host=H      write the links as absolute URLs to host H instead
    loop_to=J        the last page links to page J (a loop)
    link_extra=P     append the parameter P (e.g. "sig=KEY", percent-encoded
                     in the query string) to every link, after page=
Auth is checked first (unless noauth=1), then redirect_to, then redirect,
then injected failures, then the file.
Body faults (cut, stall, rate, chunked) only apply to 200/206 file bodies;
delay applies to every response.

Control endpoints (no auth, not counted, not logged):
    GET /_log.csv[?target_prefix=P]  CSV (header row first) of the logged
      requests whose target starts with P, ordered by seq:
        seq,method,target,status,range,if_none_match,if_modified_since,
        if_range,auth,bytes_sent,complete,accept_encoding,scheme,
        auth_header,x_api_key,x_api_version,x_account_id,started_ms,ended_ms
      It answers once every request that arrived before it has ended and
      been logged (waiting at most 2 s), so a client can read it right after
      its own request.  seq numbers requests on arrival from 1; range and the
      if_* columns and accept_encoding are the raw request headers (empty
      when absent); scheme is http or https; status is the one sent
      (or about to be sent when the client left during a delay).
      auth_header (Authorization), x_api_key, x_api_version and x_account_id are the
      raw values of those request headers (empty when absent; the tests'
      credentials are not secrets), for the tests of the auth styles;
      started_ms and ended_ms are the wall-clock times (milliseconds since
      the epoch) at which the request's headers had arrived and at which it
      was logged, so that a test can tell which requests overlapped;
      auth is ok/missing/bad (empty without --api-key); bytes_sent counts the
      body bytes accepted by the socket (compressed bytes with gzip=1;
      chunk framing excluded); complete is
      t when the whole intended body (and final chunk) was sent.  A request is
      logged as soon as its response ends, including client disconnects.
    GET /_gen_info.csv  the /_gen.csv block geometry (see above).
    GET /_reset   clears the log, the counters, seq and every sticky fault;
      answers "reset\\ntrue\\n".
    GET /_fault?path=P&PARAM=VALUE...  sets the sticky faults of path P (the
      percent-decoded request path, without query string; the same path
      names the same file): from then on every request for P behaves as if
      the PARAMs above were appended to its own query string, parameters of
      its own query string winning on conflict (a sticky redirect=N appends
      redirect=N-1 to the Location target, which then wins).  Such requests
      are counted per path and sticky fault, not per target, so fail=2 makes
      exactly the next 2 requests for P fail whatever their query strings.
      A new /_fault for P replaces the previous one and restarts its count;
      /_fault?path=P alone clears it.  Unknown parameters or bad numbers
      answer 400 and change nothing; otherwise answers "fault\\ntrue\\n".
      The log still shows each request's own target.
"""
import argparse
import csv
import copy
import dataclasses
import gzip
import hashlib
import io
import ipaddress
import math
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

LOG_COLUMNS = ("seq", "method", "target", "status", "range", "if_none_match",
               "if_modified_since", "if_range", "auth", "bytes_sent", "complete",
               "accept_encoding", "scheme", "auth_header", "x_api_key",
               "x_api_version", "x_account_id", "started_ms", "ended_ms")
CSV_TYPE = "text/csv; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
STEP = 0.05  # granularity of every sleep, so disconnects are noticed quickly
# Fault parameters accepted by /_fault, with the type their value must parse as.
FAULT_PARAMS = {
    "scheme": str, "fail": int, "status": int, "always": str, "retry_after": str,
    "redirect": int, "delay": float, "cut": int, "cut_times": int, "stall": float,
    "stall_after": int, "stall_times": int, "rate": int, "chunked": str,
    "noetag": str, "etag": str, "norange": str, "redirect_to": str, "noauth": str,
    "gzip": str, "then": str, "then_after": int, "cut_from": int, "then_mb": float,
    "range_short": int,
}
ETAG_STABLE_AFTER = 2.0  # seconds since a file's mtime before its ETag is cached

# The generated CSV body of /_gen.csv (see the module docstring).
GEN_PATH = "/_gen.csv"
GEN_HEADER = b"id,name,city,created_at,amount,notes\n"
GEN_BLOCK_BYTES = 1048576
GEN_ROWS_PER_BLOCK = 14700  # asserted by gen_block(); documented in the module docstring
GEN_MAX_MB = 1048576  # 1 TiB; larger mb values answer 400
GEN_CHUNK = 1048576  # largest piece a generated body is written in
_FIRST = ("Anna", "Bjorn", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro",
          "Ines", "Jonas", "Kai", "Lena", "Mateo", "Nora", "Oskar", "Priya")
_LAST = ("Meier", "O'Brien", "Schmidt", "Nakamura", "Silva", "Kowalski", "Dubois",
         "Larsen", "Okafor", "Rossi", "Jensen", "García", "Novak", "Haddad")
_CITY = ("Zürich", "Berlin", "São Paulo", "Kraków", "Montréal", "Oslo", "Tokyo",
         "Reykjavík", "Lyon", "Malmö", "Austin", "København", "Nairobi", "Genève")


def gen_block():
    """The 1 MiB block of complete CSV rows that /_gen.csv repeats (deterministic)."""
    rows, size, i = [], 0, 0
    while True:
        i += 1
        first, last = _FIRST[i * 7 % len(_FIRST)], _LAST[i * 11 % len(_LAST)]
        if i % 11 == 0:
            name = f'"{first} ""{_FIRST[i % len(_FIRST)][:3]}"" {last}"'  # doubled quotes
        elif i % 5 == 0:
            name = f'"{last}, {first}"'  # embedded comma
        else:
            name = f"{first} {last}"
        ts = 1704067200 + i * 7919 % 31536000  # within 2024, UTC
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        cents = i * 104729 % 10000000
        amount = f"{'-' if i % 23 == 0 else ''}{cents // 100}.{cents % 100:02d}"
        if i % 50 == 0:
            notes = f'"multi-line note {i}\nsecond line, with comma"'  # embedded newline
        elif i % 3 == 0:
            notes = ""
        else:
            notes = f"note {i} ref-{i * 31 % 9973:04d}"
        row = f"{i},{name},{_CITY[i * 3 % len(_CITY)]},{created},{amount},".encode()
        if size + len(row) + len(notes.encode()) + 1 + 256 > GEN_BLOCK_BYTES:
            # Last row: its notes pad the block to exactly GEN_BLOCK_BYTES.
            row += b"pad" + b"." * (GEN_BLOCK_BYTES - size - len(row) - 4) + b"\n"
            rows.append(row)
            break
        row += notes.encode() + b"\n"
        rows.append(row)
        size += len(row)
    block = b"".join(rows)
    assert len(block) == GEN_BLOCK_BYTES and i == GEN_ROWS_PER_BLOCK, (len(block), i)
    return block


GEN_BLOCK = gen_block()
GEN_BLOCK_TAG = hashlib.sha1(GEN_HEADER + GEN_BLOCK).hexdigest()[:8]


class Body:
    """Bytes [start, stop) of a content that is read piece by piece, never whole."""

    def __init__(self, total):
        self.start, self.stop = 0, total

    def __len__(self):
        return self.stop - self.start

    def __getitem__(self, key):
        start, stop, step = key.indices(len(self))
        assert step == 1
        part = copy.copy(self)
        part.start, part.stop = self.start + start, self.start + max(start, stop)
        return part

    def __bytes__(self):
        parts, pos = [], 0
        while pos < len(self):
            part = bytes(self.piece(pos, GEN_CHUNK))
            if not part:
                break
            parts.append(part)
            pos += len(part)
        return b"".join(parts)


class FileBody(Body):
    """Bytes of an open file, read with pread as they are sent."""

    def __init__(self, fd, size):
        super().__init__(size)
        self.fd = fd

    def piece(self, pos, n):
        """Up to n bytes from offset pos; fewer (or none) if the file shrank meanwhile."""
        at = self.start + pos
        return os.pread(self.fd, min(n, self.stop - at), at)


class GenBody(Body):
    """Bytes of GEN_HEADER + blocks * GEN_BLOCK."""

    def __init__(self, blocks):
        super().__init__(len(GEN_HEADER) + blocks * GEN_BLOCK_BYTES)

    def piece(self, pos, n):
        """A memoryview of at most n bytes from offset pos, within one header/block."""
        at = self.start + pos
        n = min(n, self.stop - at)
        if at < len(GEN_HEADER):
            return memoryview(GEN_HEADER)[at:min(at + n, len(GEN_HEADER))]
        off = (at - len(GEN_HEADER)) % GEN_BLOCK_BYTES
        return memoryview(GEN_BLOCK)[off:off + min(n, GEN_BLOCK_BYTES - off)]


@dataclasses.dataclass
class Faults:
    delay: float = 0.0
    cut: int | None = None
    stall: float | None = None
    stall_after: int = 0
    rate: int | None = None
    chunked: bool = False


class State:
    """Request log, per-target counters and sticky faults shared by all handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ended = threading.Condition(self.lock)
        self.generation = 0
        self.clear()

    def clear(self):
        with self.lock:
            # Requests still running across a reset must not pollute the new log.
            self.generation += 1
            self.seq = 0
            self.running = set()  # seqs of requests not yet logged
            self.counts = {}  # target, or ("sticky", path), -> requests so far
            self.sticky = {}  # decoded path -> sticky fault parameters
            self.log = []

    def set_sticky(self, path, params):
        """Replace (or, when params is empty, clear) the sticky faults of path."""
        with self.lock:
            self.counts.pop(("sticky", path), None)
            if params:
                self.sticky[path] = dict(params)
            else:
                self.sticky.pop(path, None)

    def arrive(self, target, path):
        """(generation, seq, count, sticky params) of a new request for target."""
        with self.lock:
            self.seq += 1
            self.running.add(self.seq)
            sticky = self.sticky.get(path, {})
            key = ("sticky", path) if sticky else target
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.generation, self.seq, self.counts[key], sticky

    def record(self, generation, row):
        with self.lock:
            if generation == self.generation:
                self.log.append(row)
                self.running.discard(row[0])
                self.ended.notify_all()

    def rows(self, prefix):
        # A client may read the log the moment it has a response, before the
        # server has logged it: wait (briefly) for requests still running.
        with self.lock:
            self.ended.wait_for(lambda: not self.running, timeout=2.0)
            return sorted((r for r in self.log if r[2].startswith(prefix)), key=lambda r: r[0])


def num(query, name, default=None, kind=int):
    value = query.get(name, "")
    if value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"bad value for {name}: {value!r}") from None


def http_date_ts(value):
    """Seconds since the epoch for an HTTP-date, or None if unparsable."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class FixtureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300  # lets idle keep-alive threads finish eventually

    def version_string(self):
        return "hvcsv-fixture/1.0"

    def log_message(self, format, *args):
        pass  # tests read /_log.csv instead

    def do_GET(self):
        url = urlsplit(self.path)
        try:
            if url.path == "/_log.csv":
                prefix = dict(parse_qsl(url.query)).get("target_prefix", "")
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(LOG_COLUMNS)
                writer.writerows(self.server.state.rows(prefix))
                self.transmit(200, [("Content-Type", CSV_TYPE)], out.getvalue().encode(), Faults())
            elif url.path == "/_reset":
                self.server.state.clear()
                self.transmit(200, [("Content-Type", CSV_TYPE)], b"reset\ntrue\n", Faults())
            elif url.path == "/_fault":
                self.set_fault(url)
            elif url.path == "/_gen_info.csv":
                info = (f"rows_per_block,block_bytes,header_bytes\n"
                        f"{GEN_ROWS_PER_BLOCK},{GEN_BLOCK_BYTES},{len(GEN_HEADER)}\n")
                self.transmit(200, [("Content-Type", CSV_TYPE)], info.encode(), Faults())
            else:
                self.scenario(url)
        except OSError:  # client went away; nothing more to say on this connection
            self.close_connection = True

    do_HEAD = do_GET

    def set_fault(self, url):
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        path = params.pop("path", "")
        try:
            if not path.startswith("/"):
                raise ValueError("path must be given and start with /")
            for name in params:
                kind = FAULT_PARAMS.get(name)
                if kind is None:
                    raise ValueError(f"unknown fault parameter {name!r}")
                num(params, name, kind=kind)
        except ValueError as e:
            self.transmit(*self.text(400, f"{e}\n")[:3], Faults())
            return
        self.server.state.set_sticky(path, params)
        self.transmit(200, [("Content-Type", CSV_TYPE)], b"fault\ntrue\n", Faults())

    def scenario(self, url):
        started_ms = int(time.time() * 1000)
        generation, seq, count, sticky = self.server.state.arrive(self.path, unquote(url.path))
        self.sent, self.complete, self.auth = 0, False, ""
        self.open_fd = None
        status = 0
        try:
            query = {**sticky, **dict(parse_qsl(url.query, keep_blank_values=True))}
            try:
                status, headers, body, file_body = self.plan(url, query, count)
                faults = self.faults(query, count, self.byte_range())
            except ValueError as e:
                status, headers, body, file_body = self.text(400, f"{e}\n")
                faults = Faults()
            if not file_body:
                faults = Faults(delay=faults.delay)
            self.transmit(status, headers, body, faults)
        finally:
            if self.open_fd is not None:
                os.close(self.open_fd)
            h = self.headers
            self.server.state.record(generation, (
                seq, self.command, self.path, status, h.get("Range", ""),
                h.get("If-None-Match", ""), h.get("If-Modified-Since", ""),
                h.get("If-Range", ""), self.auth, self.sent, "t" if self.complete else "f",
                h.get("Accept-Encoding", ""), "https" if self.server.tls else "http",
                h.get("Authorization", ""), h.get("X-API-Key", ""), h.get("X-API-Version", ""),
                h.get("X-Account-Id", ""), started_ms, int(time.time() * 1000)))

    @staticmethod
    def faults(query, count, span):
        def active(times_param):
            times = num(query, times_param)
            return times is None or count <= times

        cut_from = num(query, "cut_from")
        at_cut = cut_from is None or (span is not None and span[0] == cut_from)
        return Faults(
            delay=num(query, "delay", 0.0, float),
            cut=num(query, "cut") if active("cut_times") and at_cut else None,
            stall=num(query, "stall", None, float) if active("stall_times") else None,
            stall_after=num(query, "stall_after", 0),
            rate=num(query, "rate"),
            chunked=query.get("chunked") == "1")

    @staticmethod
    def text(status, message, extra=()):
        return status, [("Content-Type", TEXT_TYPE), *extra], message.encode(), False

    def plan(self, url, query, count):
        """Decide the response: (status, headers, body, is_file_body)."""
        scheme = query.get("scheme", "apiKey")
        self.auth = self.check_auth(scheme)
        if self.auth in ("missing", "bad") and query.get("noauth") != "1":
            return self.text(401, f"unauthorized ({self.auth} credentials)\n",
                             [("WWW-Authenticate", scheme)])

        if query.get("redirect_to"):
            return self.text(302, "redirect\n", [("Location", query["redirect_to"])])

        redirect = num(query, "redirect", 0)
        if redirect > 0:
            # Rewrite only the redirect item so the other parameters stay byte-identical;
            # a sticky redirect has none, so append one (which then wins over the sticky one).
            items = [f"redirect={redirect - 1}" if item.startswith("redirect=") else item
                     for item in (url.query.split("&") if url.query else [])]
            if not any(item.startswith("redirect=") for item in items):
                items.append(f"redirect={redirect - 1}")
            return self.text(302, "redirect\n", [("Location", url.path + "?" + "&".join(items))])

        if count <= num(query, "fail", 0) or query.get("always") == "1":
            injected = num(query, "status", 503)
            extra = [("Retry-After", query["retry_after"])] if "retry_after" in query else []
            return self.text(injected, f"injected failure {injected}\n", extra)

        if unquote(url.path) == GEN_PATH:
            mb = num(query, "mb", 1.0, float)
            if query.get("then_mb") and count > num(query, "then_after", 1):
                mb = num(query, "then_mb", kind=float)
            if not (math.isfinite(mb) and 0 < mb <= GEN_MAX_MB):
                raise ValueError(f"bad value for mb: {query['mb']!r}")
            blocks = math.ceil(mb)
            content, mtime = GenBody(blocks), self.server.started
            default_etag = f"gen-{blocks}-{GEN_BLOCK_TAG}"
        else:
            path = url.path
            if query.get("then") and count > num(query, "then_after", 1):
                path = query["then"]
            loaded = self.load(path)
            if loaded is None:
                return self.text(404, "not found\n")
            content, mtime, default_etag = loaded
        link = None
        if "pages" in query:
            content, default_etag, link = self.page(url, query, bytes(content))
        noetag = query.get("noetag") == "1"
        norange = query.get("norange") == "1"
        compress = query.get("gzip") == "1"
        if compress:
            content = gzip.compress(bytes(content), mtime=0)
            default_etag += "-gz"
        etag = None
        validators = []
        if not noetag:
            etag = '"%s"' % query.get("etag", default_etag)
            validators = [("ETag", etag), ("Last-Modified", self.date_time_string(mtime))]
            if self.not_modified(etag, mtime):
                return 304, validators, b"", False
        headers = [("Content-Type", CSV_TYPE), *validators]
        if link:
            headers.append(("Link", link))
        if compress:
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        if norange:
            return 200, headers, content, True
        headers.append(("Accept-Ranges", "bytes"))
        span = self.byte_range()
        if span is None or not (noetag or self.if_range_matches(etag, mtime)):
            return 200, headers, content, True
        size = len(content)
        start, end = span
        if start >= size:
            return self.text(416, "range not satisfiable\n", [("Content-Range", f"bytes */{size}")])
        end = size - 1 if end is None else min(end - num(query, "range_short", 0), size - 1)
        headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        return 206, headers, content[start:end + 1], True

    def page(self, url, query, data):
        """(body, etag, Link header value or None) of page=K of pages=N (see the docstring)."""
        pages, number = num(query, "pages"), num(query, "page", 1)
        if pages < 1 or not 1 <= number <= pages:
            raise ValueError("bad value for pages or page")
        header, _, rest = data.partition(b"\n")
        lines = rest.splitlines(keepends=True)
        start, stop = len(lines) * (number - 1) // pages, len(lines) * number // pages
        body = header + b"\n" + b"".join(lines[start:stop])
        items = [item for item in url.query.split("&")
                 if not item.startswith(("page=", "link_extra="))]

        def target(k):
            path = url.path if query.get("link", "path") != "rel" else url.path.rsplit("/", 1)[1]
            if query.get("link_host"):
                path = "http://" + query["link_host"] + url.path
            elif query.get("link") == "abs":
                path = "http://" + self.headers.get("Host", "") + url.path
            extra = [query["link_extra"]] if query.get("link_extra") else []
            return "<" + path + "?" + "&".join(items + [f"page={k}"] + extra) + ">"

        links = [target(number - 1) + '; rel="prev"'] if number > 1 else []
        if number < pages:
            links.append(target(number + 1) + '; rel="next"')
        elif query.get("loop_to"):
            links.append(target(num(query, "loop_to")) + '; rel="next"')
        return body, hashlib.sha1(body).hexdigest()[:16], ", ".join(links) or None

    def check_auth(self, scheme):
        key = self.server.api_key
        if key is None:
            return ""
        given = (self.headers.get("Authorization") or "").strip()
        if not given:
            return "missing"
        return "ok" if given == f"{scheme} {key}" else "bad"

    def load(self, path):
        """(content, mtime, etag without quotes) of the file under the root, or None.

        The file stays open (self.open_fd) until the response has been sent."""
        root = self.server.root
        full = os.path.realpath(os.path.join(root, unquote(path).lstrip("/")))
        if os.path.commonpath([root, full]) != root or not os.path.isfile(full):
            return None
        try:
            self.open_fd = os.open(full, os.O_RDONLY)
            st = os.fstat(self.open_fd)
        except OSError:
            return None
        content = FileBody(self.open_fd, st.st_size)
        return content, int(st.st_mtime), self.server.file_etag(full, st, content)

    def not_modified(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        ims_ts = http_date_ts(ims) if ims else None
        return ims_ts is not None and ims_ts >= mtime

    def if_range_matches(self, etag, mtime):
        value = (self.headers.get("If-Range") or "").strip()
        if not value:
            return True
        if value.startswith(('"', "W/")):
            return value == etag  # strong comparison: weak tags never match
        return http_date_ts(value) == mtime

    def byte_range(self):
        """(start, end or None) of a single "bytes=N-[M]" range; None means serve it all."""
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", (self.headers.get("Range") or "").strip())
        if not m:
            return None
        start, end = int(m[1]), int(m[2]) if m[2] else None
        return None if end is not None and end < start else (start, end)

    def transmit(self, status, headers, body, faults):
        """Send a response, tracking in self.sent/self.complete what reached the socket."""
        self.sent, self.complete = 0, False
        if faults.delay and not self.pause(faults.delay):
            self.abort()
            return
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if faults.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD" or status == 304:
            self.complete = True
            return

        sock = self.connection
        limit = len(body) if faults.cut is None else min(len(body), faults.cut)
        if faults.stall is not None:
            limit = min(limit, faults.stall_after)
        if isinstance(body, GenBody):
            piece_at, block = body.piece, GEN_CHUNK  # memoryviews of GEN_HEADER / GEN_BLOCK
        else:
            if isinstance(body, FileBody):
                piece_at = body.piece
            else:
                view = memoryview(body)
                piece_at = lambda at, n: view[at:at + n]  # noqa: E731
            block = 512 if faults.chunked else 16384
        if faults.rate:
            block = min(block, max(1, faults.rate // 20))
        started, pos, gone = time.monotonic(), 0, False
        while pos < limit and not gone:
            if self.client_gone():
                gone = True
                break
            chunk = piece_at(pos, block)
            if not chunk:  # the file shrank while it was sent
                break
            piece = chunk[:limit - pos]
            if faults.chunked:
                # The size line announces the whole chunk, so a cut lands mid-chunk.
                sock.sendall(b"%X\r\n" % len(chunk))
            self.send_counted(piece)
            pos += len(piece)
            if faults.chunked and len(piece) == len(chunk):
                sock.sendall(b"\r\n")
            if faults.rate:
                ahead = started + pos / faults.rate - time.monotonic()
                gone = ahead > 0 and not self.pause(ahead)
        if not gone and faults.stall is not None:
            self.pause(faults.stall)
        if gone or pos < limit or faults.cut is not None or faults.stall is not None:
            self.complete = pos == len(body) and not faults.chunked
            self.abort()
            return
        if faults.chunked:
            sock.sendall(b"0\r\n\r\n")
        self.complete = True

    def send_counted(self, data):
        # send() instead of sendall() so a failure mid-way still leaves an exact count.
        view = memoryview(data)
        while view:
            n = self.connection.send(view)
            self.sent += n
            view = view[n:]

    def client_gone(self):
        """True once the peer has closed or reset the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if not isinstance(self.connection, ssl.SSLSocket):
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            # TLS cannot peek: read (clients send nothing before our response ends).
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1) == b""
            except ssl.SSLWantReadError:
                return False
            finally:
                self.connection.settimeout(self.timeout)
        except OSError:
            return True

    def pause(self, seconds):
        """Sleep in small steps; False as soon as the client has gone away."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.client_gone():
                return False
            time.sleep(min(STEP, left))
        return True

    def abort(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()


class FixtureServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64  # parallel regression tests may connect in bursts

    def __init__(self, address, root, api_key, tls=None, sibling=None):
        """tls: an ssl.SSLContext to serve HTTPS; sibling: a server whose files,
        state and caches this one shares (an HTTPS listener beside the HTTP one)."""
        super().__init__(address, FixtureHandler)
        self.root = os.path.realpath(root)
        self.api_key = api_key
        self.tls = tls
        if sibling:
            self.state, self.started = sibling.state, sibling.started
            self.etags, self.etags_lock = sibling.etags, sibling.etags_lock
        else:
            self.state = State()
            self.started = int(time.time())  # Last-Modified of /_gen.csv
            self.etags = {}  # (path, inode, size, mtime_ns) -> ETag of the file
            self.etags_lock = threading.Lock()

    def file_etag(self, path, st, content):
        """The ETag (without quotes) of an open file, cached unless it changed recently."""
        key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        with self.etags_lock:
            etag = self.etags.get(key)
        if etag is None:
            digest = hashlib.sha1()
            pos = 0
            while pos < len(content):
                part = content.piece(pos, GEN_CHUNK)
                if not part:
                    break
                digest.update(part)
                pos += len(part)
            etag = digest.hexdigest()[:16]
            if time.time() - st.st_mtime_ns / 1e9 >= ETAG_STABLE_AFTER:
                with self.etags_lock:
                    self.etags[key] = etag
        return etag

    def finish_request(self, request, client_address):
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError too: e.g. a client that rejects our certificate
            return
        try:
            super().finish_request(request, client_address)
        finally:
            request.close()

    def handle_error(self, request, client_address):
        # Clients dropping connections is routine here; only report real bugs.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fixture CSV HTTP server for hvcsv_fdw tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True, help="directory whose files are served")
    parser.add_argument("--api-key", help="require 'Authorization: apiKey KEY'")
    parser.add_argument("--pidfile")
    parser.add_argument("--host", default="127.0.0.1", help="IPv4 loopback address to bind")
    parser.add_argument("--tls-port", type=int, help="also serve HTTPS on this port")
    parser.add_argument("--tls-cert", help="PEM certificate (chain) for --tls-port")
    parser.add_argument("--tls-key", help="PEM private key for --tls-port")
    args = parser.parse_args(argv)
    tls_args = (args.tls_port, args.tls_cert, args.tls_key)
    if any(a is not None for a in tls_args) and not all(a is not None for a in tls_args):
        parser.error("--tls-port, --tls-cert and --tls-key go together")
    try:
        loopback = ipaddress.IPv4Address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        parser.error("--host must be an IPv4 loopback address")
    if not os.path.isdir(args.root):
        parser.error(f"--root {args.root} is not a directory")

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = FixtureServer((args.host, args.port), args.root, args.api_key)
    tls_server = None
    try:
        if args.tls_port is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.tls_cert, args.tls_key)
            tls_server = FixtureServer((args.host, args.tls_port), args.root, args.api_key,
                                       tls=context, sibling=server)
            threading.Thread(target=tls_server.serve_forever, daemon=True).start()
            print(f"listening (tls) on {args.host}:{args.tls_port}", flush=True)
        if args.pidfile:
            with open(args.pidfile, "w") as f:
                f.write(f"{os.getpid()}\n")
        host, port = server.server_address[:2]
        print(f"listening on {host}:{port}", flush=True)
        server.serve_forever()
    finally:
        server.server_close()
        if tls_server:
            tls_server.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
