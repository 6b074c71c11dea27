#!/usr/bin/env python3
"""Hostile HTTP/1.1 server for hvcsv_fdw's adversarial tests (sql/adversarial_http.sql).

Usage:
    python3 test/hostile_server.py --port 18770 [--host 127.0.0.1] [--other-port 18765]

Every path answers in one lying or malformed way, each taken from a case of
the security review; a path not listed answers 404.  It speaks HTTP/1.1 on
raw sockets (one request per connection, then the connection is closed),
binds to an IPv4 loopback address only, prints "listening on HOST:PORT"
once ready and exits on SIGTERM/SIGINT.  The API key is not checked.

Requests are counted per target (path and query string), so a query string
such as ?t=spool gives a table a count of its own; "the first request"
below is the first of its target.  Control endpoints (not counted, not
logged): GET /_reset clears the counts and the log and answers
"reset\\ntrue\\n"; GET /_log.csv answers the log as CSV, one row per request
in order of arrival: seq,target,status,range,if_range,accept_encoding.

The export (V1, and V2 for a newer version of it) is "a,b" and 1000 rows
"i,1" (V2: "i,2") for i = 1..1000, 5897 bytes either way.  CUT = 3001.

Versions that change while they are read (the first request gets V1, cut
after CUT bytes; every later one is answered from V2, and a Range is
honoured whatever If-Range says):
    /ifrange_etag        ETag "OLD", then ETag "NEW"
    /ifrange_date        no ETag; Last-Modified of 2024-01-01, then of 2024-01-02
    /ifrange_no_etag     ETag "OLD", then a 206 without ETag or Last-Modified
    /ifrange_weak        weak ETag W/"OLD" with the first date, then W/"OLD"
                         with the second date
Resumptions that are honest (control cases): V1 cut after CUT bytes, then a
correct 206 of V1:
    /resume_etag         ETag "V1"
    /resume_date         Last-Modified only
Range answers that lie (V1 with ETag "V1", cut after CUT bytes first):
    /range_wrong_start   206 with "Content-Range: bytes 0-5896/5897" and all of V1
    /range_no_content_range   206 with no Content-Range
    /range_bad_content_range  206 with "Content-Range: bytes */5897"
    /range_200           200 and all of V1
    /range_gzip          a correct 206, but gzip-compressed
    /p206_no_range       206 (all of V1, Content-Range 0-5896) to a request
                         without Range
    /p206_middle         206 of V1 from CUT on to a request without Range
Lengths:
    /dup_length          "Content-Length: 12" and "Content-Length: 8"
    /dup_length_same     "Content-Length: 12" twice
    /dup_length_list     "Content-Length: 12, 8"
    /dup_length_list_same  "Content-Length: 12, 12"
                         (all with the body "a,b\\n1,2\\n3,4\\n")
    /negative_length     "Content-Length: -1"
    /length_too_long     Content-Length 10000 for V1, no validator, then close
    /http10              HTTP/1.0 answer without a length, ended by close
Silence and slowness:
    /silent              reads the request, then sends nothing, ever
    /trickle             "a,b\\n", then one byte of "1,2\\n" per second
Encodings (always sent, whatever Accept-Encoding says):
    /gzip /x_gzip /deflate_zlib /deflate_raw     V1 so encoded
    /gzip_gzip           "Content-Encoding: gzip, gzip", compressed twice
    /gzip_two_headers    two Content-Encoding: gzip headers, compressed twice
    /gzip_identity       "Content-Encoding: identity, gzip"
    /gzip_multimember    V1 as two gzip members, one after the other
    /gzip_as_single      compressed twice, labelled "gzip" once
    /gzip_six            compressed six times, labelled six times
    /gzip_garbage        "gzip", and bytes that are not gzip
    /gzip_truncated      "gzip", and the first half of the compressed V1
                         (Content-Length says that half: the HTTP body is whole)
    /gzip_trailing       "gzip", V1 compressed, then "garbage"
    /br_garbage          "br", and bytes that are not brotli
    /zstd_garbage        "zstd", and bytes that are not zstd
    /unknown_encoding    "x-hvcsv-unknown", and V1 as it is
    /bad_encoding        "g@zip", and V1 as it is
    /gzbomb?mb=N         "a,b\\n" and N MiB (default 2048) of "1,2\\n", gzip
                         (about 1 kB per MiB), no length, ended by close
    /empty_blocks_bomb?mb=N  "deflate, gzip": N MiB (default 64) of empty
                         deflate blocks, which decode to nothing, gzipped
                         (about 1 kB per MiB), no length, ended by close
    /gzip_three          compressed three times, labelled three times
Headers:
    /huge_header_line    one header line of 1 MiB
    /giant_etag          an ETag of 1 MiB
    /long_etag           an ETag of 300 bytes, and V1
    /many_headers        10 MiB of 100-byte header lines
    /nul_header          a NUL byte in a header line
    /garbage_status      "HELLO WORLD" instead of a status line
    /empty_reply         closes the connection without a byte
    /status_999          "HTTP/1.1 999 Weird" and V1
    /always_304          304 Not Modified to every request
    /retry_after_huge    503 with "Retry-After: 99999"
Redirects:
    /redirect_loop       302 to itself
    /redirect_file       302 to file:///etc/passwd
    /redirect_gopher     302 to gopher://127.0.0.1:70/
    /redirect_no_location  302 without Location
    /redirect_relative   302 to "ok" (relative)
    /redirect_other_host 302 to http://localhost:PORT/ok (this server, by name)
    /redirect_other_port 302 to http://127.0.0.1:OTHER_PORT/accounts.csv?noauth=1
    /redirect_metadata   302 to http://169.254.169.254/latest/meta-data/
Chunked bodies:
    /chunked_bad_hex     a chunk size "zz"
    /chunked_huge        a chunk size of 2^72
    /chunked_negative    a chunk size "-5"
    /chunked_no_final    V1 in one chunk, then close without the last chunk
    /chunked_short       a chunk of 100 bytes that brings 50, then close
    /chunked_and_length  chunked and "Content-Length: 3": chunked wins
    /chunked_extension   chunks with extensions ("5;x=y")
    /te_gzip             "Transfer-Encoding: gzip, chunked"
Plain:
    /ok                  V1, ETag "V1"
"""
import argparse
import gzip
import ipaddress
import signal
import socket
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit

CUT = 3001
V1 = b"a,b\n" + b"".join(b"%d,1\n" % i for i in range(1, 1001))
V2 = V1.replace(b",1\n", b",2\n")
assert len(V1) == len(V2) == 5897
DATE1 = "Mon, 01 Jan 2024 00:00:00 GMT"
DATE2 = "Tue, 02 Jan 2024 00:00:00 GMT"
SMALL = b"a,b\n1,2\n3,4\n"
STEP = 0.05  # granularity of every wait, so a client that leaves is noticed quickly


class Request:
    """What a client asked: request line, headers (lower-case names), count of its target."""

    def __init__(self, method, target, headers):
        self.method, self.target, self.headers = method, target, headers
        url = urlsplit(target)
        self.path, self.query = url.path, url.query
        self.count = 0

    def range_start(self):
        """The first byte of a "bytes=N-" range, or None."""
        value = self.headers.get("range", "")
        if value.startswith("bytes=") and value.endswith("-") and value[6:-1].isdigit():
            return int(value[6:-1])
        return None


class Exchange:
    """One connection: reads a request, writes raw bytes, notes the status sent."""

    def __init__(self, sock):
        self.sock = sock
        self.status = 0

    def read_request(self):
        data = b""
        while b"\r\n\r\n" not in data:
            piece = self.sock.recv(65536)
            if not piece:
                return None
            data += piece
            if len(data) > 1 << 20:
                return None
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target = head[0].split(" ")[:2]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Request(method, target, headers)

    def send(self, data):
        self.sock.sendall(data)

    def head(self, status, reason, headers, version="HTTP/1.1"):
        """Sends a status line and headers (a list of (name, value) or raw lines)."""
        self.status = status
        lines = [f"{version} {status} {reason}".encode()]
        for h in headers:
            lines.append(h if isinstance(h, bytes) else f"{h[0]}: {h[1]}".encode("latin-1"))
        self.send(b"\r\n".join(lines) + b"\r\n\r\n")

    def answer(self, status, reason, headers, body, length=True):
        if length:
            headers = [*headers, ("Content-Length", str(len(body)))]
        self.head(status, reason, [*headers, ("Connection", "close")])
        self.send(body)

    def gone(self, timeout):
        """Waits up to timeout seconds; True once the client has closed."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except socket.timeout:
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(None)

    def hold(self, seconds):
        """Sleeps in small steps; False as soon as the client has gone."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.gone(min(STEP, left)):
                return False
        return True


