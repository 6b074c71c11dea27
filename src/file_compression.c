/*-------------------------------------------------------------------------
 * file_compression.c
 *	  Undoes the compression of the exported file itself (gzip, zstd, bzip2,
 *	  xz, or a zip archive holding one file), as the body arrives, into a
 *	  buffer the caller gives, never more at a time than that buffer holds.
 *
 * Exports and object stores serve a .csv.gz or a .zip as a file: no
 * Content-Encoding says so, and the content type is often generic.  The
 * body's first bytes tell (every one of these formats begins with a magic
 * number), unless the compression option names the format or "none".  The
 * file's compression sits under any Content-Encoding: that is undone first
 * (content_decoding.c), and what it gives is the input here.
 *
 * Unlike a Content-Encoding, the file's compression is part of the file,
 * so a Range request counts its bytes: a broken transfer resumes at the
 * number of compressed bytes taken so far (hvcsv_unpacker_input_bytes),
 * and the decoder's state, which lives as long as the body, carries on.
 *
 * The caller pulls, as with content_decoding.c: compressed bytes wait
 * until there is room for what they decode to.  Functions here may be
 * called from libcurl's callbacks, so they never raise an ERROR: they note
 * a failure, which the caller reports after libcurl has returned.  The
 * libraries' state and the buffers are malloc'd and freed by
 * hvcsv_unpacker_end, which a memory context reset callback also calls, so
 * an ERROR leaks nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "http.h"

/* Input buffer: filled by libcurl's pieces, or by the Content-Encoding decoder. */
#define INPUT_BUFFER_SIZE (64 * 1024)
/*
 * Input bytes one hvcsv_unpacker_read may decode: data can decode to
 * nothing (zstd's skippable frames, empty deflate blocks), so a read that
 * only stops when its output is full would be unbounded; the caller checks
 * for interrupts between reads.
 */
#define READ_WORK_LIMIT (1024 * 1024)
/*
 * The memory a file may make its decoder use, whatever its header asks
 * for: zstd's window as a power of two (the zstd tool's own limit, unless
 * told more), and all of xz's decoder (its strongest preset fits well
 * within).  The hint of the error that reports them names both.
 */
#define WINDOW_LOG_MAX 27
#define XZ_MEMORY_LIMIT ((uint64) 256 * 1024 * 1024)

/* A zip archive: where in it the bytes being read are. */
typedef enum ZipPart
{
	ZIP_HEADER,					/* the file's local header */
	ZIP_DATA,					/* the file's data */
	ZIP_DESCRIPTOR,				/* its CRC and sizes, after the data */
	ZIP_NEXT,					/* what follows the file */
	ZIP_DIRECTORY				/* the central directory: not needed */
} ZipPart;

typedef struct ZipState
{
	ZipPart		part;
	uint16		flags;
	uint16		method;			/* 0 stored, 8 deflate */
	bool		zip64;			/* sizes are 64-bit numbers */
	uint32		crc;			/* as the archive says */
	uint64		size;			/* decoded size, as the archive says */
	uint64		stored_left;	/* bytes of a stored file still to copy */
	uint32		crc_seen;		/* of the bytes decoded */
	uint64		size_seen;
} ZipState;

struct HvcsvUnpacker
{
	HvcsvCompression asked;		/* the compression option */
	HvcsvCompression format;	/* AUTO until the first bytes tell */
	unsigned char *in;			/* malloc'd input buffer */
	size_t		in_size;
	size_t		in_start;		/* the first byte not yet decoded */
	size_t		in_len;			/* bytes not yet decoded */
	bool		input_ended;	/* the body has no more bytes */
	uint64		input_bytes;	/* taken, in all: the offset to resume at */
	size_t		work;			/* input bytes decoded in this read */
	bool		more;			/* the read stopped at READ_WORK_LIMIT */

	bool		ready;			/* the format's library state is set up */
	bool		ended;			/* at the end of a member, frame or stream */
	z_stream	z;				/* gzip, and a zip's deflated file */
	ZSTD_DStream *zstd;
	bz_stream	bz;
	lzma_stream xz;
	ZipState	zip;

