/*-------------------------------------------------------------------------
 * fetch.c
 *	  HTTP(S) requests with libcurl: a response body that the caller drains
 *	  piece by piece, with retries, backoff and resumption around it.
 *
 * A transfer runs on libcurl's multi interface and waits on its sockets for
 * at most POLL_INTERVAL_MS at a time, checking for interrupts in between, so
 * query cancel and statement_timeout stop a download promptly; the waits
 * between attempts do the same.  Several bodies may share one multi handle
 * (a transfer group): waiting for one moves them all, each into a buffer of
 * its own, libcurl paused when it is full, and a caller that runs several
 * reads whichever is ready (hvcsv_body_ready).  The curl handles are freed
 * by memory context callbacks, so an ERROR raised while a transfer is open
 * leaks nothing.
 *
 * Retried: connection failures, timeouts, broken transfers, and HTTP 429,
 * 500, 502, 503 and 504.  Every other status fails at once.  A body that
 * breaks midway is resumed where it broke, with a Range request guarded by
 * If-Range, so the bytes before and after the break are of one version of
 * the export; a server that cannot resume makes the body start over (when
 * the caller can take that) or fail.  Consecutive failures without progress
 * are limited by max_retries.
 *
 * A resumption continues the body only if the 206 answer is of the same
 * version (the same strong ETag, or without one the same Last-Modified) and
 * starts at the byte asked for: a server may ignore If-Range.
 *
 * Redirects are followed here, not by libcurl, so that every hop is held
 * to what the first request is: http or https, a host that
 * hvcsv_fdw.allowed_hosts admits, at most MAX_REDIRECTS hops, and the
 * user mapping's credentials (its key, in a header or a query parameter,
 * HTTP Basic, its extra headers) only for the scheme, host and port the
 * user named.  Every address libcurl connects to, on every hop, must be
 * public (see url.c), unless hvcsv_fdw.allowed_hosts names the host or it
 * is the api_url of a server a superuser owns.
 *
 * Bodies are asked for with Accept-Encoding: gzip and decoded here
 * (content_decoding.c; also when a server compresses unasked), no more at a
 * time than the transfer buffer holds; a body with a Content-Encoding is
 * never resumed, since Range counts bytes of the encoded form and the
 * decoder's state belongs to that one response.  Under it, the file itself
 * may be compressed (file_compression.c, told by its first bytes or the
 * compression option); that decoder lives as long as the body, so a
 * compressed file is resumed at the compressed bytes taken so far and the
 * decoder carries on.  max_bytes, the smaller of the server option and
 * hvcsv_fdw.max_bytes, counts decoded bytes, and limits the compressed
 * bytes too (which decode to nothing, at worst).  TLS certificates are
 * always verified, against the system's authorities or the server's
 * ca_file.  Messages name the URL without secrets (the key of api_key_param
 * is added to the URL libcurl is given, and to no other); no header is
 * ever shown, and libcurl is never verbose, so it prints no headers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <math.h>
#include <sys/socket.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http.h"
#include "progress.h"


#define POLL_INTERVAL_MS 100
#define MAX_REDIRECTS 5

#define TRANSFER_BUFFER_SIZE (256 * 1024)

/* hvcsv_fdw.max_bytes: the text set, and the limit it means (-1: none). */
static char *max_bytes_setting = NULL;
static int64 max_bytes_cap = -1;

/* Content-Range of a 206 answer that gives no first byte. */
#define RANGE_ABSENT (-1)
#define RANGE_INVALID (-2)

typedef enum TransferEvent
{
	TRANSFER_DATA,				/* some body bytes arrived */
	TRANSFER_DONE,				/* the response ended well */
	TRANSFER_FAILED				/* see curl_result and status */
} TransferEvent;

/*
 * Transfers that run together on one libcurl multi handle: waiting on it
 * moves every one of them, each into its own buffer, until that is full.
 */
struct HvcsvTransferGroup
{
	CURLM	   *multi;
	MemoryContextCallback cleanup;
};

/* One request: an attempt, or one hop of an attempt that was redirected. */
typedef struct Transfer
{
	HvcsvUrl	url;			/* what is requested */
	HvcsvTransferGroup *group;	/* whose multi handle runs it */
	CURL	   *easy;
	struct curl_slist *headers;
	MemoryContextCallback cleanup;

	char	   *buf;			/* body bytes not yet handed out (malloc'd) */
	size_t		buf_len;
	size_t		buf_size;
	bool		handed;			/* buf was handed out, and may be refilled */
	size_t		handed_len;		/* bytes at its start that were handed out */
	bool		paused;			/* curl holds data until buf is drained */
	HvcsvDecoder *decoder;		/* undoes the response's Content-Encoding */
	HvcsvUnpacker *unpacker;	/* undoes the file's compression: the body's */
	bool		decode_blocked; /* a decoder has input that buf had no room for */
	bool		decode_failed;	/* see hvcsv_decoder_failure, hvcsv_unpacker_failure */
	bool		fed;			/* the Content-Encoding decoder has had body bytes */
	bool		input_ended;	/* the unpacker was told the body ended */
	bool		hold_body;		/* keep the body from the unpacker until released */
	bool		held;			/* body bytes came, and wait in libcurl */
	bool		done;
	CURLcode	curl_result;
	char		errbuf[CURL_ERROR_SIZE];

	/* from the response headers, reset at every new status line */
	long		status;
	char		etag[256];
	char		last_modified[64];
	char		next_link[2048];	/* see HvcsvResponse */
	bool		next_link_too_long;
	double		retry_after;	/* seconds, or -1 */
	int64		range_start;	/* first byte of a 206 response, or RANGE_* */
	int64		range_last;		/* its last byte, if range_start is one */
	bool		accept_ranges;	/* Accept-Ranges: bytes */
	int64		content_length; /* the first Content-Length, or -1 */
	int64		other_length;	/* a Content-Length that differs from it, or -1 */
	bool		headers_done;	/* the blank line that ends the headers came */
	char		transfer_coding[64];	/* one other than chunked, or empty */
	bool		redirected;		/* url is where the first request redirected */
	bool		with_auth;		/* the user mapping's credentials were sent */
	char		location[8192]; /* of a redirect; empty if absent or too long */
	int64		body_bytes;		/* decoded */
	bool		limited;		/* max_bytes applies */
	int64		max_bytes;		/* what this transfer may still decode (0: not
								 * a byte more) */
	int64		max_file_bytes; /* the whole compressed file's limit */
	int64		max_length;		/* the largest Content-Length to accept, or 0 */
	bool		too_large;

	/* where it may connect */
	bool		any_address;	/* non-public addresses too */
	bool		address_refused;	/* an address was not public */

	/* stall detection: libcurl's low-speed check averages over seconds */
	bool		connected;		/* the stall clock runs from here on */
	TimestampTz last_progress;
	int64		stall_ms;
	bool		stalled;
} Transfer;

/* Frees a group's multi handle; runs after its transfers' cleanup (see transfer_begin). */
static void
group_cleanup(void *arg)
{
	HvcsvTransferGroup *g = (HvcsvTransferGroup *) arg;

	if (g->multi)
		curl_multi_cleanup(g->multi);
	g->multi = NULL;
}

/*
 * Makes a group of transfers, in CurrentMemoryContext: the transfers put
 * in it must live in that context or below it, so that they are cleaned
 * up before it.
 */
HvcsvTransferGroup *
hvcsv_transfer_group_create(void)
{
	HvcsvTransferGroup *g = palloc0(sizeof(HvcsvTransferGroup));

	g->cleanup.func = group_cleanup;
	g->cleanup.arg = g;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &g->cleanup);
	g->multi = curl_multi_init();
	if (g->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP request")));
	/* No transfer rides on another's connection (see set_transfer_options). */
	curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_NOTHING);
	return g;
}

/*
 * Lets libcurl move every transfer of the group, and notes which ended:
 * the message of one transfer may come while another is being read.
 */
static void
group_perform(HvcsvTransferGroup *g)
{
	int			running;
	int			queued;
	CURLMsg    *msg;
	CURLMcode	mc;

	mc = curl_multi_perform(g->multi, &running);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("HTTP transfer failed inside libcurl: %s", curl_multi_strerror(mc))));
	while ((msg = curl_multi_info_read(g->multi, &queued)) != NULL)
	{
		Transfer   *t = NULL;

		if (msg->msg != CURLMSG_DONE ||
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t) != CURLE_OK ||
			t == NULL)
			continue;
		t->done = true;
		t->curl_result = msg->data.result;
	}
}

/*
 * Waits at most timeout_ms for the group's sockets, then moves its
 * transfers; checks for interrupts first, so that a cancel stops them all
 * within POLL_INTERVAL_MS.
 */
static void
group_wait(HvcsvTransferGroup *g, long timeout_ms)
{
	CHECK_FOR_INTERRUPTS();
	/* Orphaned by a crashed postmaster: stop, as a wait on a latch would. */
	if (!PostmasterIsAlive())
		proc_exit(1);
	(void) curl_multi_poll(g->multi, NULL, 0, Min(timeout_ms, POLL_INTERVAL_MS), NULL);
	group_perform(g);
}

