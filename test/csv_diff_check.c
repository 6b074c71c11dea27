/*
 * csv_diff_check: checks our tokenizer against libcsv, the reference parser.
 *
 * For every input (files named on the command line, then random inputs),
 * libcsv parses it in strict mode; where libcsv accepts it, our tokenizer
 * must produce the same records and fields, and the same NULLs (unquoted
 * empty fields).  Our tokenizer is fed in random chunk sizes, so its
 * resumption after CSV_NEED_MORE is checked too, and every chunking must
 * give the same records as one whole buffer.  The row scanner, which finds
 * record starts without the tokenizer (for the partitioned reader's index),
 * is checked too: tokenizing from any line start it reports, with the line
 * count it reports, must give exactly the records (and line numbers) that
 * the whole input has from there on.  Both the default dialect and a
 * backslash escape are tried.  Prints "N passed, N failed".
 */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv_tokenizer.h"

typedef struct Rows
{
	char	   *text;			/* fields as "<len>:<bytes>" or "N", rows end in '\n' */
	size_t		len;
	size_t		cap;
	int			error;
} Rows;

static void
rows_add(Rows *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap)
	{
		r->cap = (r->len + n + 1) * 2;
		r->text = realloc(r->text, r->cap);
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void
rows_field(Rows *r, const char *value, size_t n, int isnull)
{
	char		head[32];

	if (isnull)
		rows_add(r, "N|", 2);
	else
	{
		snprintf(head, sizeof(head), "%zu:", n);
		rows_add(r, head, strlen(head));
		rows_add(r, value, n);
		rows_add(r, "|", 1);
	}
}

static void
libcsv_field(void *field, size_t len, void *data)
{
	rows_field(data, field, len, field == NULL);
}

static void
libcsv_row(int c, void *data)
{
	(void) c;
	rows_add(data, "\n", 1);
}

static int
no_space(unsigned char c)
{
	(void) c;
	return 0;
}

/* Parses with libcsv in strict mode; error is set when it refuses. */
static Rows
parse_libcsv(const char *in, size_t len)
{
	struct csv_parser p;
	Rows		r = {0};

	csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL);
	csv_set_space_func(&p, no_space);
	if (csv_parse(&p, in, len, libcsv_field, libcsv_row, &r) != len ||
		csv_fini(&p, libcsv_field, libcsv_row, &r) != 0)
		r.error = 1;
	csv_free(&p);
	return r;
}

/* Sizes a record's output for any record of an input of len bytes. */
static void
record_alloc(CsvRecord *rec, size_t len)
{
	/* A record of len bytes has at most len + 1 fields. */
	rec->nslots = len + 1;
	rec->out_cap = len + rec->nslots + 1;
	rec->out = malloc(rec->out_cap);
	rec->slot_state = malloc(rec->nslots);
	rec->slot_offset = malloc(rec->nslots * sizeof(size_t));
	rec->slot_length = malloc(rec->nslots * sizeof(size_t));
}

/* Frees what record_alloc allocated. */
static void
record_free(CsvRecord *rec)
{
	free(rec->out);
	free(rec->slot_state);
	free(rec->slot_offset);
	free(rec->slot_length);
}

/* Parses with our tokenizer, giving it the input chunk bytes at a time. */
static Rows
parse_ours(const char *in, size_t len, size_t chunk)
{
	CsvDialect	d = {',', '"', '"', "", 0};
	CsvTokenizer tok;
	CsvRecord	rec = {0};
	Rows		r = {0};
	size_t		start = 0;
	size_t		avail = chunk < len ? chunk : len;

	csv_tokenizer_init(&tok, &d);
	tok.all_fields = 1;
	record_alloc(&rec, len);

	for (;;)
	{
		size_t		consumed;
		int			at_eof = start + avail == len;
		CsvStatus	st = csv_tokenize(&tok, in + start, avail, at_eof, &consumed, &rec);

		start += consumed;
		avail -= consumed;
		if (st == CSV_RECORD)
		{
			for (int i = 0; i < rec.nfields; i++)
				rows_field(&r, rec.out + rec.slot_offset[i], rec.slot_length[i],
						   rec.slot_state[i] == CSV_SLOT_NULL);
			rows_add(&r, "\n", 1);
		}
		else if (st == CSV_NEED_MORE)
			avail = (start + avail + chunk < len) ? avail + chunk : len - start;
		else
		{
			r.error = st != CSV_END;
			break;
		}
	}
	record_free(&rec);
	return r;
}

static int	passed,
			failed;

/* Tokenizes a whole buffer; records as text "line@start:fields". */
static Rows
records_from(const char *in, size_t len, const CsvDialect *d, uint64_t line_breaks,
			 size_t base)
{
	CsvTokenizer tok;
	CsvRecord	rec = {0};
	Rows		r = {0};
	size_t		start = 0;

	csv_tokenizer_init(&tok, d);
	tok.all_fields = 1;
	tok.line_breaks = line_breaks;
	record_alloc(&rec, len);
	for (;;)
	{
		size_t		consumed;
		CsvStatus	st = csv_tokenize(&tok, in + start, len - start, 1, &consumed, &rec);
		char		head[64];

		if (st != CSV_RECORD)
		{
			r.error = st != CSV_END;
			break;
		}
		snprintf(head, sizeof(head), "%llu@%zu:", (unsigned long long) rec.line,
				 base + start + rec.start);
		rows_add(&r, head, strlen(head));
		for (int i = 0; i < rec.nfields; i++)
			rows_field(&r, rec.out + rec.slot_offset[i], rec.slot_length[i],
					   rec.slot_state[i] == CSV_SLOT_NULL);
		rows_add(&r, "\n", 1);
		start += consumed;
	}
	record_free(&rec);
	return r;
}