	HvcsvUnpackFailure failure;
	const char *why;			/* what went wrong, or NULL */
	char		why_text[128];	/* why, when it is made up here */
	MemoryContextCallback cleanup;
};

/* Frees the libraries' state; the input stays. */
static void
stop_format(HvcsvUnpacker *u)
{
	if (!u->ready)
		return;
	switch (u->format)
	{
		case HVCSV_COMPRESSION_GZIP:
		case HVCSV_COMPRESSION_ZIP:
			inflateEnd(&u->z);
			break;
		case HVCSV_COMPRESSION_ZSTD:
			ZSTD_freeDStream(u->zstd);
			u->zstd = NULL;
			break;
		case HVCSV_COMPRESSION_BZIP2:
			BZ2_bzDecompressEnd(&u->bz);
			break;
		case HVCSV_COMPRESSION_XZ:
			lzma_end(&u->xz);
			break;
		default:
			break;
	}
	u->ready = false;
}

/* Frees the libraries' state and the buffer; safe to call more than once. */
void
hvcsv_unpacker_end(HvcsvUnpacker *u)
{
	stop_format(u);
	free(u->in);
	u->in = NULL;
	u->in_size = 0;
	u->in_start = 0;
	u->in_len = 0;
}

/* Memory context callback: an ERROR while decoding leaks nothing. */
static void
unpacker_cleanup(void *arg)
{
	hvcsv_unpacker_end((HvcsvUnpacker *) arg);
}

/* Forgets the body read so far: it starts over from its first byte. */
void
hvcsv_unpacker_restart(HvcsvUnpacker *u)
{
	hvcsv_unpacker_end(u);
	u->format = u->asked == HVCSV_COMPRESSION_NONE ? HVCSV_COMPRESSION_NONE :
		HVCSV_COMPRESSION_AUTO;
	u->input_ended = false;
	u->input_bytes = 0;
	u->ended = false;
	u->failure = HVCSV_UNPACK_NONE;
	u->why = NULL;
}

/*
 * Makes an unpacker for the compression option's value, freed with
 * CurrentMemoryContext.
 */
HvcsvUnpacker *
hvcsv_unpacker_create(HvcsvCompression asked)
{
	HvcsvUnpacker *u = palloc0(sizeof(HvcsvUnpacker));

	u->asked = asked;
	hvcsv_unpacker_restart(u);
	u->cleanup.func = unpacker_cleanup;
	u->cleanup.arg = u;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &u->cleanup);
	return u;
}

/* Notes a failure and why; returns false. */
static bool
fail(HvcsvUnpacker *u, HvcsvUnpackFailure failure, const char *why)
{
	u->failure = failure;
	u->why = why;
	return false;
}

/*
 * Tells whether the body's bytes go through the unpacker: a compressed
 * file, or one whose first bytes have not told yet.  Otherwise the caller
 * takes them as they are.
 */
bool
hvcsv_unpacker_active(const HvcsvUnpacker *u)
{
	return u->format != HVCSV_COMPRESSION_NONE || u->in_len > 0;
}

/* The format the body is in (AUTO while its first bytes have not told). */
HvcsvCompression
hvcsv_unpacker_format(const HvcsvUnpacker *u)
{
	return u->format;
}

/* Compressed bytes taken, in all: where the file's next byte is. */
uint64
hvcsv_unpacker_input_bytes(const HvcsvUnpacker *u)
{
	return u->input_bytes;
}

/* Tells whether the last read stopped before decoding all it could. */
bool
hvcsv_unpacker_has_more(const HvcsvUnpacker *u)
{
	return u->more;
}

/* Notes that the body has ended: a few first bytes that match no format are the file's. */
void
hvcsv_unpacker_input_ends(HvcsvUnpacker *u)
{
	u->input_ended = true;
}

/*
 * Moves the undecoded input to the start of the buffer, which then holds
 * at least room more bytes after it; false if memory runs out.
 */