/*
 * Lets libcurl move the group's transfers without waiting for their
 * sockets: for a caller with other work between its reads.
 */
void
hvcsv_transfer_group_poll(HvcsvTransferGroup *group)
{
	group_perform(group);
}

/* Waits for any transfer of the group to move; for a caller that runs several. */
void
hvcsv_transfer_group_wait(HvcsvTransferGroup *group)
{
	group_wait(group, POLL_INTERVAL_MS);
}

/* Frees the curl state of a transfer; runs on success and on ERROR alike. */
static void
transfer_cleanup(void *arg)
{
	Transfer   *t = (Transfer *) arg;

	if (t->easy && t->group->multi)
		curl_multi_remove_handle(t->group->multi, t->easy);
	if (t->easy)
		curl_easy_cleanup(t->easy);
	if (t->headers)
		curl_slist_free_all(t->headers);
	if (t->decoder)
		hvcsv_decoder_end(t->decoder);
	free(t->buf);
	t->easy = NULL;
	t->headers = NULL;
	t->buf = NULL;
}

/* Copies a header value without surrounding blanks into dst. */
static void
copy_header_value(char *dst, size_t dstsize, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' ||
					   value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	/* An over-long validator is dropped rather than cut. */
	if (len >= dstsize)
		len = 0;
	memcpy(dst, value, len);
	dst[len] = '\0';
}

/* Parses Retry-After, either seconds or an HTTP date; -1 if absent or bad. */
static double
parse_retry_after(const char *value, size_t len)
{
	char		text[128];
	char	   *end;
	double		seconds;
	time_t		when;

	copy_header_value(text, sizeof(text), value, len);
	if (text[0] == '\0')
		return -1;
	seconds = strtod(text, &end);
	if (end != text && *end == '\0')
		return seconds >= 0 ? seconds : -1;
	when = curl_getdate(text, NULL);
	if (when < 0)
		return -1;
	seconds = difftime(when, time(NULL));
	return seconds > 0 ? seconds : 0;
}

/* Forgets what an earlier response said: a new one begins (after a 1xx). */
static void
new_response(Transfer *t)
{
	t->etag[0] = '\0';
	t->last_modified[0] = '\0';
	t->next_link[0] = '\0';
	t->next_link_too_long = false;
	t->retry_after = -1;
	t->range_start = RANGE_ABSENT;
	t->range_last = RANGE_ABSENT;
	t->accept_ranges = false;
	t->content_length = -1;
	t->other_length = -1;
	t->headers_done = false;
	t->transfer_coding[0] = '\0';
	t->location[0] = '\0';
	hvcsv_decoder_reset(t->decoder);
}

/*
 * Parses Content-Range "bytes first-last/length" into its first byte, or
 * RANGE_INVALID, and its last byte into *last (RANGE_INVALID if absent).
 */
static int64
parse_content_range(const char *value, size_t len, int64 *last)
{
	char		text[128];
	char	   *end;
	int64		first;

	*last = RANGE_INVALID;
	copy_header_value(text, sizeof(text), value, len);
	if (pg_strncasecmp(text, "bytes ", 6) != 0 || !isdigit((unsigned char) text[6]))
		return RANGE_INVALID;
	errno = 0;
	first = strtoi64(text + 6, &end, 10);
	if (errno != 0 || *end != '-')
		return RANGE_INVALID;
	if (isdigit((unsigned char) end[1]))
	{
		int64		n = strtoi64(end + 1, &end, 10);

		if (errno == 0 && *end == '/')
			*last = n;
	}
	return first;
}

/* Tells whether an Accept-Ranges header's value says "bytes". */
static bool
accepts_byte_ranges(const char *value, size_t len)
{
	char		text[64];

	copy_header_value(text, sizeof(text), value, len);
	return pg_strcasecmp(text, "bytes") == 0;
}

/*
 * Notes the values of a Content-Length header (a list, in some servers'
 * answers); one that differs from the first is kept in other_length.  What
 * is not a number is libcurl's to refuse.
 */
static void
note_content_length(Transfer *t, const char *value, size_t len)
{
	const char *p = value;
	const char *end = value + len;

	for (;;)
	{
		const char *digits;
		int64		n = 0;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n'))
			p++;
		digits = p;
		while (p < end && isdigit((unsigned char) *p))
		{
			if (n > (PG_INT64_MAX - 9) / 10)
				return;
			n = n * 10 + (*p++ - '0');
		}
		if (p == digits)
			return;
		if (t->content_length < 0)
			t->content_length = n;
		else if (n != t->content_length)
			t->other_length = n;
	}
}

/*
 * Whether the value of a Link parameter (after "rel=", a token or a quoted
 * string, at p up to end) has the relation type "next": rel holds types
 * apart by spaces, in any case (RFC 8288, section 3.3).  Moves p past it.
 */
static bool
rel_has_next(const char **p, const char *end)
{
	bool		quoted = *p < end && **p == '"';
	bool		found = false;
	const char *q = *p + (quoted ? 1 : 0);

	for (;;)
	{
		const char *word;

		while (q < end && *q == ' ')
			q++;
		word = q;
		while (q < end && *q != ' ' && (quoted ? *q != '"' : (*q != ';' && *q != ',')))
			q++;
		if (q - word == 4 && pg_strncasecmp(word, "next", 4) == 0)
			found = true;
		if (q >= end || *q != ' ')
			break;
	}
	if (quoted && q < end)
		q++;
	*p = q;
	return found;
}

/*
 * Notes the first link with rel="next" of a Link header's value (line, len
 * bytes): links "<uri>; param=value; ..." apart by commas (RFC 8288,
 * section 3).  An earlier Link header's next link stays.  A parameter's
 * quoted value may hold commas and semicolons, so they are skipped whole.
 */
static void
note_link(Transfer *t, const char *line, size_t len)
{
	const char *p = line;
	const char *end = line + len;

	while (t->next_link[0] == '\0' && !t->next_link_too_long && p < end)
	{
		const char *uri;
		size_t		uri_len;
		bool		next = false;

		while (p < end && *p != '<')
			p++;
		if (p >= end)
			return;
		uri = ++p;
		while (p < end && *p != '>')
			p++;
		if (p >= end)
			return;
		uri_len = p++ - uri;
		/* Its parameters, up to the comma that ends the link */
		while (p < end && *p != ',')
		{
			if (*p == ';')
			{
				p++;
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				if (p >= end)
					break;
				if (end - p > 4 && pg_strncasecmp(p, "rel", 3) == 0 &&
					(p[3] == '=' || p[3] == ' '))
				{
					p += 3;
					while (p < end && (*p == ' ' || *p == '='))
						p++;
					next |= rel_has_next(&p, end);
					continue;
				}
			}
			if (*p == '"')
			{
				for (p++; p < end && *p != '"'; p++)
					if (*p == '\\' && p + 1 < end)
						p++;
			}
			if (p < end)
				p++;
		}
		if (!next)
			continue;
		if (uri_len >= sizeof(t->next_link))
			t->next_link_too_long = true;
		else
		{
			memcpy(t->next_link, uri, uri_len);
			t->next_link[uri_len] = '\0';
		}
	}
}

/*
 * Collects the response headers we use; called by libcurl per header line.
 * Conflicting Content-Length headers (RFC 9112, section 6.3) and a
 * transfer coding that was not asked for end the transfer here.
 */
static size_t
header_callback(char *line, size_t size, size_t nitems, void *arg)
{
	Transfer   *t = (Transfer *) arg;
	size_t		len = size * nitems;

	t->last_progress = GetCurrentTimestamp();
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
		new_response(t);
	else if (len <= 2 && (line[0] == '\r' || line[0] == '\n'))
		t->headers_done = true;
	else if (len > 14 && pg_strncasecmp(line, "Content-Range:", 14) == 0)
		t->range_start = parse_content_range(line + 14, len - 14, &t->range_last);
	else if (len > 14 && pg_strncasecmp(line, "Accept-Ranges:", 14) == 0)
		t->accept_ranges = accepts_byte_ranges(line + 14, len - 14);
	else if (len > 15 && pg_strncasecmp(line, "Content-Length:", 15) == 0)
		note_content_length(t, line + 15, len - 15);
	else if (len > 5 && pg_strncasecmp(line, "ETag:", 5) == 0)
		copy_header_value(t->etag, sizeof(t->etag), line + 5, len - 5);
	else if (len > 14 && pg_strncasecmp(line, "Last-Modified:", 14) == 0)
		copy_header_value(t->last_modified, sizeof(t->last_modified), line + 14, len - 14);
	else if (len > 5 && pg_strncasecmp(line, "Link:", 5) == 0)
		note_link(t, line + 5, len - 5);
	else if (len > 12 && pg_strncasecmp(line, "Retry-After:", 12) == 0)
		t->retry_after = parse_retry_after(line + 12, len - 12);
	else if (len > 9 && pg_strncasecmp(line, "Location:", 9) == 0)
		copy_header_value(t->location, sizeof(t->location), line + 9, len - 9);
	else if (len > 17 && pg_strncasecmp(line, "Content-Encoding:", 17) == 0)
		hvcsv_decoder_add_codings(t->decoder, line + 17, len - 17);
	else if (len > 18 && pg_strncasecmp(line, "Transfer-Encoding:", 18) == 0)
		hvcsv_unasked_transfer_coding(line + 18, len - 18,
									  t->transfer_coding, sizeof(t->transfer_coding));
	if (t->other_length >= 0 || t->transfer_coding[0])
		return 0;				/* makes libcurl fail with CURLE_WRITE_ERROR */
	return len;
}