def csv_headers(validators=()):
    return [("Content-Type", "text/csv"), *validators]


def changing(ex, req, first, later, later_206=None):
    """The first request gets V1 cut after CUT bytes; later ones V2 (a Range honoured)."""
    if req.count == 1:
        ex.head(200, "OK", [*csv_headers(first), ("Content-Length", str(len(V1))),
                            ("Accept-Ranges", "bytes"), ("Connection", "close")])
        ex.send(V1[:CUT])
        return
    start = req.range_start()
    if start is None:
        ex.answer(200, "OK", csv_headers(later), V2)
        return
    span = ("Content-Range", f"bytes {start}-{len(V2) - 1}/{len(V2)}")
    ex.answer(206, "Partial Content",
              csv_headers(later if later_206 is None else later_206) + [span], V2[start:])


def resumable(ex, req, validators, on_range):
    """V1 cut after CUT bytes to a request without Range; on_range answers a resumption."""
    start = req.range_start()
    if start is None:
        ex.head(200, "OK", [*csv_headers(validators), ("Content-Length", str(len(V1))),
                            ("Accept-Ranges", "bytes"), ("Connection", "close")])
        ex.send(V1[:CUT])
        return
    on_range(start)


def honest_206(ex, validators):
    def answer(start):
        span = ("Content-Range", f"bytes {start}-{len(V1) - 1}/{len(V1)}")
        ex.answer(206, "Partial Content", csv_headers(validators) + [span], V1[start:])
    return answer


def gzipped(data, times=1):
    for _ in range(times):
        data = gzip.compress(data, mtime=0)
    return data


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


BOMB_BLOCK = b"1,2\n" * (1 << 18)  # 1 MiB
_bomb_parts = {}
_bomb_lock = threading.Lock()