static bool
make_room(HvcsvUnpacker *u, size_t room)
{
	if (u->in_len + room > u->in_size)
	{
		unsigned char *bigger = malloc(u->in_len + room);

		if (bigger == NULL)
			return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
		if (u->in_len > 0)
			memcpy(bigger, u->in + u->in_start, u->in_len);
		free(u->in);
		u->in = bigger;
		u->in_size = u->in_len + room;
	}
	else if (u->in_len > 0 && u->in_start > 0)
		memmove(u->in, u->in + u->in_start, u->in_len);
	u->in_start = 0;
	return true;
}

/* Adds n bytes, just put after the undecoded input, to it. */
static void
add_input(HvcsvUnpacker *u, size_t n)
{
	u->in_len += n;
	u->input_bytes += n;
}

/*
 * Takes bytes of the body, after those not yet decoded.  The caller should
 * first read what the unpacker has, so that they are few.
 */
bool
hvcsv_unpacker_feed(HvcsvUnpacker *u, const char *data, size_t len)
{
	if (u->failure != HVCSV_UNPACK_NONE)
		return false;
	if (!make_room(u, Max(len, INPUT_BUFFER_SIZE)))
		return false;
	memcpy(u->in + u->in_len, data, len);
	add_input(u, len);
	return true;
}

/* How far some first bytes match a format's magic number. */
typedef enum MagicMatch
{
	MAGIC_NO,
	MAGIC_PREFIX,				/* so far, but more bytes are needed */
	MAGIC_YES
} MagicMatch;

/*
 * Compares the first bytes of the body with a format's magic number: gzip
 * 1f 8b, zstd 28 b5 2f fd (or a skippable frame, 5? 2a 4d 18, which some
 * tools write first), bzip2 "BZh" and a block size digit, xz fd "7zXZ" 00,
 * zip "PK" 03 04 (an archive whose first entry is a file).  bzip2's four
 * bytes are text a CSV file may begin with, so the magic of its first block
 * (or of its end, for an empty file) must follow them: those six bytes are
 * no valid UTF-8.
 */
static MagicMatch
bzip2_magic(const unsigned char *p, size_t len)
{
	static const unsigned char block[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
	static const unsigned char end[] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};
	bool		may_be_block = true;
	bool		may_be_end = true;

	for (size_t i = 0; i < len && i < 10; i++)
	{
		if (i < 3 ? p[i] != (unsigned char) "BZh"[i] :
			i == 3 ? p[i] < '1' || p[i] > '9' : false)
			return MAGIC_NO;
		if (i >= 4)
		{
			may_be_block &= p[i] == block[i - 4];
			may_be_end &= p[i] == end[i - 4];
			if (!may_be_block && !may_be_end)
				return MAGIC_NO;
		}
	}
	return len >= 10 ? MAGIC_YES : MAGIC_PREFIX;
}

static MagicMatch
magic_match(HvcsvCompression format, const unsigned char *p, size_t len)
{
	const char *magic = NULL;
	size_t		magic_len = 0;
	size_t		n;

	switch (format)
	{
		case HVCSV_COMPRESSION_GZIP:
			magic = "\x1f\x8b";
			magic_len = 2;
			break;
		case HVCSV_COMPRESSION_ZSTD:
			magic = (len > 0 && (p[0] & 0xf0) == 0x50) ? "\x50\x2a\x4d\x18" : "\x28\xb5\x2f\xfd";
			magic_len = 4;
			break;
		case HVCSV_COMPRESSION_BZIP2:
			return bzip2_magic(p, len);
		case HVCSV_COMPRESSION_XZ:
			magic = "\xfd" "7zXZ";
			magic_len = 6;		/* the string's terminating zero is the sixth byte */
			break;
		case HVCSV_COMPRESSION_ZIP:
			magic = "PK\x03\x04";
			magic_len = 4;
			break;
		default:
			return MAGIC_NO;
	}
	n = Min(len, magic_len);
	for (size_t i = 0; i < n; i++)
	{
		/* The zstd skippable frame's first byte varies in its low bits. */
		bool		any_low = format == HVCSV_COMPRESSION_ZSTD && i == 0 && magic[0] == 0x50;

		if ((any_low ? (p[i] & 0xf0) : p[i]) != (unsigned char) magic[i])
			return MAGIC_NO;
	}
	return n == magic_len ? MAGIC_YES : MAGIC_PREFIX;
}