/* Tells whether an HTTP status is one whose body we read. */
static bool
status_has_body(long status)
{
	return status == 200 || status == 206;
}

/* Reports n body bytes received, with the body's size when it is known. */
static void
report_body_bytes(Transfer *t, size_t n)
{
	curl_off_t	total = -1;

	/*
	 * Content-Length counts compressed bytes; we count decoded ones.  That
	 * of a 206 counts only its range: of a resumption, or of one range of
	 * a download in ranges.
	 */
	if (!hvcsv_decoder_encoded(t->decoder) && !hvcsv_unpacker_active(t->unpacker) &&
		t->range_start == RANGE_ABSENT)
		curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
	hvcsv_progress_add_bytes(n, total);
}

/*
 * Counts n body bytes just put in buf; false if they pass max_bytes (which
 * counts only bodies we read, never an error page).
 */
static bool
count_body_bytes(Transfer *t, size_t n, bool limited)
{
	t->body_bytes += n;
	if (n > 0)
		t->last_progress = GetCurrentTimestamp();
	report_body_bytes(t, n);
	if (limited && t->limited && t->body_bytes > t->max_bytes)
		t->too_large = true;
	return !t->too_large;
}

/* Takes body bytes as they came; pauses libcurl when buf has no room. */
static size_t
take_plain(Transfer *t, const char *data, size_t len, bool limited)
{
	if (t->buf_len + len > t->buf_size)
	{
		if (t->buf_len > 0)
		{
			t->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		/* A single piece larger than the buffer: make room for it. */
		free(t->buf);
		t->buf = malloc(len);
		if (t->buf == NULL)
			return 0;
		t->buf_size = len;
	}
	memcpy(t->buf + t->buf_len, data, len);
	t->buf_len += len;
	return count_body_bytes(t, len, limited) ? len : 0;
}

/* The unpacker's input when the body has a Content-Encoding: what that decodes to. */
static bool
pull_content_decoded(void *arg, char *buf, size_t size, size_t *got)
{
	return hvcsv_decoder_read((HvcsvDecoder *) arg, buf, size, got);
}

/*
 * Decodes what the decoders hold into buf's free room, a bounded amount of
 * work at a time: the Content-Encoding, then the file's compression, as
 * far as there are any.  False if the data is bad or passes max_bytes
 * (which also limits what the inner layers of a stacked coding decode,
 * and the compressed file).  What does not fit, or was not reached, stays
 * in the decoders (decode_blocked) for the next call, made between checks
 * for interrupts.
 */
static bool
decode_into_buf(Transfer *t)
{
	size_t		room = t->buf_size - t->buf_len;
	char	   *out = t->buf + t->buf_len;
	size_t		n;
	bool		ok;

	if (!hvcsv_unpacker_active(t->unpacker))
		ok = hvcsv_decoder_read(t->decoder, out, room, &n);
	else
		ok = hvcsv_unpacker_read(t->unpacker, out, room, &n,
								 hvcsv_decoder_encoded(t->decoder) ? pull_content_decoded : NULL,
								 t->decoder);
	if (!ok)
	{
		t->decode_failed = true;
		return false;
	}
	t->buf_len += n;
	t->decode_blocked = n == room || hvcsv_decoder_has_more(t->decoder) ||
		hvcsv_unpacker_has_more(t->unpacker);
	if (t->limited && (int64) hvcsv_decoder_inner_bytes(t->decoder) > t->max_bytes)
		t->too_large = true;
	if (t->limited &&
		(int64) hvcsv_unpacker_input_bytes(t->unpacker) > t->max_file_bytes)
		t->too_large = true;
	return count_body_bytes(t, n, true);
}

/* Goes on decoding what the decoder holds; lets libcurl go on once it is drained. */
static void
continue_decoding(Transfer *t)
{
	if (t->decode_blocked && !t->decode_failed && !t->too_large)
		(void) decode_into_buf(t);
	if (t->paused && !t->decode_blocked && !t->hold_body)
	{
		t->paused = false;
		/* Time the body waited for its reader is no stall of the server's. */
		t->last_progress = GetCurrentTimestamp();
		curl_easy_pause(t->easy, CURLPAUSE_CONT);
	}
}

/*
 * Takes compressed body bytes (of a Content-Encoding, else of the file):
 * decodes as much as buf has room for and keeps the rest; while the
 * decoders hold more than fits, pauses libcurl, which then keeps the
 * compressed bytes.
 */
static size_t
take_encoded(Transfer *t, const char *data, size_t len)
{
	bool		fed;

	if (t->decode_blocked)
	{
		t->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	/* Input that decodes to nothing yet (a bzip2 block) is progress too. */
	t->last_progress = GetCurrentTimestamp();
	if (hvcsv_decoder_encoded(t->decoder))
	{
		t->fed = true;
		fed = hvcsv_decoder_feed(t->decoder, data, len);
	}
	else
		fed = hvcsv_unpacker_feed(t->unpacker, data, len);
	if (!fed)
	{
		t->decode_failed = true;
		return 0;
	}
	return decode_into_buf(t) ? len : 0;
}

/* Takes body bytes from libcurl, decoding them if they are compressed. */
static size_t
write_callback(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = (Transfer *) arg;
	size_t		len = size * nmemb;
	long		status = 0;

	/* An error page is never decoded, nor held to max_bytes: its status says all. */
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (!status_has_body(status))
		return take_plain(t, data, len, false);
	if (t->hold_body)
	{
		t->held = true;
		t->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (hvcsv_decoder_encoded(t->decoder) || hvcsv_unpacker_active(t->unpacker))
		return take_encoded(t, data, len);
	return take_plain(t, data, len, true);
}

/*
 * libcurl's CURLOPT_OPENSOCKETFUNCTION: opens a socket for an address it is
 * about to connect to, unless the address is not public and this transfer
 * may not go there.  Every address a name resolves to passes here, on
 * every hop, so DNS names and their rebinding are covered.
 */
static curl_socket_t
open_socket_callback(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
	Transfer   *t = (Transfer *) arg;

	if (!t->any_address && !hvcsv_address_is_public(&address->addr))
	{
		t->address_refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/*
 * libcurl's CURLOPT_PREREQFUNCTION: the connection is up (TLS included),
 * and the request is about to go.  Until now connect_timeout applied; from
 * now on the stall clock runs.
 */
static int
connected_callback(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	Transfer   *t = (Transfer *) arg;

	t->connected = true;
	t->last_progress = GetCurrentTimestamp();
	return CURL_PREREQFUNC_OK;
}

/* Seconds as whole milliseconds for libcurl, at least 1. */
static long
seconds_to_ms(double seconds)
{
	return Max(1, (long) (seconds * 1000));
}

/* Appends a header line that holds a secret, leaving no copy behind. */
static void
append_secret_header(Transfer *t, const char *line)
{
	char	   *copy = pstrdup(line);

	t->headers = curl_slist_append(t->headers, copy);
	/* The secret should not linger in memory longer than needed. */
	explicit_bzero(copy, strlen(copy));
	pfree(copy);
}

/*
 * Adds the request headers: the user mapping's credentials and extra
 * headers (if send_auth), Accept-Encoding, and Range or the conditions.
 */
static void
add_request_headers(Transfer *t, const HvcsvRequest *req, bool send_auth,
					int64 range_from, const char *if_range)
{
	ListCell   *cell;

	t->with_auth = send_auth && hvcsv_request_has_credentials(req);
	if (send_auth && req->auth_header)
		append_secret_header(t, req->auth_header);
	if (send_auth)
		foreach(cell, req->extra_headers)
			append_secret_header(t, lfirst(cell));
	t->headers = curl_slist_append(t->headers, "Accept-Encoding: gzip");
	if (range_from > 0 || req->range_end > 0)
	{
		t->headers = curl_slist_append(t->headers, req->range_end > 0 ?
									   psprintf("Range: bytes=" INT64_FORMAT "-" INT64_FORMAT,
												range_from, req->range_end - 1) :
									   psprintf("Range: bytes=" INT64_FORMAT "-", range_from));
		t->headers = curl_slist_append(t->headers, psprintf("If-Range: %s", if_range));
	}
	else
	{
		if (req->if_none_match && req->if_none_match[0])
			t->headers = curl_slist_append(t->headers,
										   psprintf("If-None-Match: %s", req->if_none_match));
		if (req->if_modified_since && req->if_modified_since[0])
			t->headers = curl_slist_append(t->headers,
										   psprintf("If-Modified-Since: %s", req->if_modified_since));
	}
}

/*
 * Gives libcurl the URL to request: t->url, with the key of api_key_param
 * if send_auth.  libcurl keeps a copy; ours is wiped at once.
 */
static void
set_request_url(Transfer *t, const HvcsvRequest *req, bool send_auth)
{
	char	   *url;

	if (!send_auth || req->key_param == NULL)
	{
		curl_easy_setopt(t->easy, CURLOPT_URL, t->url.url);
		return;
	}
	url = hvcsv_url_with_query_param(t->url.url, req->key_param, req->key_value);
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	explicit_bzero(url, strlen(url));
	pfree(url);
}

/* Sets the options of a transfer's easy handle, but for its URL. */
static void
set_transfer_options(Transfer *t, const HvcsvRequest *req)
{
	CURL	   *easy = t->easy;

	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/*
	 * Each transfer connects anew, as when every one had a multi handle of
	 * its own: its addresses pass open_socket_callback, with its own rule.
	 */
	curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *) t);
	/* libcurl's trace would show the request headers, Authorization included. */
	curl_easy_setopt(easy, CURLOPT_VERBOSE, 0L);
	/* We decode, a buffer at a time (content_decoding.c). */
	curl_easy_setopt(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file)
	{
		/* Its authorities only, not also the system's directory of them. */
		curl_easy_setopt(easy, CURLOPT_CAINFO, req->ca_file);
		curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, seconds_to_ms(req->connect_timeout));
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "hvcsv_fdw/0.1");
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_callback);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_callback);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_callback);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, connected_callback);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
	if (t->max_length > 0)
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->max_length);
}

