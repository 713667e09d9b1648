#!/usr/bin/env bash
# The gathered-records fuzz target (tests/sampler/fuzz/shard_records_fuzz.cpp,
# seeded by the target itself) for a bounded time, through
# tests/common/run_fuzz.sh. Exit 77 (skipped) without clang or its fuzzer
# runtime.
set -u
root=$1 seconds=${2:-20}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
bash "$root/tests/common/run_fuzz.sh" "$root" "$seconds" "$corpus" tests/sampler/fuzz/shard_records_fuzz.cpp \
  src/sampler/shard_reference.cpp src/sampler/shard_options.cpp src/sampler/reference.cpp src/sampler/options.cpp \
  src/core/error.cpp