/*
 * Decides the format from the first bytes, once there are enough of them
 * (or the body has ended); false if a format was asked for and the body
 * does not begin as it does.
 */
static bool
decide_format(HvcsvUnpacker *u)
{
	/* No input may mean no buffer yet: no pointer into it, then. */
	const unsigned char *p = u->in_len > 0 ? u->in + u->in_start : NULL;
	bool		waiting = false;

	/* An empty body is an empty file, whatever was asked for. */
	if (u->in_len == 0 && u->input_ended)
		u->format = HVCSV_COMPRESSION_NONE;
	else if (u->asked != HVCSV_COMPRESSION_AUTO)
	{
		MagicMatch	m = magic_match(u->asked, p, u->in_len);

		if (m == MAGIC_YES)
			u->format = u->asked;
		else if (m == MAGIC_NO || u->input_ended)
			return fail(u, HVCSV_UNPACK_NOT_FORMAT, NULL);
		return true;
	}
	for (int f = HVCSV_COMPRESSION_GZIP; f <= HVCSV_COMPRESSION_ZIP; f++)
	{
		MagicMatch	m = magic_match((HvcsvCompression) f, p, u->in_len);

		if (m == MAGIC_YES)
		{
			u->format = (HvcsvCompression) f;
			return true;
		}
		waiting |= m == MAGIC_PREFIX;
	}
	if (!waiting || u->input_ended)
		u->format = HVCSV_COMPRESSION_NONE;
	return true;
}

