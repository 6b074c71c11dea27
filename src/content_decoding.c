/*-------------------------------------------------------------------------
 * content_decoding.c
 *	  Decodes a response body's Content-Encoding (gzip, x-gzip and deflate,
 *	  also stacked) with zlib, into a buffer the caller gives, never more
 *	  at a time than that buffer holds.
 *
 * libcurl could decode too, but it inflates each piece it receives whole
 * and keeps whatever the caller cannot take yet: a few kilobytes of a
 * highly compressed body become megabytes held in memory while a reader is
 * paused.  Here the caller pulls: compressed bytes wait until there is
 * room for what they decode to, so memory stays bounded whatever the body
 * inflates to.  Every layer of a stacked encoding has a buffer of its own.
 *
 * Functions here may be called from libcurl's callbacks, so they never
 * raise an ERROR: they report a failure, which the caller reports after
 * libcurl has returned.  zlib's state and the buffers are malloc'd and
 * freed by hvcsv_decoder_end, which a memory context reset callback also
 * calls, so an ERROR leaks nothing.  Which codings are asked for, and what
 * a failure is called in messages, is fetch.c's business.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zlib.h>

#include "http.h"

#define MAX_LAYERS HVCSV_MAX_CODINGS
/* Input buffer of an inner layer (filled by the layer below it). */
#define LAYER_BUFFER_SIZE (64 * 1024)
/* Input buffer of the outer layer: libcurl's pieces are at most this size. */
#define RESPONSE_BUFFER_SIZE (16 * 1024)
/*
 * Input bytes all layers may decode in one hvcsv_decoder_read.  Data can
 * decode to nothing (empty deflate blocks) while each layer above it
 * inflates a thousandfold, so a read that only fills its buffer would be
 * unbounded; the caller checks for interrupts between reads.
 */
#define READ_WORK_LIMIT (1024 * 1024)

typedef enum Coding
{
	CODING_GZIP,				/* gzip or x-gzip: one or more gzip members */
	CODING_DEFLATE				/* zlib format, or raw deflate as some servers send */
} Coding;

/* One coding being undone; its input is the output of the layer before. */
typedef struct Layer
{
	Coding		coding;
	const char *name;			/* as a message names it */
	z_stream	z;				/* next_in/avail_in: input not yet decoded */
	bool		z_ready;		/* inflateInit2 was called */
	bool		ended;			/* the coding's data ended */
	unsigned char *in;			/* malloc'd input buffer */
	size_t		in_size;
} Layer;

struct HvcsvDecoder
{
	int			nlayers;		/* 0: nothing to decode */
	Layer		layers[MAX_LAYERS]; /* [0] decodes the response's bytes */
	HvcsvDecodeFailure failure;
	size_t		work;			/* input bytes decoded in this read */
	bool		more;			/* the read stopped at READ_WORK_LIMIT */
	uint64		inner_bytes;	/* bytes the inner layers decoded, in all */
	char		coding[64];		/* the coding a failure concerns */
	const char *why;			/* zlib's message, or NULL */
	MemoryContextCallback cleanup;
};

/* Frees zlib's state and the buffers; safe to call more than once. */
void
hvcsv_decoder_end(HvcsvDecoder *d)
{
	for (int i = 0; i < d->nlayers; i++)
	{
		Layer	   *l = &d->layers[i];

		if (l->z_ready)
			inflateEnd(&l->z);
		free(l->in);
		l->z_ready = false;
		l->in = NULL;
	}
	d->nlayers = 0;
}

/* Memory context callback: an ERROR while decoding leaks nothing. */
static void
decoder_cleanup(void *arg)
{
	hvcsv_decoder_end((HvcsvDecoder *) arg);
}

/* Makes a decoder with nothing to decode, freed with CurrentMemoryContext. */
HvcsvDecoder *
hvcsv_decoder_create(void)
{
	HvcsvDecoder *d = palloc0(sizeof(HvcsvDecoder));

	d->cleanup.func = decoder_cleanup;
	d->cleanup.arg = d;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &d->cleanup);
	return d;
}