/*
 * Starts one request of an attempt at req, to url (req's URL or where it
 * redirected), with the user mapping's credentials if send_auth, and to
 * non-public addresses too if any_address; with range_from > 0, asks for
 * the body from that byte on, if it is still the version if_range names.
 * The file's compression is undone by the body's unpacker, which has
 * decoded `decoded` bytes before.  The transfer runs in group, and lives
 * in CurrentMemoryContext, which is the group's or below it.
 */
static Transfer *
transfer_begin(const HvcsvRequest *req, HvcsvTransferGroup *group,
			   const HvcsvUrl *url, bool send_auth,
			   bool any_address, int64 range_from, const char *if_range,
			   HvcsvUnpacker *unpacker, int64 decoded)
{
	Transfer   *t = palloc0(sizeof(Transfer));

	t->url = *url;
	t->group = group;
	t->any_address = any_address;
	/*
	 * What is left of max_bytes may be nothing: a break that fell right at
	 * the limit leaves a resumed transfer no byte more, not no limit.
	 */
	t->limited = req->max_bytes > 0;
	t->max_bytes = req->max_bytes - decoded;
	t->max_file_bytes = req->max_bytes;
	t->unpacker = unpacker;
	/*
	 * The unpacker goes on from its state: only bytes that continue the
	 * file may reach it, so the body waits until the answer is checked.
	 */
	t->hold_body = range_from > 0 && hvcsv_unpacker_active(unpacker);
	/*
	 * libcurl checks a Content-Length before any byte: against what is left
	 * to decode, or, for the rest of a compressed file, against what is
	 * left of its own limit, since that length counts compressed bytes.
	 */
	if (t->limited)
		t->max_length = t->hold_body ? t->max_file_bytes - range_from : t->max_bytes;
	t->stall_ms = seconds_to_ms(req->timeout);
	t->decoder = hvcsv_decoder_create();
	new_response(t);
	t->cleanup.func = transfer_cleanup;
	t->cleanup.arg = t;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &t->cleanup);

	t->buf = malloc(TRANSFER_BUFFER_SIZE);
	t->easy = curl_easy_init();
	if (t->buf == NULL || t->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP request")));
	t->buf_size = TRANSFER_BUFFER_SIZE;

	add_request_headers(t, req, send_auth, range_from, if_range);
	set_request_url(t, req, send_auth);
	set_transfer_options(t, req);
	if (curl_multi_add_handle(group->multi, t->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start an HTTP request for \"%s\"", req->display_url)));
	return t;
}

/*
 * Ends a transfer that failed on our side (bad data, max_bytes) while
 * libcurl still ran it.
 */
static TransferEvent
transfer_fail(Transfer *t)
{
	t->done = true;
	if (t->curl_result == CURLE_OK)
		t->curl_result = CURLE_WRITE_ERROR;
	return TRANSFER_FAILED;
}

/*
 * At the end of a body that libcurl says arrived whole: false if it ends
 * inside compressed data, of its Content-Encoding or of the file (cut
 * short, though its length was right).  An empty body has nothing to
 * decode.
 */
static bool
decoding_complete(Transfer *t)
{
	if ((!t->fed || hvcsv_decoder_finish(t->decoder)) && hvcsv_unpacker_finish(t->unpacker))
		return true;
	t->decode_failed = true;
	return false;
}

/*
 * Tells whether no body byte came (or was decoded) for the stall time since
 * the connection was made; if so, ends the transfer as stalled.
 */
static bool
stalled(Transfer *t)
{
	if (!t->connected ||
		!TimestampDifferenceExceeds(t->last_progress, GetCurrentTimestamp(), t->stall_ms))
		return false;
	t->stalled = true;
	t->done = true;
	t->curl_result = CURLE_OPERATION_TIMEDOUT;
	snprintf(t->errbuf, sizeof(t->errbuf),
			 "No data arrived for " INT64_FORMAT " ms.", t->stall_ms);
	return true;
}

/*
 * Drops from buf what was handed out, and lets the decoders and libcurl
 * fill it again.  Bytes that came after those, while another transfer of
 * the group was read, stay for the next transfer_read.
 */
static void
transfer_refill(Transfer *t)
{
	if (!t->handed)
		return;
	t->handed = false;
	t->buf_len -= t->handed_len;
	memmove(t->buf, t->buf + t->handed_len, t->buf_len);
	t->handed_len = 0;
	continue_decoding(t);
}

/* Hands out what buf holds (len bytes of it: all, or none while held). */
static TransferEvent
hand_out_buf(Transfer *t, const char **data, size_t *len, size_t n)
{
	*data = t->buf;
	*len = n;
	t->handed = true;
	t->handed_len = n;
	return TRANSFER_DATA;
}

/*
 * Runs the transfer until it has body bytes for us or has ended.  On
 * TRANSFER_DATA, *data and *len point into the transfer's buffer, valid
 * until the next call; *len is 0 when the body began but is held (see
 * hold_body).  A response whose status is not 200 or 206 is stopped at its
 * first body byte: we never read an error page.
 */
static TransferEvent
transfer_read(Transfer *t, const char **data, size_t *len)
{
	transfer_refill(t);

	for (;;)
	{
		if (t->decode_failed || t->too_large)
			return transfer_fail(t);
		if (t->held && t->hold_body)
		{
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
			return hand_out_buf(t, data, len, 0);
		}
		if (t->buf_len > 0)
		{
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
			if (!status_has_body(t->status))
				return TRANSFER_FAILED;
			return hand_out_buf(t, data, len, t->buf_len);
		}
		if (t->done)
		{
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
			/* libcurl's Content-Length check of max_bytes: same rule. */
			if (t->curl_result == CURLE_FILESIZE_EXCEEDED && t->status != 0 &&
				!status_has_body(t->status))
				t->curl_result = CURLE_OK;
			/*
			 * What the decoders hold is handed out first, also after a
			 * break: the file's decoder carries on in the next transfer,
			 * and none of what it decoded must be lost with this one.
			 */
			if (t->decode_blocked)
			{
				CHECK_FOR_INTERRUPTS();
				continue_decoding(t);
				continue;
			}
			if (t->curl_result == CURLE_OK && status_has_body(t->status) && !t->input_ended)
			{
				/* The first few bytes of a short body may be waiting for more. */
				t->input_ended = true;
				hvcsv_unpacker_input_ends(t->unpacker);
				if (hvcsv_unpacker_active(t->unpacker))
					(void) decode_into_buf(t);
				continue;
			}
			if (t->curl_result == CURLE_OK && !decoding_complete(t))
				return transfer_fail(t);
			return (t->curl_result == CURLE_OK) ? TRANSFER_DONE : TRANSFER_FAILED;
		}

		CHECK_FOR_INTERRUPTS();
		if (t->decode_blocked && !stalled(t))
		{
			/* libcurl is paused until the decoder is drained. */
			continue_decoding(t);
			continue;
		}
		group_perform(t->group);
		if (t->buf_len > 0 || t->held || t->done || t->decode_failed || t->too_large ||
			stalled(t))
			continue;
		group_wait(t->group, POLL_INTERVAL_MS);
	}
}

/*
 * Tells whether transfer_read would return without waiting: the transfer
 * has bytes, has ended, or has work of ours to do.  Another transfer of
 * the group may have filled its buffer meanwhile.
 */
static bool
transfer_ready(Transfer *t)
{
	transfer_refill(t);
	return t->buf_len > 0 || (t->held && t->hold_body) || t->done || t->decode_blocked ||
		t->decode_failed || t->too_large || stalled(t);
}

/* Ends a transfer and frees its handles at once. */
static void
transfer_end(Transfer *t)
{
	transfer_cleanup(t);
}

/*
 * Tells whether an address was refused for not being public, and that is
 * why no connection was made.
 */
