#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan, and UBSan stopping at the first
# report) and runs it for a bounded time with a malloc limit, so that an input
# making the code allocate what it does not hold fails the run. Its corpus
# starts with the files of SEEDS ("none": no files); CUIS_FUZZ_SEEDS names the
# corpus to the target, which may write its own seeds there at start-up
# (LLVMFuzzerInitialize). Exit 77 (skipped) without clang or its fuzzer runtime.
# Usage: run_fuzz.sh ROOT SECONDS SEEDS SOURCE... (paths under ROOT; -l flags as they are)
set -u
root=$1 seconds=$2 seeds=$3
shift 3
command -v clang++ >/dev/null 2>&1 || { echo "clang++ not found: fuzz test skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=()
for a in "$@"; do
  case $a in -*) args+=("$a") ;; *) args+=("$root/$a") ;; esac
done
cuda_include=$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")/include
if ! clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" -I"$root/src" -I"$cuda_include" "${args[@]}" -o "$dir/fuzz" 2>"$dir/build.log"; then
  if grep -q "fuzzer" "$dir/build.log"; then echo "libFuzzer runtime missing: fuzz test skipped"; cat "$dir/build.log"; exit 77; fi
  cat "$dir/build.log"; exit 1
fi
corpus=$dir/corpus
mkdir -p "$corpus"
[ "$seeds" = none ] || cp "$seeds"/* "$corpus"/
# libFuzzer's own exit code for a crash or a timeout is 77 by default, which
# ctest would count as a skip: a finding must fail the test.
(cd "$dir" && CUIS_FUZZ_SEEDS="$corpus" ./fuzz -max_total_time="$seconds" -malloc_limit_mb=512 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 "$corpus" 2>&1 | tail -n 15; exit "${PIPESTATUS[0]}")
rc=$?
echo "fuzz: exit $rc"
exit $rc