/* Notes a failure and the coding it concerns; returns false. */
static bool
fail(HvcsvDecoder *d, HvcsvDecodeFailure failure, const char *coding, size_t len)
{
	d->failure = failure;
	len = Min(len, sizeof(d->coding) - 1);
	memcpy(d->coding, coding, len);
	d->coding[len] = '\0';
	return false;
}

/* Tells whether every byte is an HTTP token character (RFC 9110 tchar). */
static bool
is_token(const char *s, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(tchar, s[i]) == NULL)
			return false;
	return len > 0;
}

/* Adds the layer that undoes a coding applied after all those seen so far. */
static void
add_layer(HvcsvDecoder *d, const char *name, size_t len)
{
	bool		gzip = (len == 4 && pg_strncasecmp(name, "gzip", 4) == 0) ||
		(len == 6 && pg_strncasecmp(name, "x-gzip", 6) == 0);
	bool		deflate = len == 7 && pg_strncasecmp(name, "deflate", 7) == 0;
	Layer	   *l;

	if (!is_token(name, len))
		(void) fail(d, HVCSV_DECODE_NOT_TOKEN, "", 0);
	else if (d->nlayers == MAX_LAYERS)
		(void) fail(d, HVCSV_DECODE_TOO_MANY, "", 0);
	else if (!gzip && !deflate)
		(void) fail(d, HVCSV_DECODE_UNSUPPORTED, name, len);
	if (d->failure != HVCSV_DECODE_NONE)
		return;
	/* Decoding undoes the last coding applied first: shift the others up. */
	memmove(&d->layers[1], &d->layers[0], d->nlayers * sizeof(Layer));
	l = &d->layers[0];
	memset(l, 0, sizeof(Layer));
	l->coding = gzip ? CODING_GZIP : CODING_DEFLATE;
	l->name = gzip ? "gzip" : "deflate";
	d->nlayers++;
}

/*
 * Finds the next item of a comma-separated header value in [*p, end),
 * without surrounding blanks (or the line's CRLF); false at the end.
 */
static bool
next_item(const char **p, const char *end, const char **item, size_t *len)
{
	while (*p < end)
	{
		const char *comma = memchr(*p, ',', end - *p);
		const char *stop = comma ? comma : end;
		const char *last = stop;
		const char *first = *p;

		*p = comma ? comma + 1 : end;
		while (first < stop && (*first == ' ' || *first == '\t'))
			first++;
		while (last > first && (last[-1] == ' ' || last[-1] == '\t' ||
								last[-1] == '\r' || last[-1] == '\n'))
			last--;
		if (last > first)
		{
			*item = first;
			*len = last - first;
			return true;
		}
	}
	return false;
}

/* Tells whether a coding is "identity", the absence of one. */
static bool
is_identity(const char *name, size_t len)
{
	return len == 8 && pg_strncasecmp(name, "identity", 8) == 0;
}

/*
 * Takes the value of a Content-Encoding header: the codings applied to the
 * body, in the order they were applied.  Several headers add up, as one
 * list.  A coding that cannot be undone is noted, and reported only if the
 * body is read (an error page may be in any).
 */
void
hvcsv_decoder_add_codings(HvcsvDecoder *d, const char *list, size_t len)
{
	const char *p = list;
	const char *name;
	size_t		name_len;

	while (d->failure == HVCSV_DECODE_NONE && next_item(&p, list + len, &name, &name_len))
		if (!is_identity(name, name_len))
			add_layer(d, name, name_len);
}

/*
 * Checks the value of a Transfer-Encoding header.  libcurl undoes chunked
 * itself; any other transfer coding was not asked for (no TE header is
 * sent), and libcurl would inflate it whole, in memory.  Copies the first
 * other coding to coding (characters that are not a token's as '?'), or
 * leaves it empty.
 */
void
hvcsv_unasked_transfer_coding(const char *list, size_t len, char *coding, size_t size)
{
	const char *p = list;
	const char *name;
	size_t		name_len;

	while (next_item(&p, list + len, &name, &name_len))
	{
		if (is_identity(name, name_len) ||
			(name_len == 7 && pg_strncasecmp(name, "chunked", 7) == 0))
			continue;
		name_len = Min(name_len, size - 1);
		for (size_t i = 0; i < name_len; i++)
			coding[i] = is_token(name + i, 1) ? name[i] : '?';
		coding[name_len] = '\0';
		return;
	}
}

