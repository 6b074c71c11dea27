# hvcsv_fdw: PGXS build.  Sources live in src/; regression tests in sql/ and expected/.

MODULE_big = hvcsv_fdw
OBJS = \
	src/hvcsv_fdw.o \
	src/option.o \
	src/auth.o \
	src/fetch.o \
	src/ranged_fetch.o \
	src/content_decoding.o \
	src/file_compression.o \
	src/url.o \
	src/export_list.o \
	src/export_fetch.o \
	src/spool.o \
	src/spool_read.o \
	src/spool_files.o \
	src/row_index.o \
	src/csv_tokenizer.o \
	src/csv_stream.o \
	src/column_map.o \
	src/header_match.o \
	src/tuple_build.o \
	src/fast_convert.o \
	src/scan.o \
	src/readers.o \
	src/reader_projected.o \
	src/reader_partitioned.o \
	src/reader_streaming.o \
	src/import.o \
	src/export_types.o \
	src/table_check.o \
	src/key_hash.o \
	src/key_watch.o \
	src/key_choice.o \
	src/row_filter.o \
	src/changed_rows.o \
	src/uint64_set.o \
	src/hash_bits.o \
	src/refresh.o \
	src/refresh_worker.o \
	src/refresh_table.o \
	src/refresh_session.o \
	src/refresh_exports.o \
	src/sync_target.o \
	src/schema_drift.o \
	src/durable_file.o \
	src/run_as_owner.o \
	src/sync_state.o \
	src/sync_statement.o \
	src/cursor_mark.o \
	src/bulk_load.o \
	src/spool_quota.o \
	src/progress.o

EXTENSION = hvcsv_fdw
DATA = hvcsv_fdw--0.1.sql hvcsv_fdw--0.2.sql hvcsv_fdw--0.1--0.2.sql hvcsv_fdw--0.2--0.3.sql \
       hvcsv_fdw--0.3--0.4.sql hvcsv_fdw--0.4--0.5.sql
PGFILEDESC = "hvcsv_fdw - foreign data wrapper for CSV exports over HTTP(S)"

REGRESS = options setup scan projection errors convert fetch spool compression readers import import_types schema_drift_scan file_fdw_options dialect exports exports_parallel exports_refresh concurrent_exports ranged_download overlap pagination refresh row_filter bulk_load sync_semantics sharded fault_matrix security http auth_styles hostile hostile_limits adversarial_http
REGRESS_OPTS = --load-extension=dblink
# installcheck is defined below: the tests need two HTTP servers around them.
NO_INSTALLCHECK = 1

PG_CPPFLAGS = -I$(srcdir)/src $(shell curl-config --cflags)
SHLIB_LINK = $(shell curl-config --libs) -lz -lzstd -lbz2 -llzma
# Callback signatures are fixed by the FDW API, so unused parameters are normal.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
# The compiler lists the headers each object includes (PGXS tracks none).
PG_CFLAGS += -MMD -MP
EXTRA_CLEAN = $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The regression tests against the running server (PGHOST, PGPORT and PGUSER
# as for psql; a superuser, with dblink available), between a start and a stop
# of the HTTP servers they talk to.  Not as entries of the test list: pg_regress
# runs every test even when the first fails, so a start that found a port
# taken could not keep the tests from talking to whoever holds it (and writing
# into that run's served directory).  The trap stops the servers whatever the
# tests' outcome, which stays make's.
installcheck:
	trap 'test/fixture_ctl.sh stop' EXIT; trap 'exit 130' INT TERM; \
	test/fixture_ctl.sh start && \
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

# The TAP tests (t/*.pl; PROVE_TESTS=t/NAME.pl for one): each starts clusters
# of its own (so not as root: initdb refuses) and fixture servers on free
# ports, so they need no running server and are not part of installcheck,
# which TAP_TESTS = 1 would make them.  PGXS provides the recipe only.
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

# The tokenizer checked against libcsv, the reference parser, outside the server.
test/csv_diff_check: test/csv_diff_check.c test/csv_diff.c test/csv_diff.h src/csv_tokenizer.c src/csv_tokenizer.h
	$(CC) -O2 -Wall -Wextra -o $@ test/csv_diff_check.c test/csv_diff.c src/csv_tokenizer.c -lcsv

# Each object depends on the headers it includes, as the compiler listed them.
-include $(OBJS:.o=.d)

# libFuzzer over the tokenizer and the header matcher, bounded: fuzz/run.sh.
.PHONY: fuzz
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# The benchmark (not a test; needs root and `make install`): see bench/README.md.
.PHONY: bench
bench:
	bench/run.sh
