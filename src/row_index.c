/*-------------------------------------------------------------------------
 * row_index.c
 *	  The row-boundary index of a spool: for every 64 kB of the file, the
 *	  first offset at or after it where a record may start, and the line
 *	  breaks before that offset.
 *
 * It is built by the row scanner while the body streams into the spool, so
 * it needs no second pass, and saved beside the data file.  Quoted line
 * breaks never count as boundaries.  The partitioned reader cuts the file
 * into partitions at these offsets.  An index built for another quote,
 * escape or comment character or another skip_lines (two tables with
 * different dialects over one export) is rebuilt by one pass over the
 * spool.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "spool.h"


#define ROW_INDEX_MAGIC "HVCSVIX2"

typedef struct RowIndexFileHeader
{
	char		magic[8];
	uint32		granularity;
	uint8		quote;
	uint8		escape;
	uint8		comment;
	uint8		padding;
	uint64		skip_lines;
	uint64		file_size;
	uint64		nentries;
} RowIndexFileHeader;

/* Records a line start for every mark it reaches; returns the next mark. */
static uint64_t
add_entry(void *arg, uint64_t offset, uint64_t line_breaks)
{
	RowIndexBuilder *b = (RowIndexBuilder *) arg;
	RowIndex   *idx = &b->index;

	while ((uint64) idx->nentries * ROW_INDEX_GRANULARITY <= offset)
	{
		if (idx->nentries == b->capacity)
		{
			b->capacity *= 2;
			idx->entries = repalloc_huge(idx->entries, sizeof(RowIndexEntry) * b->capacity);
		}
		idx->entries[idx->nentries].offset = offset;
		idx->entries[idx->nentries].line_breaks = line_breaks;
		idx->nentries++;
	}
	return (uint64) idx->nentries * ROW_INDEX_GRANULARITY;
}

/* Starts an index for a file in the given dialect. */
RowIndexBuilder *
hvcsv_row_index_begin(const CsvDialect *dialect)
{
	RowIndexBuilder *b = palloc0(sizeof(RowIndexBuilder));

	b->dialect = *dialect;
	b->capacity = 64;
	b->index.entries = palloc(sizeof(RowIndexEntry) * b->capacity);
	hvcsv_row_index_reset(b);
	return b;
}

/* Forgets everything fed so far: the file starts over. */
void
hvcsv_row_index_reset(RowIndexBuilder *b)
{
	b->index.quote = b->dialect.quote;
	b->index.escape = b->dialect.escape;
	b->index.comment = b->dialect.comment;
	b->index.skip_lines = b->dialect.skip_lines;
	b->index.nentries = 1;		/* a record starts at offset 0 */
	b->index.entries[0].offset = 0;
	b->index.entries[0].line_breaks = 0;
	hvcsv_row_scanner_init(&b->scanner, &b->dialect, ROW_INDEX_GRANULARITY);
}

/* Feeds the next bytes of the file. */
void
hvcsv_row_index_feed(RowIndexBuilder *b, const char *data, size_t len)
{
	hvcsv_row_scanner_feed(&b->scanner, data, len, add_entry, b);
}

/* Ends the index of a file of file_size bytes. */
RowIndex *
hvcsv_row_index_finish(RowIndexBuilder *b, uint64 file_size)
{
	RowIndex   *idx = &b->index;
	int			total = Max(1, (int) ((file_size + ROW_INDEX_GRANULARITY - 1) / ROW_INDEX_GRANULARITY));

	/* Marks after the last line start have no boundary: the end of file. */
	if (total > b->capacity)
	{
		b->capacity = total;
		idx->entries = repalloc_huge(idx->entries, sizeof(RowIndexEntry) * b->capacity);
	}
	for (int i = idx->nentries; i < total; i++)
	{
		idx->entries[i].offset = file_size;
		idx->entries[i].line_breaks = b->scanner.line_breaks;
	}
	idx->nentries = total;
	idx->file_size = file_size;
	return idx;
}

/* Writes an index durably, header and entries. */
void
hvcsv_row_index_write(const RowIndex *idx, const char *path)
{
	RowIndexFileHeader h;
	size_t		entries_size = sizeof(RowIndexEntry) * idx->nentries;
	char	   *image = palloc_extended(sizeof(h) + entries_size, MCXT_ALLOC_HUGE);

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, ROW_INDEX_MAGIC, sizeof(h.magic));
	h.granularity = ROW_INDEX_GRANULARITY;
	h.quote = idx->quote;
	h.escape = idx->escape;
	h.comment = idx->comment;
	h.skip_lines = idx->skip_lines;
	h.file_size = idx->file_size;
	h.nentries = idx->nentries;
	memcpy(image, &h, sizeof(h));
	memcpy(image + sizeof(h), idx->entries, entries_size);
	(void) hvcsv_write_file_durably(path, image, sizeof(h) + entries_size, "row index", ERROR);
	pfree(image);
}

/*
 * Reads the index of a spool; NULL if it is missing or was built for
 * another dialect or another file.
 */
static RowIndex *
row_index_read(const char *path, const CsvDialect *dialect, uint64 file_size)
{
	RowIndexFileHeader h;
	RowIndex   *idx;
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	size_t		entries_size;

	if (fd < 0)
		return NULL;
	if (read(fd, &h, sizeof(h)) != sizeof(h) ||
		memcmp(h.magic, ROW_INDEX_MAGIC, sizeof(h.magic)) != 0 ||
		h.granularity != ROW_INDEX_GRANULARITY ||
		h.quote != dialect->quote || h.escape != dialect->escape ||
		h.comment != dialect->comment || h.skip_lines != dialect->skip_lines ||
		h.file_size != file_size ||
		h.nentries != Max(1, (file_size + ROW_INDEX_GRANULARITY - 1) / ROW_INDEX_GRANULARITY))
	{
		CloseTransientFile(fd);
		return NULL;
	}
	idx = palloc0(sizeof(RowIndex));
	idx->quote = h.quote;
	idx->escape = h.escape;
	idx->comment = h.comment;
	idx->skip_lines = h.skip_lines;
	idx->file_size = h.file_size;
	idx->nentries = (int) h.nentries;
	entries_size = sizeof(RowIndexEntry) * idx->nentries;
	idx->entries = palloc_extended(entries_size, MCXT_ALLOC_HUGE);
	if (read(fd, idx->entries, entries_size) != (ssize_t) entries_size)
	{
		CloseTransientFile(fd);
		return NULL;
	}
	CloseTransientFile(fd);
	return idx;
}

/*
 * Returns the index of an open spool for the given dialect: the one saved
 * beside it, or, if that does not fit, one built now by reading the file.
 */
RowIndex *
hvcsv_row_index_load(const HvcsvSpool *spool, const CsvDialect *dialect)
{
	RowIndex   *idx = row_index_read(spool->index_path, dialect, spool->size);
	RowIndexBuilder *b;
	char	   *buf;
	off_t		pos = 0;

	if (idx)
		return idx;

	b = hvcsv_row_index_begin(dialect);
	buf = palloc(1024 * 1024);
	for (;;)
	{
		ssize_t		n = pg_pread(spool->fd, buf, 1024 * 1024, pos);

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read spool file \"%s\": %m", spool->data_path)));
		if (n == 0)
			break;
		CHECK_FOR_INTERRUPTS();
		hvcsv_row_index_feed(b, buf, n);
		pos += n;
	}
	pfree(buf);
	return hvcsv_row_index_finish(b, spool->size);
}