static bool
address_was_refused(const Transfer *t)
{
	return t->address_refused && !t->connected && t->curl_result != CURLE_OK;
}

/* Tells whether a failed attempt may succeed if tried again. */
static bool
failure_is_transient(const Transfer *t)
{
	/* Our own refusals, and an answer that breaks HTTP, would come again. */
	if (t->too_large || t->decode_failed || address_was_refused(t) ||
		t->other_length >= 0 || t->transfer_coding[0])
		return false;
	if (t->curl_result == CURLE_OK)
		return t->status == 429 || t->status == 500 || t->status == 502 ||
			t->status == 503 || t->status == 504;
	switch (t->curl_result)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_PARTIAL_FILE:
		case CURLE_GOT_NOTHING:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_SSL_CONNECT_ERROR:
			return true;
		default:
			return false;
	}
}

/*
 * Sleeps, waking for interrupts, so cancel and statement_timeout work;
 * the other transfers of the group go on meanwhile.
 */
static void
sleep_interruptibly(HvcsvTransferGroup *group, double seconds)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  (int64) (seconds * 1000));

	for (;;)
	{
		long		remaining;

		CHECK_FOR_INTERRUPTS();
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (remaining <= 0)
			break;
		/* Shown as waiting, as a wait on the latch was. */
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		group_wait(group, remaining);
		pgstat_report_wait_end();
	}
}

/* Reports what we refuse: a body past max_bytes, a non-public address. */
static void
report_refusal(const HvcsvRequest *req, const Transfer *t, const char *source)
{
	if (t->too_large || t->curl_result == CURLE_FILESIZE_EXCEEDED)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response from %s is larger than %s (" INT64_FORMAT " bytes)",
						source, req->max_bytes_name, req->max_bytes)));
	if (address_was_refused(t))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("could not fetch %s: host \"%s\" resolves to a non-public address",
						source, t->url.host),
				 errdetail("Loopback, private, link-local and other non-public addresses are reached only for hosts listed in hvcsv_fdw.allowed_hosts and for the api_url of a server that a superuser owns."),
				 errhint("A superuser may admit the host by listing it in hvcsv_fdw.allowed_hosts.")));
}

/* Reports a Content-Encoding that could not be undone. */
static void
report_decode_failure(const Transfer *t, const char *source)
{
	const char *coding;
	const char *why;

	switch (hvcsv_decoder_failure(t->decoder, &coding, &why))
	{
		case HVCSV_DECODE_UNSUPPORTED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch %s: unsupported Content-Encoding \"%s\"", source, coding),
					 errdetail("Only gzip, x-gzip and deflate are decoded, and only gzip is asked for.")));
			break;
		case HVCSV_DECODE_NOT_TOKEN:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch %s: the Content-Encoding header is not a list of content codings",
							source)));
			break;
		case HVCSV_DECODE_TOO_MANY:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch %s: the body has more than %d content codings",
							source, HVCSV_MAX_CODINGS)));
			break;
		case HVCSV_DECODE_BAD_DATA:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch %s: the body is not valid %s data", source, coding),
					 why ? errdetail("zlib reported: %s.", why) : 0));
			break;
		case HVCSV_DECODE_TRUNCATED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch %s: the body ends before the end of its %s data",
							source, coding),
					 errdetail("The response ended normally, but the compressed data in it is cut short.")));
			break;
		case HVCSV_DECODE_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while decoding the body of %s", source)));
			break;
		case HVCSV_DECODE_NONE:
			break;
	}
}

/* Reports a file whose compression could not be undone. */
static void
report_unpack_failure(const Transfer *t, const char *source)
{
	HvcsvCompression format;
	const char *why;
	const char *name;

	switch (hvcsv_unpacker_failure(t->unpacker, &format, &why))
	{
		case HVCSV_UNPACK_NOT_FORMAT:
			name = hvcsv_compression_name(format);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not fetch %s: the body is not a %s file", source, name),
					 errdetail("It does not begin as a %s file does, and option compression is \"%s\".",
							   name, name),
					 errhint("With compression \"auto\" the body's first bytes tell whether it is compressed, and how.")));
			break;
		case HVCSV_UNPACK_BAD_DATA:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not fetch %s: the %s file is corrupt",
							source, hvcsv_compression_name(format)),
					 errdetail("Decompression stopped: %s.", why),
					 t->range_start > 0 ?
					 errhint("The download resumed at byte " INT64_FORMAT " after a break; if the export changed without a new ETag or Last-Modified, the bytes on either side belong to different files; the next statement downloads it from the start.",
							 t->range_start) : 0));
			break;
		case HVCSV_UNPACK_TRUNCATED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not fetch %s: the %s file ends before the end of its compressed data",
							source, hvcsv_compression_name(format)),
					 errdetail("The response ended normally, but the file in it is cut short.")));
			break;
		case HVCSV_UNPACK_TOO_MUCH_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("could not fetch %s: the %s file needs more memory to decompress than is allowed",
							source, hvcsv_compression_name(format)),
					 errdetail("Decompression stopped: %s.", why),
					 errhint("A zstd file with a window of at most 128 MB (--long=27) can be read, and an xz file whose decoder needs at most 256 MB (a dictionary of up to about 192 MB; xz -9 uses 64 MB).")));
			break;
		case HVCSV_UNPACK_ZIP_SECOND_ENTRY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not fetch %s: the zip archive holds more than one file", source),
					 errdetail("Only a zip archive that holds a single file is read: which of several to read would be a guess.")));
			break;
		case HVCSV_UNPACK_ZIP_UNREADABLE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not fetch %s: the file in the zip archive cannot be read", source),
					 errdetail("%s", why)));
			break;
		case HVCSV_UNPACK_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while decompressing the body of %s", source)));
			break;
		case HVCSV_UNPACK_NONE:
			break;
	}
}

/* Tells whether libcurl sent the whole request. */
static bool
request_was_sent(const Transfer *t)
{
	long		size = 0;

	return t->easy && curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &size) == CURLE_OK &&
		size > 0;
}

/* Reports an answer that breaks HTTP, or that we cannot read. */
static void
report_bad_answer(const Transfer *t, const char *source)
{
	if (t->other_length >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch %s: the response has conflicting Content-Length headers",
						source),
				 errdetail("The server sent Content-Length " INT64_FORMAT " and " INT64_FORMAT ".",
						   t->content_length, t->other_length)));
	if (t->transfer_coding[0])
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch %s: unsupported Transfer-Encoding \"%s\"",
						source, t->transfer_coding),
				 errdetail("Only the chunked transfer coding is accepted; no other was asked for.")));
	if (t->decode_failed)
	{
		report_decode_failure(t, source);
		report_unpack_failure(t, source);
	}
	/* libcurl says only "out of memory" when a header line is past its limit. */
	if (t->curl_result == CURLE_OUT_OF_MEMORY && !t->headers_done && request_was_sent(t))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch %s: a response header line is too long", source),
				 errdetail("libcurl accepts header lines of up to %d bytes.", CURL_MAX_HTTP_HEADER)));
	if (t->curl_result == CURLE_OK && t->status == 206)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch %s: the server answered a request for the whole body with part of it (HTTP status 206)",
						source)));
	if (t->curl_result == CURLE_OK && t->status == 304)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch %s: the server answered HTTP status 304 (Not Modified) to a request without If-None-Match or If-Modified-Since",
						source)));
}

/* Reports a TLS failure: a certificate, or the authorities to check it by. */
static void
report_tls_failure(const HvcsvRequest *req, const Transfer *t, const char *source)
{
	if (t->curl_result == CURLE_PEER_FAILED_VERIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not fetch %s: the TLS certificate of host \"%s\" could not be verified",
						source, t->url.host),
				 t->errbuf[0] ? errdetail("libcurl reported: %s.", t->errbuf) : 0,
				 req->ca_file ?
				 errhint("The certificate must be issued for this host by an authority in ca_file \"%s\".",
						 req->ca_file) :
				 errhint("If a private certificate authority issued it, set the server option ca_file to a file with that authority's certificate.")));
	if (t->curl_result == CURLE_SSL_CACERT_BADFILE && req->ca_file)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not fetch %s: could not load certificate authorities from ca_file \"%s\"",
						source, req->ca_file),
				 t->errbuf[0] ? errdetail("libcurl reported: %s.", t->errbuf) : 0));
	if (t->curl_result == CURLE_SSL_CACERT_BADFILE)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not fetch %s: could not load the system's certificate authorities", source),
				 t->errbuf[0] ? errdetail("libcurl reported: %s.", t->errbuf) : 0,
				 errhint("Install the system's CA certificates (on Debian, the package ca-certificates), or set the server option ca_file.")));
}