/* Forgets every coding: a new response begins. */
void
hvcsv_decoder_reset(HvcsvDecoder *d)
{
	hvcsv_decoder_end(d);
	d->failure = HVCSV_DECODE_NONE;
	d->why = NULL;
	d->inner_bytes = 0;
	d->more = false;
}

/* Tells whether the body is encoded: a coding other than identity was named. */
bool
hvcsv_decoder_encoded(const HvcsvDecoder *d)
{
	return d->nlayers > 0 || d->failure != HVCSV_DECODE_NONE;
}

/*
 * Moves a layer's undecoded input to the start of its buffer, which holds
 * at least room more bytes after it; false if memory runs out.
 */
static bool
make_room(Layer *l, size_t room)
{
	size_t		pending = l->z.avail_in;

	if (pending + room > l->in_size)
	{
		unsigned char *bigger = malloc(pending + room);

		if (bigger == NULL)
			return false;
		if (pending > 0)
			memcpy(bigger, l->z.next_in, pending);
		free(l->in);
		l->in = bigger;
		l->in_size = pending + room;
	}
	else if (pending > 0 && l->z.next_in != l->in)
		memmove(l->in, l->z.next_in, pending);
	l->z.next_in = l->in;
	return true;
}

/*
 * Takes bytes of the response (compressed), after those not yet decoded.
 * The caller should first read what the decoder has, so that they are few.
 */
bool
hvcsv_decoder_feed(HvcsvDecoder *d, const char *data, size_t len)
{
	Layer	   *l = &d->layers[0];

	if (d->failure != HVCSV_DECODE_NONE)
		return false;
	if (!make_room(l, Max(len, RESPONSE_BUFFER_SIZE)))
		return fail(d, HVCSV_DECODE_NO_MEMORY, l->name, strlen(l->name));
	memcpy(l->in + l->z.avail_in, data, len);
	l->z.avail_in += len;
	return true;
}

/*
 * Starts zlib on a layer.  Deflate comes in two forms: the zlib format the
 * standard names, and raw deflate, which some servers send instead; the
 * first two bytes tell them apart (a zlib header names the deflate method
 * and, read as a 16-bit number, is a multiple of 31).
 */
static bool
layer_init(HvcsvDecoder *d, Layer *l)
{
	int			window_bits = 15 + 16;	/* gzip */

	if (l->coding == CODING_DEFLATE)
	{
		unsigned char b0 = l->z.next_in[0];
		unsigned char b1 = l->z.next_in[1];

		window_bits = ((b0 & 0x0f) == Z_DEFLATED && ((b0 << 8) | b1) % 31 == 0) ? 15 : -15;
	}
	if (inflateInit2(&l->z, window_bits) != Z_OK)
		return fail(d, HVCSV_DECODE_NO_MEMORY, l->name, strlen(l->name));
	l->z_ready = true;
	return true;
}

/* Notes what zlib said about bad data; returns false. */
static bool
bad_data(HvcsvDecoder *d, Layer *l, int rc)
{
	d->why = rc == Z_NEED_DICT ? "the data needs a preset dictionary" : l->z.msg;
	if (rc == Z_MEM_ERROR)
		return fail(d, HVCSV_DECODE_NO_MEMORY, l->name, strlen(l->name));
	return fail(d, HVCSV_DECODE_BAD_DATA, l->name, strlen(l->name));
}

/*
 * Bytes after the end of a layer's data: the next member of a gzip body
 * (gzip allows several, decoded one after another); after deflate, bad
 * data.
 */
static bool
layer_continue(HvcsvDecoder *d, Layer *l)
{
	if (l->coding != CODING_GZIP)
	{
		d->why = "data follows the end of the deflate stream";
		return fail(d, HVCSV_DECODE_BAD_DATA, l->name, strlen(l->name));
	}
	if (inflateReset(&l->z) != Z_OK)
		return bad_data(d, l, Z_STREAM_ERROR);
	l->ended = false;
	return true;
}

