/*
 * fuzz_tokenizer.c
 *	  libFuzzer target: the tokenizer and the row scanner against libcsv, a
 *	  model of COPY's rules, and themselves fed in other ways.
 *
 * An input is eight bytes of plan, then CSV:
 *   0 delimiter, 1 quote, 2 escape (0: the quote), each any ASCII byte but
 *     NUL, CR and LF (a byte outside that picks a common one);
 *   3 bits 0-1 the null string ("", "\N", "NULL", "a"), bits 2-4 the slots
 *     and output bytes to start with (1 to 8), bits 5-6 the comment byte
 *     (none, '#', 'a', ';'), bit 7 two lines skipped before the first
 *     record;
 *   4, 5 the bytes added on each CSV_NEED_MORE, in turn (1 to 64);
 *   6 the row scanner's mark step (1 to 64);
 *   7 which of the first eight fields a projection copies out.
 * Dialects that CREATE FOREIGN TABLE refuses (delimiter equal to quote or
 * escape, a null string holding the delimiter or quote, a comment byte
 * equal to one of those three) are skipped.  What
 * is compared is csv_diff_input's (test/csv_diff.c); libcsv has no escape
 * byte other than a doubled quote, so with another escape the model of
 * COPY's rules is the only reference.  A mismatch aborts.
 *
 * The same input also checks csv_ascii_without_nul() (src/ascii_check.h)
 * against a byte-by-byte loop, at every length and start up to 40 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/ascii_check.h"
#include "../test/csv_diff.h"

#define PLAN_BYTES 8

/* A dialect byte: ASCII but NUL, CR and LF as is, else a common choice. */
static unsigned char
dialect_byte(unsigned char b)
{
	static const char common[] = ",;\t| \"'\\#~a";

	if (b == 0 || b == '\r' || b == '\n' || b >= 0x80)
		return common[b % (sizeof(common) - 1)];
	return b;
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Checks csv_ascii_without_nul() on every short piece of the input. */
static void
check_ascii(const unsigned char *data, size_t size)
{
	for (size_t start = 0; start < size && start < 8; start++)
	{
		bool		plain = true;

		for (size_t len = 0; start + len <= size && len <= 40; len++)
		{
			if (len > 0 && (data[start + len - 1] >= 0x80 || data[start + len - 1] == 0))
				plain = false;
			if (csv_ascii_without_nul((const char *) data + start, len) != plain)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const nulls[] = {"", "\\N", "NULL", "a"};
	static const unsigned char comments[] = {0, '#', 'a', ';'};
	CsvDiffPlan plan;
	CsvDialect *d = &plan.dialect;
	const char *null_string;

	check_ascii(data, size);
	if (size < PLAN_BYTES)
		return 0;
	d->delimiter = dialect_byte(data[0]);
	d->quote = dialect_byte(data[1]);
	d->escape = data[2] == 0 ? d->quote : dialect_byte(data[2]);
	null_string = nulls[data[3] & 3];
	d->null_string = null_string;
	d->null_len = strlen(null_string);
	plan.first_slots = 1 + ((data[3] >> 2) & 7);
	d->comment = comments[(data[3] >> 5) & 3];
	d->skip_lines = (data[3] >> 7) * 2;
	plan.chunk[0] = 1 + data[4] % 64;
	plan.chunk[1] = 1 + data[5] % 64;
	plan.mark_step = 1 + data[6] % 64;
	plan.projected = data[7];

	/* The dialects option.c's check_dialect refuses. */
	if (d->delimiter == d->quote || d->escape == d->delimiter ||
		memchr(null_string, d->delimiter, d->null_len) ||
		memchr(null_string, d->quote, d->null_len) ||
		(d->comment != 0 && (d->comment == d->delimiter || d->comment == d->quote ||
							 d->comment == d->escape)))
		return 0;

	if (!csv_diff_input("fuzz", (const char *) data + PLAN_BYTES, size - PLAN_BYTES, &plan))
		abort();
	return 0;
}