/* Tells whether an HTTP status is a redirect we follow. */
static bool
status_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Reports the failure of the last attempt; never returns. */
static void
report_failure(const HvcsvRequest *req, const Transfer *t, int attempts)
{
	const char *tries = attempts > 1 ?
	psprintf("Gave up after %d attempts.", attempts) : NULL;
	/* The URL as the user wrote it, and where it led. */
	const char *source = t->redirected ?
	psprintf("\"%s\" (redirected to \"%s\")", req->display_url,
			 hvcsv_mask_secrets(hvcsv_redact_url_param(t->url.url, req->key_param),
								req->secrets)) :
	psprintf("\"%s\"", req->display_url);

	report_refusal(req, t, source);
	report_bad_answer(t, source);
	report_tls_failure(req, t, source);

	/* The stable text goes in the message, curl's own words in the detail. */
	if (t->curl_result != CURLE_OK)
	{
		const char *said = t->stalled ? t->errbuf :
		t->errbuf[0] ? psprintf("libcurl reported: %s.", t->errbuf) : NULL;
		const char *detail = said && tries ? psprintf("%s %s", said, tries) :
		said ? said : tries;

		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not fetch %s: %s", source,
						t->stalled ? "the transfer stalled" : curl_easy_strerror(t->curl_result)),
				 detail ? errdetail("%s", detail) : 0));
	}

	ereport(ERROR,
			(errcode(t->status == 401 || t->status == 403 ?
					 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION :
					 t->status == 404 || t->status == 410 ?
					 ERRCODE_FDW_TABLE_NOT_FOUND : ERRCODE_FDW_ERROR),
			 errmsg("could not fetch %s: HTTP status %ld", source, t->status),
			 status_is_redirect(t->status) ?
			 errdetail("The redirect has no Location header that can be followed.") :
			 tries ? errdetail("%s", tries) : 0,
			 (t->status == 401 || t->status == 403) && !t->with_auth &&
			 hvcsv_request_has_credentials(req) ?
			 errhint("The user mapping's credentials are not sent to another scheme, host or port than the first request's.") :
			 (t->status == 401 || t->status == 403) && req->auth_options ?
			 errhint("Check the %s options of the user mapping.", req->auth_options) :
			 t->status == 401 || t->status == 403 ?
			 errhint("The user mapping for this server has no credentials: api_key, or user and password.") : 0));
}

/* GUC check hook of hvcsv_fdw.max_bytes: -1 (no limit) or a size of at least 1 byte. */
static bool
check_max_bytes(char **newval, void **extra, GucSource source)
{
	double		bytes;
	const char *hint = NULL;
	int64	   *cap;

	if (!parse_real(*newval, &bytes, GUC_UNIT_BYTE, &hint) ||
		(bytes != -1 && (bytes < 1 || bytes > (double) PG_INT64_MAX / 2)))
	{
		GUC_check_errdetail("The value must be -1 (no limit) or a size of at least 1 byte, such as \"10GB\".");
		return false;
	}
	cap = malloc(sizeof(int64));
	if (cap == NULL)
		return false;
	*cap = (int64) bytes;
	*extra = cap;
	return true;
}

/* GUC assign hook of hvcsv_fdw.max_bytes. */
static void
assign_max_bytes(const char *newval, void *extra)
{
	max_bytes_cap = *(int64 *) extra;
}

/* Fills a request from a table's options. */
void
hvcsv_request_init(HvcsvRequest *req, const HvcsvOptions *opts)
{
	memset(req, 0, sizeof(*req));
	req->url = opts->url;
	req->display_url = hvcsv_display_url(opts);
	hvcsv_request_auth(req, opts);
	req->connect_timeout = opts->connect_timeout;
	req->timeout = opts->timeout;
	req->max_retries = opts->max_retries;
	req->retry_delay = opts->retry_delay;
	req->max_retry_delay = opts->max_retry_delay;
	/* The smaller of the server's max_bytes and hvcsv_fdw.max_bytes. */
	req->max_bytes = opts->max_bytes;
	req->max_bytes_name = "max_bytes";
	if (max_bytes_cap > 0 && (req->max_bytes == 0 || max_bytes_cap < req->max_bytes))
	{
		req->max_bytes = max_bytes_cap;
		req->max_bytes_name = "hvcsv_fdw.max_bytes";
	}
	req->compression = opts->compression;
	req->ca_file = opts->ca_file;
	req->trusted_url = opts->server_owner_is_superuser ? opts->api_url : NULL;
}

/* A response body being read, across as many transfers as it takes. */
struct HvcsvBody
{
	MemoryContext cxt;			/* where transfers live: as long as the body */
	HvcsvTransferGroup *group;	/* runs its transfers */
	HvcsvRequest req;
	HvcsvUrl	origin;			/* req.url: where every attempt starts */
	HvcsvUrl	trusted;		/* req.trusted_url, or no host if none */
	HvcsvResponse resp;			/* of the first response */
	bool		encoded;		/* the first response had a Content-Encoding */
	HvcsvUnpacker *unpacker;	/* undoes the file's compression, across transfers */
	Transfer   *t;				/* the transfer now open, or NULL */
	const char *pending;		/* bytes of the transfer, not yet handed out */
	size_t		pending_len;
	bool		ended;
	bool		missing;		/* it answered 404 or 410 (see missing_ok) */
	int64		base;			/* the body's first byte in the export: 0, or
								 * where its range begins */
	bool		changed;		/* a range found another version (see
								 * range_not_continued) */
	int			failures;		/* consecutive failed attempts without progress */
	int			restarts;		/* times the body started over */
	void		(*on_restart) (void *arg, const char *why);
	void	   *restart_arg;
};

/* The validator a resumed request must match: a strong ETag, else the date. */
static const char *
resume_validator(const HvcsvResponse *resp)
{
	if (resp->etag[0] && strncmp(resp->etag, "W/", 2) != 0)
		return resp->etag;
	if (resp->last_modified[0])
		return resp->last_modified;
	return NULL;
}

/* Counts a failed attempt; reports it if it was the last one allowed. */
static void
count_failure(HvcsvBody *b, Transfer *t)
{
	double		wait;

	b->failures++;
	if (b->failures >= b->req.max_retries || !failure_is_transient(t))
		report_failure(&b->req, t, b->failures);

	wait = b->req.retry_delay * pow(2, b->failures - 1);
	if (t->retry_after >= 0)
		wait = t->retry_after;
	wait = Min(wait, b->req.max_retry_delay);
	ereport(LOG,
			(errmsg("retrying \"%s\" in %.1f s after %s (attempt %d of %d)",
					b->req.display_url, wait,
					t->curl_result != CURLE_OK ? curl_easy_strerror(t->curl_result) :
					psprintf("HTTP status %ld", t->status),
					b->failures + 1, b->req.max_retries)));
	transfer_end(t);
	b->t = NULL;
	sleep_interruptibly(b->group, wait);
}

/*
 * Starts the body over from its first byte, or says why it cannot.  The
 * caller is told only if it was handed bytes: a compressed file may break
 * before it decoded any.
 */
static void
restart_body(HvcsvBody *b, const char *why)
{
	bool		handed_out = b->resp.body_bytes > 0;

	if ((handed_out && b->on_restart == NULL) || b->restarts >= b->req.max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not resume \"%s\" after " INT64_FORMAT " bytes",
						b->req.display_url, b->resp.body_bytes),
				 b->restarts > 0 ?
				 errdetail("%s The body already started over %d times.", why, b->restarts) :
				 errdetail("%s", why)));
	b->restarts++;
	if (handed_out)
		b->on_restart(b->restart_arg, why);
	b->resp.body_bytes = 0;
	/*
	 * A compressed file's decoder starts over (its body is always asked
	 * for anew); a plain file's stays plain, for the answer that may be
	 * read on from its first byte.
	 */
	if (hvcsv_unpacker_active(b->unpacker))
		hvcsv_unpacker_restart(b->unpacker);
}

/*
 * Reports a URL that no request may go to: not http or https, or a host
 * that hvcsv_fdw.allowed_hosts does not admit.  hops > 0 means the server
 * redirected there.
 */
static void
check_target(const HvcsvBody *b, const HvcsvUrl *url, int hops)
{
	if (!hvcsv_url_is_http(url))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 hops > 0 ?
				 errmsg("could not fetch \"%s\": redirect to a \"%s\" URL is not allowed",
						b->req.display_url, url->scheme) :
				 errmsg("could not fetch \"%s\": only http and https URLs can be fetched",
						b->req.display_url),
				 hops > 0 ? errdetail("Only http and https are followed.") : 0));
	if (!hvcsv_host_allowed(url))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("could not fetch \"%s\": host \"%s\" port %d is not in hvcsv_fdw.allowed_hosts",
						b->req.display_url, url->host, url->port),
				 hops > 0 ? errdetail("The server redirected to \"%s\".",
									  hvcsv_mask_secrets(hvcsv_redact_url_param(url->url, b->req.key_param),
														 b->req.secrets)) : 0));
}

/*
 * Tells whether a request to url may connect to a non-public address: its
 * host is listed in hvcsv_fdw.allowed_hosts, or it is the host and port of
 * the api_url of a server that a superuser owns.
 */
static bool
may_reach_any_address(const HvcsvBody *b, const HvcsvUrl *url)
{
	return hvcsv_host_listed(url) ||
		(b->trusted.host && strcmp(url->host, b->trusted.host) == 0 &&
		 url->port == b->trusted.port);
}

/*
 * Starts one request of an attempt at the body from byte `from`, hop
 * `hops` of it, to url, once url is checked.  The user mapping's
 * credentials go only to the scheme, host and port of the first request.
 * A request for the whole body tells the file's compression afresh.
 */
