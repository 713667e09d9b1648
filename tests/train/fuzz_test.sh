#!/usr/bin/env bash
# The checkpoint fuzz target (tests/train/fuzz/checkpoints_fuzz.cpp: network and
# trainer checkpoints, seeded by the target itself) for a bounded time,
# through tests/common/run_fuzz.sh. Exit 77 (skipped) without clang or its
# fuzzer runtime.
set -u
root=$1 seconds=${2:-20}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
bash "$root/tests/common/run_fuzz.sh" "$root" "$seconds" "$corpus" tests/train/fuzz/checkpoints_fuzz.cpp \
  src/train/trainer_state.cpp src/train/trainer_common.cpp src/nn/checkpoint.cpp src/nn/mlp_config.cpp \
  src/sampler/options.cpp src/core/error.cpp src/core/binary_io.cpp