static bool layer_read(HvcsvDecoder *d, int k, unsigned char *out, size_t size,
					   size_t *produced);

/* Fills layer k's input from the layer below it; *got says how much. */
static bool
refill(HvcsvDecoder *d, int k, size_t *got)
{
	Layer	   *l = &d->layers[k];

	*got = 0;
	if (k == 0)
		return true;			/* the response's bytes come from feed */
	if (!make_room(l, LAYER_BUFFER_SIZE - l->z.avail_in))
		return fail(d, HVCSV_DECODE_NO_MEMORY, l->name, strlen(l->name));
	if (!layer_read(d, k - 1, l->in + l->z.avail_in, l->in_size - l->z.avail_in, got))
		return false;
	l->z.avail_in += *got;
	d->inner_bytes += *got;
	return true;
}

/* Tells whether a layer has input it can decode now. */
static bool
layer_has_input(const Layer *l)
{
	/* A deflate layer needs two bytes to choose its form. */
	return l->z.avail_in >= (l->z_ready || l->coding == CODING_GZIP ? 1 : 2);
}

/* Decodes up to size bytes of layer k's output into out. */
static bool
layer_read(HvcsvDecoder *d, int k, unsigned char *out, size_t size, size_t *produced)
{
	Layer	   *l = &d->layers[k];

	*produced = 0;
	while (*produced < size && !d->more)
	{
		int			rc;
		size_t		avail_in;

		if (!layer_has_input(l))
		{
			size_t		got;

			if (!refill(d, k, &got))
				return false;
			if (got == 0)
				break;
			continue;
		}
		if (!l->z_ready && !layer_init(d, l))
			return false;
		if (l->ended && !layer_continue(d, l))
			return false;
		l->z.next_out = out + *produced;
		l->z.avail_out = size - *produced;
		avail_in = l->z.avail_in;
		rc = inflate(&l->z, Z_NO_FLUSH);
		*produced = size - l->z.avail_out;
		d->work += avail_in - l->z.avail_in;
		d->more = d->work > READ_WORK_LIMIT;
		if (rc == Z_STREAM_END)
			l->ended = true;
		else if (rc == Z_BUF_ERROR)
			break;				/* no progress possible: wait for input */
		else if (rc != Z_OK)
			return bad_data(d, l, rc);
	}
	return true;
}

/*
 * Decodes up to size bytes into out; *produced says how many.  Fewer than
 * size means the decoder needs more of the response first.  False if the
 * data is not what its coding says.
 */
bool
hvcsv_decoder_read(HvcsvDecoder *d, char *out, size_t size, size_t *produced)
{
	*produced = 0;
	d->work = 0;
	d->more = false;
	if (d->failure != HVCSV_DECODE_NONE)
		return false;
	if (d->nlayers == 0)
		return true;
	return layer_read(d, d->nlayers - 1, (unsigned char *) out, size, produced);
}

/* Tells whether the last read stopped before decoding all it could. */
bool
hvcsv_decoder_has_more(const HvcsvDecoder *d)
{
	return d->more;
}

/*
 * The bytes that layers under the last one decoded, in all: they cost as
 * much work as the body's own, so max_bytes limits them too.
 */
uint64
hvcsv_decoder_inner_bytes(const HvcsvDecoder *d)
{
	return d->inner_bytes;
}

/*
 * At the end of the response, after everything was read: true if every
 * layer's data ended, false (a truncated body) if not.
 */
bool
hvcsv_decoder_finish(HvcsvDecoder *d)
{
	for (int i = 0; i < d->nlayers; i++)
	{
		Layer	   *l = &d->layers[i];

		if (!l->ended || l->z.avail_in > 0)
			return fail(d, HVCSV_DECODE_TRUNCATED, l->name, strlen(l->name));
	}
	return true;
}

/*
 * What went wrong: the failure, the coding it concerns (empty for the list
 * as a whole) and zlib's words (NULL if none).
 */
HvcsvDecodeFailure
hvcsv_decoder_failure(const HvcsvDecoder *d, const char **coding, const char **why)
{
	*coding = d->coding;
	*why = d->why;
	return d->failure;
}
