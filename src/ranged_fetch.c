/*-------------------------------------------------------------------------
 * ranged_fetch.c
 *	  One body downloaded as several byte ranges side by side, for a server
 *	  that limits the rate of each connection.
 *
 * The first request asks for the whole body.  When its answer allows it
 * (hvcsv_body_splittable: a known length, Accept-Ranges: bytes, a
 * validator, the file's own bytes), the body is cut into up to
 * download_connections ranges of at least MIN_RANGE_BYTES: the first
 * answer goes on as the first range, and every other range is asked for
 * with "Range: bytes=A-B" and If-Range, in the same transfer group.  Each
 * range is a body of its own (fetch.c): it retries and resumes on its own,
 * from its own next byte, so a break costs only the rest of that range.
 *
 * The pieces come in no order, each with its offset in the body, for the
 * caller to write in place.  A range whose answer is of another version
 * (a 200 to its If-Range, or a 206 with another validator) ends the whole
 * download as changed: the caller throws away what it wrote and starts
 * over, since bytes of two versions must never be put together.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "http.h"

/*
 * The smallest range worth a connection of its own: at the rates that
 * make ranges worth it, it takes several times what a new connection's
 * handshakes and slow start cost.  A smaller body is downloaded whole.
 */
#define MIN_RANGE_BYTES (4 * 1024 * 1024)

/* One range [first, end) of the body, and how much of it was handed out. */
typedef struct Range
{
	HvcsvBody  *body;
	int64		first;
	int64		end;
	int64		taken;
	bool		connected;		/* its first answer was taken */
	bool		finished;		/* every byte of it was handed out */
	bool		closed;			/* and its transfer was stopped */
} Range;

struct HvcsvRanged
{
	HvcsvTransferGroup *group;
	const char *display_url;	/* for messages */
	int			nranges;
	int			next;			/* the range looked at first: each gets its turn */
	bool		changed;		/* a range found another version */
	Range		ranges[FLEXIBLE_ARRAY_MEMBER];
};

/*
 * Cuts the body `whole` (of display_url), just begun, into ranges and
 * starts all but the first; NULL if it is to be downloaded whole: the
 * server cannot send ranges of it, it is too small, or connections is 1.
 */
HvcsvRanged *
hvcsv_ranged_start(HvcsvBody *whole, const char *display_url, int connections)
{
	int64		length = hvcsv_body_response(whole)->length;
	int			n;
	int64		size;
	HvcsvRanged *r;

	if (connections < 2 || !hvcsv_body_splittable(whole))
		return NULL;
	n = (int) Min((int64) connections, length / MIN_RANGE_BYTES);
	if (n < 2)
		return NULL;
	size = length / n;
	r = palloc0(offsetof(HvcsvRanged, ranges) + n * sizeof(Range));
	r->group = hvcsv_body_group(whole);
	r->display_url = display_url;
	r->nranges = n;
	for (int i = 0; i < n; i++)
	{
		Range	   *g = &r->ranges[i];

		g->first = i * size;
		g->end = (i == n - 1) ? length : (i + 1) * size;
		if (i == 0)
		{
			g->body = whole;
			g->connected = true;
			hvcsv_body_limit(whole, g->end);
		}
		else
			g->body = hvcsv_body_start_range(whole, g->first, g->end);
	}
	return r;
}

/*
 * Tells whether hvcsv_ranged_read would return without waiting for the
 * network: a range has something to take, or none is left.
 */
bool
hvcsv_ranged_ready(HvcsvRanged *r)
{
	bool		left = false;

	for (int i = 0; i < r->nranges; i++)
	{
		Range	   *g = &r->ranges[i];

		if (g->finished)
			continue;
		if (hvcsv_body_ready(g->body))
			return true;
		left = true;
	}
	return !left;
}

/*
 * Stops the transfers of the ranges that handed out all their bytes (the
 * first range's answer goes on past them): only now, since the last piece
 * handed out lives in its transfer's buffer until the next read.
 */
static void
close_finished(HvcsvRanged *r)
{
	for (int i = 0; i < r->nranges; i++)
	{
		Range	   *g = &r->ranges[i];

		if (g->finished && !g->closed)
		{
			hvcsv_body_close(g->body);
			g->closed = true;
		}
	}
}

/*
 * Takes what one range has: its first answer, or its next bytes, cut at
 * its end (*len 0 when nothing was handed out).  False if the export
 * changed.
 */
static bool
take_range(HvcsvRanged *r, Range *g, const char **data, size_t *len, int64 *offset)
{
	*len = 0;
	if (!g->connected)
	{
		hvcsv_body_connect(g->body);
		g->connected = true;
		r->changed = hvcsv_body_changed(g->body);
		return !r->changed;
	}
	if (!hvcsv_body_read(g->body, data, len))
	{
		r->changed = hvcsv_body_changed(g->body);
		if (!r->changed)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not download \"%s\" in ranges: a range ended early",
							r->display_url),
					 errdetail("The range from byte " INT64_FORMAT " ended after " INT64_FORMAT " of its " INT64_FORMAT " bytes.",
							   g->first, g->taken, g->end - g->first)));
		return false;
	}
	*len = (size_t) Min((int64) *len, g->end - g->first - g->taken);
	*offset = g->first + g->taken;
	g->taken += *len;
	g->finished = g->taken == g->end - g->first;
	return true;
}

/*
 * Takes the next piece of the body: *len bytes at *offset (*len may be 0
 * after a step that handed out nothing, such as a range's first answer).
 * Waits for the network only if no range has anything.  False once every
 * range was taken whole, or the export changed (hvcsv_ranged_changed).
 */
bool
hvcsv_ranged_read(HvcsvRanged *r, const char **data, size_t *len, int64 *offset)
{
	close_finished(r);
	for (;;)
	{
		bool		left = false;

		for (int i = 0; i < r->nranges; i++)
		{
			int			k = (r->next + i) % r->nranges;
			Range	   *g = &r->ranges[k];

			if (g->finished)
				continue;
			left = true;
			if (!hvcsv_body_ready(g->body))
				continue;
			r->next = (k + 1) % r->nranges;
			return take_range(r, g, data, len, offset);
		}
		if (!left)
			return false;
		hvcsv_transfer_group_wait(r->group);
	}
}

/*
 * The bytes at the start of the body that were all handed out: up to the
 * first range not yet taken whole, and what was taken of it.
 */
int64
hvcsv_ranged_contiguous(const HvcsvRanged *r)
{
	for (int i = 0; i < r->nranges; i++)
	{
		const Range *g = &r->ranges[i];

		if (!g->finished)
			return g->first + g->taken;
	}
	return r->ranges[r->nranges - 1].end;
}

/* Tells whether the download ended because the export changed. */
bool
hvcsv_ranged_changed(const HvcsvRanged *r)
{
	return r->changed;
}

/* Stops every range; the bytes they had not handed out are dropped. */
void
hvcsv_ranged_close(HvcsvRanged *r)
{
	for (int i = 0; i < r->nranges; i++)
		hvcsv_body_close(r->ranges[i].body);
}