static void
begin_hop(HvcsvBody *b, const HvcsvUrl *url, int hops, int64 from, const char *validator)
{
	check_target(b, url, hops);
	if (from == 0)
		hvcsv_unpacker_restart(b->unpacker);
	b->t = transfer_begin(&b->req, b->group, url, hvcsv_url_same_origin(url, &b->origin),
						  may_reach_any_address(b, url), from, validator,
						  b->unpacker, b->resp.body_bytes);
	b->t->redirected = hops > 0;
}

/*
 * Sends one attempt at the body from byte `from` (unless its first request
 * was begun already) and waits for its first bytes (kept in b->pending),
 * following redirects; every hop is checked before it is requested.
 */
static TransferEvent
open_transfer(HvcsvBody *b, int64 from, const char *validator)
{
	HvcsvUrl	url = b->origin;
	int			hops = 0;

	for (;;)
	{
		Transfer   *t;
		TransferEvent ev;
		HvcsvUrl	next;

		if (b->t == NULL)
			begin_hop(b, &url, hops, from, validator);
		t = b->t;
		ev = transfer_read(t, &b->pending, &b->pending_len);
		if (ev == TRANSFER_DATA || !status_is_redirect(t->status) || t->location[0] == '\0')
			return ev;
		if (++hops > MAX_REDIRECTS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch \"%s\": more than %d redirects",
							b->req.display_url, MAX_REDIRECTS)));
		if (!hvcsv_url_resolve(url.url, t->location, &next))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not fetch \"%s\": the server redirected to a URL that cannot be parsed",
							b->req.display_url)));
		transfer_end(t);
		b->t = NULL;
		url = next;
	}
}

/*
 * Tells whether a transfer's answer is one to go on with: a body (200, or
 * 206 to a Range request), or 304 to a conditional request.
 */
static bool
answer_expected(const HvcsvBody *b, const Transfer *t, TransferEvent ev, int64 from)
{
	bool		conditional = (b->req.if_none_match && b->req.if_none_match[0]) ||
		(b->req.if_modified_since && b->req.if_modified_since[0]);

	if (ev == TRANSFER_FAILED)
		return false;
	if (t->status == 200)
		return true;
	if (t->status == 206)
		return from > 0 || b->req.range_end > 0;
	return t->status == 304 && ev == TRANSFER_DONE && from == 0 && conditional;
}

/* Ends the body at its answer t, handing out nothing of it. */
static void
end_empty(HvcsvBody *b, Transfer *t)
{
	b->ended = true;
	b->pending_len = 0;
	transfer_end(t);
	b->t = NULL;
}

/*
 * Tells why a 206 answer may be of another version than the body read so
 * far, or NULL if it is of the same: the first response's strong ETag, or
 * without one its Last-Modified; an answer without the validator may be
 * of any version.
 */
static const char *
version_mismatch(const HvcsvBody *b, const Transfer *t)
{
	bool		by_etag = resume_validator(&b->resp) == b->resp.etag;
	const char *had = by_etag ? t->etag : t->last_modified;

	if (hvcsv_decoder_encoded(t->decoder))
		return "The server compressed the rest of the body (Content-Encoding), so it does not continue the bytes already read.";
	if (had[0] == '\0')
		return by_etag ?
			"The server's 206 answer has no ETag, so it may be of another version of the export." :
			"The server's 206 answer has no Last-Modified, so it may be of another version of the export.";
	if (strcmp(had, by_etag ? b->resp.etag : b->resp.last_modified) != 0)
		return by_etag ?
			"The export changed while it was being read: the server's 206 answer has another ETag." :
			"The export changed while it was being read: the server's 206 answer has another Last-Modified.";
	return NULL;
}

/*
 * Tells why a 206 answer does not continue the body read so far, or NULL
 * if it does: it must be of the same version (version_mismatch), start at
 * the byte asked for and, for a range, end where the range ends.
 */
static const char *
partial_mismatch(const HvcsvBody *b, const Transfer *t, int64 from)
{
	const char *why = version_mismatch(b, t);

	if (why != NULL)
		return why;
	if (t->range_start == RANGE_ABSENT)
		return "The server's 206 answer has no Content-Range.";
	if (t->range_start == RANGE_INVALID)
		return "The server's 206 answer has a Content-Range without a first byte.";
	if (t->range_start != from)
		return psprintf("The server's 206 answer starts at byte " INT64_FORMAT ", not at " INT64_FORMAT ".",
						t->range_start, from);
	if (b->req.range_end > 0 && t->range_last != b->req.range_end - 1)
		return psprintf("The server's 206 answer does not end at byte " INT64_FORMAT ".",
						b->req.range_end - 1);
	/* The rest of a body of known length: a shorter one would cut the export. */
	if (b->req.range_end <= 0 && b->resp.length > 0 && t->range_last != b->resp.length - 1)
		return psprintf("The server's 206 answer does not end at the body's last byte, " INT64_FORMAT ".",
						b->resp.length - 1);
	return NULL;
}

/*
 * Ends a range of a download in ranges whose answer is of another version
 * (a 200 to its If-Range, or a 206 of another validator), as changed: the
 * caller starts the whole download over, since bytes of two versions must
 * never be put together.  A 206 of the same version that is not the range
 * asked for is an error.  False if the answer continues the range.
 */
static bool
range_not_continued(HvcsvBody *b, Transfer *t, int64 from)
{
	const char *why;

	if (t->status == 200 || version_mismatch(b, t) != NULL)
	{
		b->changed = true;
		end_empty(b, t);
		return true;
	}
	why = partial_mismatch(b, t, from);
	if (why == NULL)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not download \"%s\" in ranges: the server answered another range",
					b->req.display_url),
			 errdetail("%s", why)));
	return true;
}

/* Notes what the first response says: which version of the export this is. */
static void
note_first_response(HvcsvBody *b, const Transfer *t)
{
	b->resp.status = t->status;
	b->encoded = hvcsv_decoder_encoded(t->decoder);
	strlcpy(b->resp.etag, t->etag, sizeof(b->resp.etag));
	strlcpy(b->resp.last_modified, t->last_modified, sizeof(b->resp.last_modified));
	strlcpy(b->resp.next_link, t->next_link, sizeof(b->resp.next_link));
	b->resp.next_link_too_long = t->next_link_too_long;
	b->resp.length = t->content_length;
	b->resp.accepts_ranges = t->accept_ranges;
	/* A body that must start over needs the body, not a 304. */
	b->req.if_none_match = NULL;
	b->req.if_modified_since = NULL;
}

/*
 * The first byte of the body, as the server sends it, that was not taken:
 * of a compressed file (or of one whose first bytes have not told yet),
 * the compressed bytes the unpacker took, which it goes on from; else the
 * bytes handed out.
 */
static int64
resume_offset(const HvcsvBody *b)
{
	if (hvcsv_unpacker_active(b->unpacker))
		return (int64) hvcsv_unpacker_input_bytes(b->unpacker);
	return b->base + b->resp.body_bytes;
}

/*
 * Tells whether the export answered 404 or 410, and the request takes
 * that as an answer (missing_ok): the body ends, empty, as missing.  The
 * same answer is otherwise an error of report_failure's.
 */
static bool
answered_missing(HvcsvBody *b, Transfer *t)
{
	if (!b->req.missing_ok || t->curl_result != CURLE_OK ||
		(t->status != 404 && t->status != 410))
		return false;
	b->resp.status = t->status;
	b->missing = true;
	end_empty(b, t);
	return true;
}

/*
 * Opens a transfer for what the body still lacks, retrying transient
 * failures, and waits for its first bytes (kept in b->pending).
 */
static void
connect_body(HvcsvBody *b)
{
	/* A range is always asked for as one, of the version it is part of. */
	bool		ranged = b->req.range_end > 0;

	for (;;)
	{
		int64		from = resume_offset(b);
		const char *validator = NULL;
		const char *mismatch;
		Transfer   *t;
		TransferEvent ev;
		MemoryContext old;

		if (ranged)
			validator = resume_validator(&b->resp);
		else if (from > 0 && b->encoded)
		{
			restart_body(b, "The body was compressed (Content-Encoding), and a compressed body cannot be resumed at a byte offset.");
			from = 0;
		}
		else if (from > 0 && (validator = resume_validator(&b->resp)) == NULL)
		{
			restart_body(b, "The server gave no ETag or Last-Modified to resume by.");
			from = 0;
		}
		/* A resumption may start while the caller is in a per-tuple context. */
		old = MemoryContextSwitchTo(b->cxt);
		ev = open_transfer(b, from, validator);
		t = b->t;
		MemoryContextSwitchTo(old);
		if (answered_missing(b, t))
			return;
		if (ranged && answer_expected(b, t, ev, from) && range_not_continued(b, t, from))
			return;
		if (!answer_expected(b, t, ev, from))
		{
			/*
			 * A compressed file may break before it decoded a byte: what
			 * it took is resumed, so its version must be known.
			 */
			if (from == 0 && status_has_body(t->status) && resume_offset(b) > 0)
				note_first_response(b, t);
			count_failure(b, t);
			continue;
		}

		if (from > 0 && t->status == 200)
		{
			/* The whole body again: no Range support, or a new version. */
			restart_body(b, "The server answered the Range request with the whole body: it cannot resume, or the export changed.");
			from = 0;
			if (t->hold_body)
			{
				/* Its first bytes were held: the file's decoder starts over with a new request. */
				transfer_end(t);
				b->t = NULL;
				continue;
			}
		}
		else if (from > 0 && (mismatch = partial_mismatch(b, t, from)) != NULL)
		{
			transfer_end(t);
			b->t = NULL;
			restart_body(b, mismatch);
			continue;
		}
		if (from == 0 && !ranged)
			note_first_response(b, t);
		/* It continues the file: its bytes may reach the unpacker now. */
		t->hold_body = false;
		t->held = false;
		if (ev == TRANSFER_DONE)
			b->ended = true;
		return;
	}
}