def bomb_parts():
    """(first bytes, bytes repeated once per MiB): a gzip stream flushed after every block.

    After a full flush the compressor starts afresh, so every block of the
    same input compresses to the same bytes, and any number of them can be
    sent without compressing again."""
    with _bomb_lock:
        if not _bomb_parts:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            head = c.compress(b"a,b\n") + c.flush(zlib.Z_FULL_FLUSH)
            block = c.compress(BOMB_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
            again = c.compress(BOMB_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
            assert block == again
            _bomb_parts.update(head=head, block=block)
        return _bomb_parts["head"], _bomb_parts["block"]


def gzip_bomb(ex, req):
    query = dict(p.split("=", 1) for p in req.query.split("&") if "=" in p)
    mib = int(query.get("mb", "2048"))
    head, block = bomb_parts()
    ex.head(200, "OK", [*csv_headers(), ("Content-Encoding", "gzip"), ("Connection", "close")])
    ex.send(head)
    crc = zlib.crc32(b"a,b\n")
    for _ in range(mib):
        ex.send(block)
        crc = zlib.crc32(BOMB_BLOCK, crc)
    size = 4 + mib * len(BOMB_BLOCK)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    ex.send(tail + (crc & 0xFFFFFFFF).to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little"))


# Four empty fixed-Huffman deflate blocks (BFINAL 0, BTYPE 01, end of block:
# ten bits each), five bytes that decode to nothing, repeated to any length.
EMPTY_BLOCKS = bytes([0x02, 0x08, 0x20, 0x80, 0x00])
EMPTY_BLOCKS_MIB = EMPTY_BLOCKS * ((1 << 20) // len(EMPTY_BLOCKS))


def empty_blocks_bomb(ex, req):
    """A deflate layer that decodes to nothing under a gzip layer that inflates
    it a thousandfold: work for the inner layer, no output at all."""
    query = dict(p.split("=", 1) for p in req.query.split("&") if "=" in p)
    mib = int(query.get("mb", "64"))
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    ex.head(200, "OK", [*csv_headers(), ("Content-Encoding", "deflate, gzip"), ("Connection", "close")])
    ex.send(c.compress(b"") + c.flush(zlib.Z_FULL_FLUSH))
    block = c.compress(EMPTY_BLOCKS_MIB) + c.flush(zlib.Z_FULL_FLUSH)
    for _ in range(mib):
        ex.send(block)


def silent(ex, req):
    ex.hold(600)


def trickle(ex, req):
    ex.head(200, "OK", [*csv_headers(), ("Connection", "close")])
    ex.send(b"a,b\n")
    for i in range(600):
        if not ex.hold(1):
            return
        ex.send(b"1,2\n"[i % 4:i % 4 + 1])


def chunked(ex, raw_body, extra=()):
    ex.head(200, "OK", [*csv_headers(), ("Transfer-Encoding", "chunked"), *extra,
                        ("Connection", "close")])
    ex.send(raw_body)


def redirect(ex, location):
    headers = [("Location", location)] if location is not None else []
    ex.answer(302, "Found", [("Content-Type", "text/plain"), *headers], b"moved\n")


def routes(port, other_port):
    """Path -> function(exchange, request) answering it."""
    etag = lambda tag: [("ETag", tag)]  # noqa: E731
    lm = lambda date: [("Last-Modified", date)]  # noqa: E731
    encoded = lambda coding, body: lambda ex, req: ex.answer(  # noqa: E731
        200, "OK", csv_headers([("Content-Encoding", coding)]), body)
    rest_gzip = lambda ex: lambda start: ex.answer(  # noqa: E731
        206, "Partial Content",
        csv_headers(etag('"V1"')) + [("Content-Encoding", "gzip"),
                                     ("Content-Range", f"bytes {start}-{len(V1) - 1}/{len(V1)}")],
        gzipped(V1[start:]))
    big = b"x" * (1 << 20)
    return {
        "/ok": lambda ex, req: ex.answer(200, "OK", csv_headers(etag('"V1"')), V1),
        "/ifrange_etag": lambda ex, req: changing(ex, req, etag('"OLD"'), etag('"NEW"')),
        "/ifrange_date": lambda ex, req: changing(ex, req, lm(DATE1), lm(DATE2)),
        "/ifrange_no_etag": lambda ex, req: changing(ex, req, etag('"OLD"'), [], []),
        "/ifrange_weak": lambda ex, req: changing(ex, req, etag('W/"OLD"') + lm(DATE1),
                                                  etag('W/"OLD"') + lm(DATE2)),
        "/resume_etag": lambda ex, req: resumable(ex, req, etag('"V1"'),
                                                  honest_206(ex, etag('"V1"'))),
        "/resume_date": lambda ex, req: resumable(ex, req, lm(DATE1), honest_206(ex, lm(DATE1))),
        "/range_wrong_start": lambda ex, req: resumable(
            ex, req, etag('"V1"'), lambda start: ex.answer(
                206, "Partial Content",
                csv_headers(etag('"V1"')) + [("Content-Range", f"bytes 0-{len(V1) - 1}/{len(V1)}")],
                V1)),
        "/range_no_content_range": lambda ex, req: resumable(
            ex, req, etag('"V1"'), lambda start: ex.answer(
                206, "Partial Content", csv_headers(etag('"V1"')), V1[start:])),
        "/range_bad_content_range": lambda ex, req: resumable(
            ex, req, etag('"V1"'), lambda start: ex.answer(
                206, "Partial Content",
                csv_headers(etag('"V1"')) + [("Content-Range", f"bytes */{len(V1)}")], V1[start:])),
        "/range_200": lambda ex, req: resumable(
            ex, req, etag('"V1"'), lambda start: ex.answer(200, "OK", csv_headers(etag('"V1"')), V1)),
        "/range_gzip": lambda ex, req: resumable(ex, req, etag('"V1"'), rest_gzip(ex)),
        "/p206_no_range": lambda ex, req: ex.answer(
            206, "Partial Content",
            csv_headers(etag('"V1"')) + [("Content-Range", f"bytes 0-{len(V1) - 1}/{len(V1)}")], V1),
        "/p206_middle": lambda ex, req: ex.answer(
            206, "Partial Content",
            csv_headers(etag('"V1"')) + [("Content-Range", f"bytes {CUT}-{len(V1) - 1}/{len(V1)}")],
            V1[CUT:]),
        "/dup_length": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "12"), ("Content-Length", "8")]), SMALL,
            length=False),
        "/dup_length_same": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "12"), ("Content-Length", "12")]), SMALL,
            length=False),
        "/dup_length_list": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "12, 8")]), SMALL, length=False),
        "/dup_length_list_same": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "12, 12")]), SMALL, length=False),
        "/negative_length": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "-1")]), SMALL, length=False),
        "/length_too_long": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Length", "10000")]), V1, length=False),
        "/http10": lambda ex, req: (ex.head(200, "OK", csv_headers(), version="HTTP/1.0"),
                                    ex.send(V1)),
        "/silent": silent,
        "/trickle": trickle,
        "/gzip": encoded("gzip", gzipped(V1)),
        "/x_gzip": encoded("x-gzip", gzipped(V1)),
        "/deflate_zlib": encoded("deflate", zlib.compress(V1)),
        "/deflate_raw": encoded("deflate", raw_deflate(V1)),
        "/gzip_gzip": encoded("gzip, gzip", gzipped(V1, 2)),
        "/gzip_two_headers": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")]),
            gzipped(V1, 2)),
        "/gzip_identity": encoded("identity, gzip", gzipped(V1)),
        "/gzip_multimember": encoded("gzip", gzipped(V1[:CUT]) + gzipped(V1[CUT:])),
        "/gzip_as_single": encoded("gzip", gzipped(V1, 2)),
        "/gzip_six": encoded(", ".join(["gzip"] * 6), gzipped(V1, 6)),
        "/gzip_three": encoded("gzip, gzip, gzip", gzipped(V1, 3)),
        "/gzip_garbage": encoded("gzip", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4),
        "/gzip_truncated": encoded("gzip", gzipped(V1)[:len(gzipped(V1)) // 2]),
        "/gzip_trailing": encoded("gzip", gzipped(V1) + b"garbage"),
        "/br_garbage": encoded("br", bytes(range(256)) * 4),
        "/zstd_garbage": encoded("zstd", bytes(range(256)) * 4),
        "/unknown_encoding": encoded("x-hvcsv-unknown", V1),
        "/bad_encoding": encoded("g@zip", V1),
        "/gzbomb": gzip_bomb,
        "/empty_blocks_bomb": empty_blocks_bomb,
        "/huge_header_line": lambda ex, req: ex.answer(
            200, "OK", csv_headers([("X-Filler", big.decode())]), V1),
        "/giant_etag": lambda ex, req: ex.answer(
            200, "OK", csv_headers(etag('"' + big.decode() + '"')), V1),
        "/long_etag": lambda ex, req: ex.answer(200, "OK", csv_headers(etag('"' + "e" * 298 + '"')), V1),
        "/many_headers": lambda ex, req: ex.answer(
            200, "OK", csv_headers([(f"X-H{i}", "y" * 90) for i in range(100000)]), V1),
        "/nul_header": lambda ex, req: ex.answer(200, "OK", csv_headers([b"X-A: a\x00b"]), V1),
        "/garbage_status": lambda ex, req: ex.send(b"HELLO WORLD\r\n\r\n" + V1),
        "/empty_reply": lambda ex, req: None,
        "/status_999": lambda ex, req: ex.answer(999, "Weird", csv_headers(), V1),
        "/always_304": lambda ex, req: ex.head(304, "Not Modified", [("ETag", '"V1"'),
                                                                     ("Connection", "close")]),
        "/retry_after_huge": lambda ex, req: ex.answer(
            503, "Service Unavailable", [("Retry-After", "99999")], b"busy\n"),
        "/redirect_loop": lambda ex, req: redirect(ex, "/redirect_loop"),
        "/redirect_file": lambda ex, req: redirect(ex, "file:///etc/passwd"),
        "/redirect_gopher": lambda ex, req: redirect(ex, "gopher://127.0.0.1:70/"),
        "/redirect_no_location": lambda ex, req: redirect(ex, None),
        "/redirect_relative": lambda ex, req: redirect(ex, "ok"),
        "/redirect_other_host": lambda ex, req: redirect(ex, f"http://localhost:{port}/ok"),
        "/redirect_other_port": lambda ex, req: redirect(
            ex, f"http://127.0.0.1:{other_port}/accounts.csv?noauth=1"),
        "/redirect_metadata": lambda ex, req: redirect(ex, "http://169.254.169.254/latest/meta-data/"),
        "/chunked_bad_hex": lambda ex, req: chunked(ex, b"zz\r\n" + V1 + b"\r\n0\r\n\r\n"),
        "/chunked_huge": lambda ex, req: chunked(ex, b"1000000000000000000\r\n" + V1),
        "/chunked_negative": lambda ex, req: chunked(ex, b"-5\r\n" + V1),
        "/chunked_no_final": lambda ex, req: chunked(ex, b"%X\r\n" % len(V1) + V1 + b"\r\n"),
        "/chunked_short": lambda ex, req: chunked(ex, b"64\r\n" + V1[:50]),
        "/chunked_and_length": lambda ex, req: chunked(
            ex, b"%X\r\n" % len(V1) + V1 + b"\r\n0\r\n\r\n", [("Content-Length", "3")]),
        "/chunked_extension": lambda ex, req: chunked(
            ex, b"%X;x=y\r\n" % len(V1[:100]) + V1[:100] + b"\r\n"
                + b"%X;z\r\n" % len(V1[100:]) + V1[100:] + b"\r\n0\r\n\r\n"),
        "/te_gzip": lambda ex, req: (
            ex.head(200, "OK", [*csv_headers(), ("Transfer-Encoding", "gzip, chunked"),
                                ("Connection", "close")]),
            ex.send(b"%X\r\n" % len(gzipped(V1)) + gzipped(V1) + b"\r\n0\r\n\r\n")),
    }


class State:
    """Counts per target and the request log, shared by the connection threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ended = threading.Condition(self.lock)
        self.generation = 0
        self.clear()

    def clear(self):
        with self.lock:
            # A request still running across a reset (a stalled one whose
            # client left) is logged in no later log.
            self.generation += 1
            self.counts, self.log, self.seq, self.running = {}, [], 0, set()

    def arrive(self, req):
        """(generation, seq) of a new request."""
        with self.lock:
            self.counts[req.target] = self.counts.get(req.target, 0) + 1
            req.count = self.counts[req.target]
            self.seq += 1
            self.running.add(self.seq)
            return self.generation, self.seq

    def record(self, generation, row):
        with self.lock:
            if generation == self.generation:
                self.log.append(row)
                self.running.discard(row[0])
                self.ended.notify_all()

    def csv(self):
        def field(value):
            value = str(value)
            return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
        with self.lock:
            # A client may read the log the moment it has its answer, before
            # the request is logged: wait (briefly) for those still running.
            self.ended.wait_for(lambda: not self.running, timeout=2.0)
            rows = sorted(self.log)
        lines = ["seq,target,status,range,if_range,accept_encoding"]
        lines += [",".join(field(v) for v in row) for row in rows]
        return ("\n".join(lines) + "\n").encode()


def serve_connection(sock, state, table):
    ex = Exchange(sock)
    try:
        req = ex.read_request()
        if req is None:
            return
        if req.path == "/_reset":
            state.clear()
            ex.answer(200, "OK", csv_headers(), b"reset\ntrue\n")
            return
        if req.path == "/_log.csv":
            ex.answer(200, "OK", csv_headers(), state.csv())
            return
        generation, seq = state.arrive(req)
        try:
            handler = table.get(req.path)
            if handler is None:
                ex.answer(404, "Not Found", [("Content-Type", "text/plain")], b"not found\n")
            else:
                handler(ex, req)
        finally:
            state.record(generation, (seq, req.target, ex.status, req.headers.get("range", ""),
                          req.headers.get("if-range", ""), req.headers.get("accept-encoding", "")))
    except OSError:
        pass  # the client went away
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Hostile HTTP server for hvcsv_fdw tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="IPv4 loopback address to bind")
    parser.add_argument("--other-port", type=int, default=18765,
                        help="port /redirect_other_port sends clients to")
    args = parser.parse_args(argv)
    try:
        loopback = ipaddress.IPv4Address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        parser.error("--host must be an IPv4 loopback address")

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = State()
    table = routes(args.port, args.other_port)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(64)
    print(f"listening on {args.host}:{args.port}", flush=True)
    try:
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=serve_connection, args=(sock, state, table), daemon=True).start()
    finally:
        listener.close()


if __name__ == "__main__":
    sys.exit(main())
