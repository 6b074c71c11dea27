#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each one bounded, on a temporary copy
# of its seed corpus (fuzz/corpus/<target>), so nothing libFuzzer finds lands
# in the checkout.  SECONDS (default 60) is shared out: three quarters to the
# tokenizer, the rest to the header matcher.  On a crash or mismatch it
# prints libFuzzer's report, keeps the failing input, and exits non-zero.
# The last line is a one-line summary.
#   usage: fuzz/run.sh [SECONDS]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-60}
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Werror)

work=$(mktemp -d "${TMPDIR:-/tmp}/hvcsv_fuzz.XXXXXX")
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT

clang "${flags[@]}" -o "$work/tokenizer" fuzz/fuzz_tokenizer.c test/csv_diff.c \
    src/csv_tokenizer.c -lcsv
clang "${flags[@]}" -o "$work/header" fuzz/fuzz_header.c src/header_match.c \
    src/csv_tokenizer.c

tokenizer_seconds=$((seconds * 3 / 4 > 0 ? seconds * 3 / 4 : 1))
header_seconds=$((seconds - tokenizer_seconds > 0 ? seconds - tokenizer_seconds : 1))

summary=()
failed=0
for target in tokenizer header; do
    var=${target}_seconds
    corpus=$work/corpus_$target
    log=$work/$target.log
    cp -r "fuzz/corpus/$target" "$corpus"
    dict=()
    [ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict")
    if "$work/$target" -max_total_time="${!var}" -timeout=10 -rss_limit_mb=2048 \
            -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/$target-" \
            "${dict[@]}" "$corpus" > "$log" 2>&1; then
        runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
        rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log")
        summary+=("$target ${runs:-?} runs (${rate:-?}/s)")
    else
        failed=$((failed + 1))
        keep=1
        summary+=("$target FAILED")
        echo "# fuzz/$target: libFuzzer's report (last 60 lines of $log)"
        grep -v '^#[0-9]' "$log" | tail -n 60
        for artifact in "$work/$target-"*; do
            [ -f "$artifact" ] || continue
            echo "# failing input: $artifact ($(stat -c %s "$artifact") bytes); once fixed, add it to fuzz/corpus/$target/"
            od -A d -c "$artifact" | head -n 40
        done
    fi
done

line=$(printf '%s, ' "${summary[@]}")
echo "fuzz: ${line%, }; $failed failed"
[ "$failed" = 0 ]
