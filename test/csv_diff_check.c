/*
 * csv_diff_check: checks our tokenizer against libcsv, the reference parser.
 *
 * Every input (files named on the command line, then random inputs) goes
 * through csv_diff_input (test/csv_diff.c) under a few plans: the default
 * dialect, a backslash escape, and comment lines (a letter of the random
 * inputs' alphabet, so they are frequent) with or without lines skipped
 * before the first record, fed in chunks of 1 to 7 bytes, with
 * small output space, some fields projected, and the row scanner's marks
 * at several steps.  That compares the tokenizer with libcsv in strict
 * mode wherever libcsv accepts the input, with a byte-at-a-time model of
 * COPY's rules everywhere, with itself fed whole, and the row scanner with
 * the records.  fuzz/fuzz_tokenizer.c runs the same checks under libFuzzer
 * on any dialect.  Prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>

#include "csv_diff.h"

/* The plans every input is checked under. */
static const CsvDiffPlan plans[] = {
	{{',', '"', '"', "", 0, 0, 0}, {1, 1}, 1, 1, 0x15},
	{{',', '"', '"', "", 0, 0, 0}, {2, 5}, 2, 3, 0xa2},
	{{',', '"', '\\', "", 0, 0, 0}, {3, 7}, 4, 1, 0xff},
	{{',', '"', '\\', "\\N", 2, 0, 0}, {1, 4}, 1, 8, 0x01},
	{{',', '"', '"', "", 0, 'a', 0}, {1, 3}, 2, 2, 0x0b},
	{{',', '"', '\\', "", 0, 'b', 2}, {2, 1}, 1, 1, 0x06},
};

static int	passed,
			failed;

/* Checks one input under every plan; counts it once. */
static void
check(const char *what, const char *in, size_t len)
{
	bool		ok = true;

	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]) && ok; i++)
		ok = csv_diff_input(what, in, len, &plans[i]);
	if (ok)
		passed++;
	else
		failed++;
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
