#!/usr/bin/env bash
# The score-file and number fuzz target (tests/cli/fuzz/score_file_fuzz.cpp) for a
# bounded time from a small seed corpus, through tests/common/run_fuzz.sh.
# Exit 77 (skipped) without clang or its fuzzer runtime.
set -u
root=$1 seconds=${2:-20}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
printf '\0# scores\r\n0.5\n  3e2 \n\n1.25e-3\r\n' >"$seeds/text"
printf '\0\xef\xbb\xbf7\n' >"$seeds/bom"
printf '\001\000\000\200\077\000\000\000\100' >"$seeds/raw"
printf '\002-1.25e-3' >"$seeds/float"
printf '\00318446744073709551615' >"$seeds/uint"
bash "$root/tests/common/run_fuzz.sh" "$root" "$seconds" "$seeds" tests/cli/fuzz/score_file_fuzz.cpp \
  src/cli/score_file.cpp src/cli/score_number.cpp