/* Sets up the library that decodes the format. */
static bool
start_format(HvcsvUnpacker *u)
{
	switch (u->format)
	{
		case HVCSV_COMPRESSION_GZIP:
			memset(&u->z, 0, sizeof(u->z));
			if (inflateInit2(&u->z, 15 + 16) != Z_OK)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			break;
		case HVCSV_COMPRESSION_ZIP:
			/* A zip file's deflated data is raw deflate. */
			memset(&u->z, 0, sizeof(u->z));
			if (inflateInit2(&u->z, -15) != Z_OK)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			memset(&u->zip, 0, sizeof(u->zip));
			break;
		case HVCSV_COMPRESSION_ZSTD:
			u->zstd = ZSTD_createDStream();
			if (u->zstd == NULL)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			(void) ZSTD_DCtx_setParameter(u->zstd, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
			break;
		case HVCSV_COMPRESSION_BZIP2:
			memset(&u->bz, 0, sizeof(u->bz));
			if (BZ2_bzDecompressInit(&u->bz, 0, 0) != BZ_OK)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			break;
		case HVCSV_COMPRESSION_XZ:
			memset(&u->xz, 0, sizeof(u->xz));
			if (lzma_stream_decoder(&u->xz, XZ_MEMORY_LIMIT, 0) != LZMA_OK)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			break;
		default:
			break;
	}
	u->ready = true;
	return true;
}

/*
 * Bytes after the end of a member (gzip), frame (zstd) or stream (bzip2,
 * xz): the tools decode concatenated files one after another, so do we.
 */
static bool
next_member(HvcsvUnpacker *u)
{
	u->ended = false;
	switch (u->format)
	{
		case HVCSV_COMPRESSION_GZIP:
			if (inflateReset(&u->z) != Z_OK)
				return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
			return true;
		case HVCSV_COMPRESSION_ZSTD:
			/* The stream decodes the next frame by itself. */
			return true;
		default:
			stop_format(u);
			return start_format(u);
	}
}

/* One step of decoding: input in/in_len, output out/size. */
typedef struct Step
{
	const unsigned char *in;
	size_t		in_len;
	size_t		consumed;
	unsigned char *out;
	size_t		size;
	size_t		produced;
} Step;

/* Notes what zlib said about bad data; returns false. */
static bool
zlib_failure(HvcsvUnpacker *u, int rc)
{
	if (rc == Z_MEM_ERROR)
		return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
	return fail(u, HVCSV_UNPACK_BAD_DATA,
				rc == Z_NEED_DICT ? "the data needs a preset dictionary" :
				u->z.msg ? u->z.msg : "the data is not valid");
}

/* Inflates (gzip, or a zip's deflated file); *end says whether its data ended. */
static bool
step_inflate(HvcsvUnpacker *u, Step *s, bool *end)
{
	int			rc;

	u->z.next_in = (Bytef *) s->in;
	u->z.avail_in = (uInt) s->in_len;
	u->z.next_out = s->out;
	u->z.avail_out = (uInt) s->size;
	rc = inflate(&u->z, Z_NO_FLUSH);
	s->consumed = s->in_len - u->z.avail_in;
	s->produced = s->size - u->z.avail_out;
	*end = rc == Z_STREAM_END;
	if (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR)
		return true;			/* Z_BUF_ERROR: no progress without more input */
	return zlib_failure(u, rc);
}

static bool
step_zstd(HvcsvUnpacker *u, Step *s)
{
	ZSTD_inBuffer in = {s->in, s->in_len, 0};
	ZSTD_outBuffer out = {s->out, s->size, 0};
	size_t		rc = ZSTD_decompressStream(u->zstd, &out, &in);

	if (ZSTD_isError(rc))
		return fail(u, ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation ?
					HVCSV_UNPACK_NO_MEMORY :
					ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge ?
					HVCSV_UNPACK_TOO_MUCH_MEMORY : HVCSV_UNPACK_BAD_DATA,
					ZSTD_getErrorName(rc));
	s->consumed = in.pos;
	s->produced = out.pos;
	/* 0: a frame was decoded and flushed whole; a call that did nothing tells nothing. */
	if (in.pos > 0 || out.pos > 0)
		u->ended = rc == 0;
	return true;
}

static bool
step_bzip2(HvcsvUnpacker *u, Step *s)
{
	int			rc;

	u->bz.next_in = (char *) s->in;
	u->bz.avail_in = (unsigned int) s->in_len;
	u->bz.next_out = (char *) s->out;
	u->bz.avail_out = (unsigned int) s->size;
	rc = BZ2_bzDecompress(&u->bz);
	s->consumed = s->in_len - u->bz.avail_in;
	s->produced = s->size - u->bz.avail_out;
	if (rc == BZ_STREAM_END)
		u->ended = true;
	else if (rc == BZ_MEM_ERROR)
		return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
	else if (rc == BZ_DATA_ERROR_MAGIC)
		return fail(u, HVCSV_UNPACK_BAD_DATA, "a stream does not begin with the bzip2 magic number");
	else if (rc != BZ_OK)
		return fail(u, HVCSV_UNPACK_BAD_DATA, "a block's data or checksum is wrong");
	return true;
}

static bool
step_xz(HvcsvUnpacker *u, Step *s)
{
	lzma_ret	rc;

	u->xz.next_in = s->in;
	u->xz.avail_in = s->in_len;
	u->xz.next_out = s->out;
	u->xz.avail_out = s->size;
	rc = lzma_code(&u->xz, LZMA_RUN);
	s->consumed = s->in_len - u->xz.avail_in;
	s->produced = s->size - u->xz.avail_out;
	switch (rc)
	{
		case LZMA_OK:
		case LZMA_BUF_ERROR:	/* no progress without more input */
			return true;
		case LZMA_STREAM_END:
			u->ended = true;
			return true;
		case LZMA_MEM_ERROR:
			return fail(u, HVCSV_UNPACK_NO_MEMORY, NULL);
		case LZMA_MEMLIMIT_ERROR:
			return fail(u, HVCSV_UNPACK_TOO_MUCH_MEMORY, "its dictionary needs more than 256 MB of memory");
		case LZMA_OPTIONS_ERROR:
			return fail(u, HVCSV_UNPACK_BAD_DATA, "it uses options this liblzma does not support");
		case LZMA_DATA_ERROR:
			return fail(u, HVCSV_UNPACK_BAD_DATA, "its compressed data is corrupt");
		case LZMA_FORMAT_ERROR:
			return fail(u, HVCSV_UNPACK_BAD_DATA, "a stream does not begin with the xz magic number");
		default:
			return fail(u, HVCSV_UNPACK_BAD_DATA, "liblzma failed");
	}
}

static uint16
le16(const unsigned char *p)
{
	return (uint16) (p[0] | (p[1] << 8));
}

static uint32
le32(const unsigned char *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

static uint64
le64(const unsigned char *p)
{
	return (uint64) le32(p) | ((uint64) le32(p + 4) << 32);
}

/*
 * Reads a zip file's local header, once all of it is in: the file must be
 * one that can be read as it comes (not encrypted, stored or deflated, its
 * end known) and not a directory.
 */
static bool
zip_header(HvcsvUnpacker *u, Step *s)
{
	ZipState   *z = &u->zip;
	const unsigned char *p = s->in;
	size_t		name_len;
	size_t		extra_len;
	uint32		size32;
	uint32		csize32;

	if (s->in_len < 30)
		return true;
	name_len = le16(p + 26);
	extra_len = le16(p + 28);
	if (s->in_len < 30 + name_len + extra_len)
		return true;
	z->flags = le16(p + 6);
	z->method = le16(p + 8);
	z->crc = le32(p + 14);
	csize32 = le32(p + 18);
	size32 = le32(p + 22);
	z->size = size32;
	z->stored_left = csize32;
	/* A zip64 extra field (id 1) holds the sizes the header could not. */
	for (size_t i = 0; i + 4 <= extra_len;)
	{
		const unsigned char *field = p + 30 + name_len + i;
		size_t		len = le16(field + 2);

		if (le16(field) == 1 && i + 4 + len <= extra_len)
		{
			const unsigned char *v = field + 4;
			const unsigned char *v_end = v + len;

			z->zip64 = true;
			if (size32 == 0xffffffff && v + 8 <= v_end)
			{
				z->size = le64(v);
				v += 8;
			}
			if (csize32 == 0xffffffff && v + 8 <= v_end)
				z->stored_left = le64(v);
		}
		i += 4 + len;
	}
	if (z->flags & 0x41)
		return fail(u, HVCSV_UNPACK_ZIP_UNREADABLE, "The file in it is encrypted.");
	if (name_len > 0 && p[30 + name_len - 1] == '/')
		return fail(u, HVCSV_UNPACK_ZIP_UNREADABLE, "Its first entry is a directory.");
	if (z->method != 0 && z->method != 8)
	{
		snprintf(u->why_text, sizeof(u->why_text),
				 "The file in it is compressed with method %u; only stored and deflated files are read.",
				 z->method);
		return fail(u, HVCSV_UNPACK_ZIP_UNREADABLE, u->why_text);
	}
	if (z->method == 0 && (z->flags & 0x08))
		return fail(u, HVCSV_UNPACK_ZIP_UNREADABLE,
					"The file in it is stored with its size after its data, so where it ends is not known.");
	s->consumed = 30 + name_len + extra_len;
	z->crc_seen = crc32(0, NULL, 0);
	z->part = ZIP_DATA;
	return true;
}

/* After the file's data: its CRC and sizes, where the archive puts them. */
static void
zip_data_ended(HvcsvUnpacker *u)
{
	u->zip.part = (u->zip.flags & 0x08) ? ZIP_DESCRIPTOR : ZIP_NEXT;
}

/* Checks what was decoded against the CRC and size the archive gives. */
static bool
zip_check(HvcsvUnpacker *u)
{
	ZipState   *z = &u->zip;

	if (z->crc_seen != z->crc)
		return fail(u, HVCSV_UNPACK_BAD_DATA, "the file's CRC-32 does not match its data");
	if (z->zip64 ? z->size_seen != z->size : (uint32) z->size_seen != (uint32) z->size)
		return fail(u, HVCSV_UNPACK_BAD_DATA, "the file's size does not match its data");
	z->part = ZIP_NEXT;
	return true;
}

/* Reads the data descriptor (after a file whose header left them out): CRC and sizes. */
static bool
zip_descriptor(HvcsvUnpacker *u, Step *s)
{
	ZipState   *z = &u->zip;
	size_t		start;
	size_t		need;

	if (s->in_len < 4)
		return true;
	/* Its signature is optional. */
	start = le32(s->in) == 0x08074b50 ? 4 : 0;
	need = start + 4 + (z->zip64 ? 16 : 8);
	if (s->in_len < need)
		return true;
	z->crc = le32(s->in + start);
	z->size = z->zip64 ? le64(s->in + start + 12) : le32(s->in + start + 8);
	s->consumed = need;
	return zip_check(u);
}

/*
 * What follows the file: the central directory (or the end record), which
 * is not needed, or a second entry, which is refused: which of the files
 * to read would be a guess.
 */
static bool
zip_next(HvcsvUnpacker *u, Step *s)
{
	uint32		signature;

	if (s->in_len < 4)
		return true;
	signature = le32(s->in);
	if (signature == 0x04034b50)
		return fail(u, HVCSV_UNPACK_ZIP_SECOND_ENTRY, NULL);
	if (signature != 0x02014b50 && signature != 0x06054b50 && signature != 0x06064b50)
		return fail(u, HVCSV_UNPACK_BAD_DATA, "no entry or directory follows the file's data");
	u->zip.part = ZIP_DIRECTORY;
	u->ended = true;
	s->consumed = s->in_len;
	return true;
}

/* One step through a zip archive: the part its bytes are in says what to do. */
static bool
step_zip(HvcsvUnpacker *u, Step *s)
{
	ZipState   *z = &u->zip;
	bool		end = false;

	switch (z->part)
	{
		case ZIP_HEADER:
			if (!zip_header(u, s))
				return false;
			if (z->part == ZIP_DATA && z->method == 0 && z->stored_left == 0)
				return zip_check(u);
			return true;
		case ZIP_DATA:
			if (z->method == 0)
			{
				size_t		n = Min(Min(s->in_len, s->size), z->stored_left);

				if (n > 0)
					memcpy(s->out, s->in, n);
				s->consumed = s->produced = n;
				z->stored_left -= n;
				end = z->stored_left == 0;
			}
			else if (!step_inflate(u, s, &end))
				return false;
			z->crc_seen = crc32(z->crc_seen, s->out, (uInt) s->produced);
			z->size_seen += s->produced;
			if (end)
			{
				zip_data_ended(u);
				if (z->part == ZIP_NEXT)
					return zip_check(u);
			}
			return true;
		case ZIP_DESCRIPTOR:
			return zip_descriptor(u, s);
		case ZIP_NEXT:
			return zip_next(u, s);
		case ZIP_DIRECTORY:
			s->consumed = s->in_len;
			return true;
	}
	return true;
}

/* One step of the body's format. */
static bool
step(HvcsvUnpacker *u, Step *s)
{
	bool		end;

	if (u->format == HVCSV_COMPRESSION_NONE)
	{
		/* A few first bytes that matched no format. */
		s->consumed = s->produced = Min(s->in_len, s->size);
		if (s->produced > 0)
			memcpy(s->out, s->in, s->produced);
		return true;
	}
	if (!u->ready && !start_format(u))
		return false;
	/* After the end, nothing comes out until more input does. */
	if (u->ended && s->in_len == 0)
		return true;
	/*
	 * Zero bytes after the end of a gzip member or a bzip2 or xz stream are
	 * padding (xz's own, or a writer's whole blocks), which those tools skip
	 * too; zstd's refuses them, and so does its format here.
	 */
	if (u->ended && (u->format == HVCSV_COMPRESSION_GZIP ||
					 u->format == HVCSV_COMPRESSION_BZIP2 ||
					 u->format == HVCSV_COMPRESSION_XZ))
	{
		while (s->consumed < s->in_len && s->in[s->consumed] == 0)
			s->consumed++;
		if (s->consumed > 0)
			return true;
	}
	if (u->ended && s->in_len > 0 && u->format != HVCSV_COMPRESSION_ZIP && !next_member(u))
		return false;
	switch (u->format)
	{
		case HVCSV_COMPRESSION_GZIP:
			if (!step_inflate(u, s, &end))
				return false;
			u->ended = end;
			return true;
		case HVCSV_COMPRESSION_ZSTD:
			return step_zstd(u, s);
		case HVCSV_COMPRESSION_BZIP2:
			return step_bzip2(u, s);
		case HVCSV_COMPRESSION_XZ:
			return step_xz(u, s);
		case HVCSV_COMPRESSION_ZIP:
			return step_zip(u, s);
		default:
			return true;
	}
}

/*
 * Decodes up to size bytes of the file into out; *produced says how many.
 * Input comes from feed, or, when pull is not NULL, from pull(arg, ...)
 * (the Content-Encoding decoder) whenever the unpacker runs out; a false
 * from pull is its failure, not ours.  Fewer than size bytes means more
 * input is needed first, or the work limit was reached (has_more).  False
 * if the data is not what its format says.
 */
bool
hvcsv_unpacker_read(HvcsvUnpacker *u, char *out, size_t size, size_t *produced,
					bool (*pull) (void *arg, char *buf, size_t size, size_t *got),
					void *arg)
{
	*produced = 0;
	u->work = 0;
	u->more = false;
	if (u->failure != HVCSV_UNPACK_NONE)
		return false;
	while (*produced < size && !u->more)
	{
		Step		s = {0};
		size_t		got;

		if (u->format == HVCSV_COMPRESSION_AUTO && !decide_format(u))
			return false;
		if (u->format != HVCSV_COMPRESSION_AUTO)
		{
			s.in = u->in_len > 0 ? u->in + u->in_start : NULL;
			s.in_len = u->in_len;
			s.out = (unsigned char *) out + *produced;
			s.size = size - *produced;
			if (!step(u, &s))
				return false;
			u->in_start += s.consumed;
			u->in_len -= s.consumed;
			*produced += s.produced;
			u->work += s.consumed;
			u->more = u->work > READ_WORK_LIMIT;
			if (s.consumed > 0 || s.produced > 0)
				continue;
		}
		/*
		 * Nothing to do without more input.  What is left undecoded then is
		 * at most a zip header or descriptor: the libraries take all they
		 * are given.
		 */
		if (pull == NULL)
			break;
		if (!make_room(u, INPUT_BUFFER_SIZE))
			return false;
		if (!pull(arg, (char *) u->in + u->in_len, u->in_size - u->in_len, &got))
			return false;
		if (got == 0)
			break;
		add_input(u, got);
	}
	return true;
}

/*
 * At the end of the body, after everything was read: true if the file's
 * data ended there, false (a truncated file) if not.  An empty body is an
 * empty file.
 */
bool
hvcsv_unpacker_finish(HvcsvUnpacker *u)
{
	if (u->input_bytes == 0 || u->format == HVCSV_COMPRESSION_NONE)
		return true;
	if (u->format == HVCSV_COMPRESSION_AUTO || !u->ended || u->in_len > 0)
		return fail(u, HVCSV_UNPACK_TRUNCATED, NULL);
	return true;
}

/*
 * What went wrong, the format it concerns (the one asked for, when the body
 * is not in it) and why (NULL if nothing more is known).
 */
HvcsvUnpackFailure
hvcsv_unpacker_failure(const HvcsvUnpacker *u, HvcsvCompression *format, const char **why)
{
	*format = u->failure == HVCSV_UNPACK_NOT_FORMAT ? u->asked : u->format;
	*why = u->why;
	return u->failure;
}