typedef struct LineStarts
{
	uint64_t	offset[64];
	uint64_t	breaks[64];
	int			n;
} LineStarts;

/* Collects every line start the scanner reports. */
static uint64_t
collect_line_start(void *arg, uint64_t offset, uint64_t line_breaks)
{
	LineStarts *ls = arg;

	if (ls->n < 64)
	{
		ls->offset[ls->n] = offset;
		ls->breaks[ls->n] = line_breaks;
		ls->n++;
	}
	return offset + 1;
}

/* Checks the row scanner against the tokenizer on one input, fed in chunks. */
static int
check_scanner(const char *in, size_t len, const CsvDialect *d, size_t chunk)
{
	Rows		whole = records_from(in, len, d, 0, 0);
	CsvRowScanner sc;
	LineStarts	ls = {0};
	int			ok = 1;

	csv_row_scanner_init(&sc, d, 0);
	for (size_t at = 0; at < len; at += chunk)
		csv_row_scanner_feed(&sc, in + at, at + chunk <= len ? chunk : len - at,
							 collect_line_start, &ls);

	for (int k = 0; k < ls.n && ok; k++)
	{
		Rows		part = records_from(in + ls.offset[k], len - ls.offset[k], d,
										ls.breaks[k], ls.offset[k]);
		const char *tail = whole.text ? whole.text : "";
		char		head[32];

		/* The whole input's records from this offset on. */
		while (*tail)
		{
			unsigned long long line;
			size_t		start;

			sscanf(tail, "%llu@%zu:", &line, &start);
			(void) line;
			if (start >= ls.offset[k])
				break;
			tail = strchr(tail, '\n') + 1;
		}
		snprintf(head, sizeof(head), "%s", "");
		ok = part.error == whole.error &&
			strcmp(part.text ? part.text : "", tail) == 0;
		if (!ok)
			fprintf(stderr, "SCANNER MISMATCH at offset %llu (escape %c):\n--- whole tail:\n%s--- from there:\n%s\n",
					(unsigned long long) ls.offset[k], d->escape, tail,
					part.text ? part.text : "");
		free(part.text);
	}
	free(whole.text);
	return ok;
}

static void
check(const char *what, const char *in, size_t len)
{
	Rows		ref = parse_libcsv(in, len);
	Rows		whole = parse_ours(in, len, len ? len : 1);
	int			ok = 1;

	for (size_t chunk = 1; chunk <= 7 && ok; chunk++)
	{
		Rows		part = parse_ours(in, len, chunk);

		ok = part.error == whole.error && part.len == whole.len &&
			(part.len == 0 || memcmp(part.text, whole.text, part.len) == 0);
		free(part.text);
	}
	if (ok && !ref.error)
		ok = !whole.error && ref.len == whole.len &&
			(ref.len == 0 || memcmp(ref.text, whole.text, ref.len) == 0);
	if (ok)
	{
		CsvDialect	plain = {',', '"', '"', "", 0};
		CsvDialect	backslash = {',', '"', '\\', "", 0};

		ok = check_scanner(in, len, &plain, 1) && check_scanner(in, len, &plain, 5) &&
			check_scanner(in, len, &backslash, 1) && check_scanner(in, len, &backslash, 7);
	}
	if (ok)
		passed++;
	else
	{
		failed++;
		fprintf(stderr, "MISMATCH %s: input %zu bytes\n--- libcsv%s:\n%s--- ours%s:\n%s\n",
				what, len, ref.error ? " (refused)" : "", ref.text ? ref.text : "",
				whole.error ? " (refused)" : "", whole.text ? whole.text : "");
	}
	free(ref.text);
	free(whole.text);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;

	if (!f)
	{
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len + 1);
	if (fread(buf, 1, *len, f) != *len)
		exit(2);
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	static const char alphabet[] = "ab,\"\n\r \\";
	unsigned	seed = 20261125;
	int			random_inputs = 200000;

	for (int i = 1; i < argc; i++)
	{
		size_t		len;
		char	   *buf = read_file(argv[i], &len);

		check(argv[i], buf, len);
		free(buf);
	}

	srand(seed);
	for (int n = 0; n < random_inputs; n++)
	{
		char		buf[40];
		size_t		len = rand() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
		check("random", buf, len);
	}
	/* Long runs of ordinary bytes, for the 16-byte scanning. */
	for (int n = 0; n < random_inputs / 40; n++)
	{
		char		buf[300];
		size_t		len = rand() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = rand() % 10 < 8 ? 'a' : alphabet[rand() % (sizeof(alphabet) - 1)];
		check("random-long", buf, len);
	}

	printf("csv_diff_check: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