/*
 * Sends req, in group (or in a group of its own if NULL), without waiting
 * for an answer: hvcsv_body_connect does.  on_restart, if not NULL, is
 * called with the reason when the body must start over from its first
 * byte, and may refuse by raising an error; without it, a body that cannot
 * be resumed is an error.
 */
HvcsvBody *
hvcsv_body_start(const HvcsvRequest *req, HvcsvTransferGroup *group,
				 void (*on_restart) (void *arg, const char *why), void *arg)
{
	HvcsvBody  *b = palloc0(sizeof(HvcsvBody));

	b->cxt = CurrentMemoryContext;
	b->group = group ? group : hvcsv_transfer_group_create();
	b->req = *req;
	if (!hvcsv_url_parse(req->url, &b->origin))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not fetch \"%s\": the URL cannot be parsed", req->display_url)));
	/* A URL that does not parse leaves trusted without a host. */
	if (req->trusted_url)
		(void) hvcsv_url_parse(req->trusted_url, &b->trusted);
	b->on_restart = on_restart;
	b->restart_arg = arg;
	b->unpacker = hvcsv_unpacker_create(req->compression);
	begin_hop(b, &b->origin, 0, 0, NULL);
	return b;
}

/*
 * Tells whether a body just begun (hvcsv_body_connect) would be resumed
 * after a break rather than started over: a 200 answer with Accept-Ranges:
 * bytes, a validator for If-Range, and no Content-Encoding.  A caller that
 * hands bytes on before the body ends needs that, since a start over would
 * hand them out twice.
 */
bool
hvcsv_body_resumable(const HvcsvBody *b)
{
	return b->resp.status == 200 && b->resp.accepts_ranges && !b->encoded &&
		resume_validator(&b->resp) != NULL;
}

/*
 * Tells whether a body just begun (hvcsv_body_connect, nothing read yet)
 * may be downloaded in ranges (see ranged_fetch.c): a 200 answer of known
 * length, Accept-Ranges: bytes, a validator for If-Range, and bytes that
 * are the file as it is, since a range cannot be decoded apart from what
 * comes before it: no Content-Encoding, and a file whose first bytes said
 * it is not compressed.
 */
bool
hvcsv_body_splittable(const HvcsvBody *b)
{
	return hvcsv_body_resumable(b) && b->resp.length > 0 &&
		hvcsv_unpacker_format(b->unpacker) == HVCSV_COMPRESSION_NONE &&
		b->resp.body_bytes == 0 && !b->ended;
}

/*
 * Makes the body one range of a download in ranges: it ends before byte
 * end, and a break resumes it with "Range: bytes=FROM-(end-1)" guarded by
 * If-Range.  An answer of another version ends it as changed
 * (hvcsv_body_changed).  The caller stops reading at end; the answer that
 * is open may go on past it.
 */
void
hvcsv_body_limit(HvcsvBody *b, int64 end)
{
	b->req.range_end = end;
}

/*
 * Starts the range [first, end) of the body `whole` (a splittable body),
 * in its group: the same request, of the same version.  Its first answer
 * is waited for by hvcsv_body_connect, as for hvcsv_body_start.
 */
HvcsvBody *
hvcsv_body_start_range(const HvcsvBody *whole, int64 first, int64 end)
{
	HvcsvBody  *b = palloc0(sizeof(HvcsvBody));

	b->cxt = CurrentMemoryContext;
	b->group = whole->group;
	b->req = whole->req;
	b->req.range_end = end;
	b->origin = whole->origin;
	b->trusted = whole->trusted;
	b->resp = whole->resp;
	b->resp.body_bytes = 0;
	b->base = first;
	b->unpacker = hvcsv_unpacker_create(HVCSV_COMPRESSION_NONE);
	begin_hop(b, &b->origin, 0, first, resume_validator(&b->resp));
	return b;
}

/* Tells whether a range ended because the export changed (see hvcsv_body_limit). */
bool
hvcsv_body_changed(const HvcsvBody *b)
{
	return b->changed;
}

/* The transfer group the body's transfers run in. */
HvcsvTransferGroup *
hvcsv_body_group(const HvcsvBody *b)
{
	return b->group;
}

/*
 * Waits for the answer to a body started by hvcsv_body_start, following
 * redirects and retrying as hvcsv_body_open does.
 */
void
hvcsv_body_connect(HvcsvBody *b)
{
	connect_body(b);
}

/*
 * Tells whether the body's next step (hvcsv_body_connect once, then
 * hvcsv_body_read) would return without waiting for the network, unless
 * it must retry or resume.
 */
bool
hvcsv_body_ready(HvcsvBody *b)
{
	return b->pending_len > 0 || b->ended || b->t == NULL || transfer_ready(b->t);
}

/* Tells whether the export answered 404 or 410, with the request's missing_ok. */
bool
hvcsv_body_missing(const HvcsvBody *b)
{
	return b->missing;
}

/* Sends req and waits for the body to begin; see hvcsv_body_start. */
HvcsvBody *
hvcsv_body_open(const HvcsvRequest *req, void (*on_restart) (void *arg, const char *why), void *arg)
{
	HvcsvBody  *b = hvcsv_body_start(req, NULL, on_restart, arg);

	connect_body(b);
	return b;
}

/*
 * Waits until some body bytes are pending; false at the body's end.  A
 * break is resumed (or restarted) here, at the first byte not handed out:
 * a transfer is read only when every byte it gave was handed out.
 */
static bool
body_wait(HvcsvBody *b)
{
	for (;;)
	{
		TransferEvent ev;

		if (b->pending_len > 0)
			return true;
		if (b->ended)
			return false;

		ev = transfer_read(b->t, &b->pending, &b->pending_len);
		if (ev == TRANSFER_DATA)
			continue;
		if (ev == TRANSFER_DONE)
		{
			b->ended = true;
			transfer_end(b->t);
			b->t = NULL;
			continue;
		}
		count_failure(b, b->t);
		connect_body(b);
	}
}

/* Hands out the first n pending bytes: they count as received for good. */
static void
hand_out(HvcsvBody *b, size_t n)
{
	b->pending += n;
	b->pending_len -= n;
	b->resp.body_bytes += n;
	b->failures = 0;
}

/*
 * Hands out the next piece of the body, valid until the next call; false at
 * its end.  Breaks are resumed (or restarted) unseen by the caller.
 */
bool
hvcsv_body_read(HvcsvBody *b, const char **data, size_t *len)
{
	if (!body_wait(b))
		return false;
	*data = b->pending;
	*len = b->pending_len;
	hand_out(b, *len);
	return true;
}

/*
 * Copies the next bytes of a body, at most size, into buf; 0 at its end.
 * A CsvReadFunction, for a reader with a buffer of its own.
 */
size_t
hvcsv_body_read_into(void *body, char *buf, size_t size)
{
	HvcsvBody  *b = (HvcsvBody *) body;
	size_t		n;

	if (!body_wait(b))
		return 0;
	n = Min(size, b->pending_len);
	memcpy(buf, b->pending, n);
	hand_out(b, n);
	return n;
}

/* What the response said, and how many body bytes were handed out. */
const HvcsvResponse *
hvcsv_body_response(const HvcsvBody *b)
{
	return &b->resp;
}

/*
 * How the file is compressed, as far as its first bytes told so far: AUTO
 * until they did (or nothing was read), NONE if it is not.
 */
HvcsvCompression
hvcsv_body_compression(const HvcsvBody *b)
{
	return hvcsv_unpacker_format(b->unpacker);
}

/* Stops the transfer, whether or not the body was read to its end. */
void
hvcsv_body_close(HvcsvBody *b)
{
	if (b->t)
		transfer_end(b->t);
	b->t = NULL;
}

/* Sets up libcurl and defines hvcsv_fdw.max_bytes. */
void
hvcsv_fetch_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "could not initialize libcurl");
	DefineCustomStringVariable("hvcsv_fdw.max_bytes",
							   "Largest response body hvcsv_fdw accepts, whatever a server's max_bytes says.",
							   "A size such as 10GB, counted in decoded bytes; -1 means no limit.",
							   &max_bytes_setting,
							   "10GB",
							   PGC_SUSET,
							   0,
							   check_max_bytes, assign_max_bytes, NULL);
}
