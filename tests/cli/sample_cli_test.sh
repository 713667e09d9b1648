#!/usr/bin/env bash
# cuis-sample end to end on the CPU reference: output format, determinism,
# chunked output identical to one piece, bounded memory, and a one-line error
# with exit 2 for every bad flag (1 for bad input). The score-file format has
# its own test, sample_format_test.sh.
set -u
bin=$1
. "$(dirname "$0")/sample_test_lib.sh"

printf '1\n2\n0\n4.5\n' >"$dir/w.txt"
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<4f',1,2,0,4.5))" >"$dir/w.f32"
python3 -c "
import random
random.seed(5)
print('\n'.join('%.6g' % (random.random() * 10) for _ in range(5000)))" >"$dir/big.txt"

"$bin" --weights "$dir/w.txt" --count 1000 --seed 7 --device cpu >"$dir/a" 2>"$dir/err"
check "text file runs" [ $? -eq 0 ]
check "nothing on stderr with --device cpu" [ ! -s "$dir/err" ]
check "one line per draw" [ "$(wc -l <"$dir/a")" -eq 1000 ]
check "index,weight format" bash -c "! grep -qvE '^[0-9]+,[0-9.e+-]+$' '$dir/a'"
check "zero-score item never drawn" bash -c "! grep -q '^2,' '$dir/a'"
"$bin" --weights "$dir/w.f32" --count 1000 --seed 7 --device cpu >"$dir/b"
check "f32 file gives the same draws" cmp -s "$dir/a" "$dir/b"
"$bin" --weights "$dir/w.txt" --count 1000 --seed 8 --device cpu >"$dir/c"
check "another seed differs" bash -c "! cmp -s '$dir/a' '$dir/c'"
"$bin" --weights "$dir/w.txt" --count 999 --seed 7 --offset 1 --device cpu >"$dir/d"
check "offset 1 is the same stream shifted" bash -c "tail -n 999 '$dir/a' | cmp -s - '$dir/d'"
"$bin" --weights "$dir/w.txt" --count 3 --seed 1 --without-replacement --device cpu >"$dir/e"
check "without replacement: distinct positives" bash -c "[ \$(cut -d, -f1 '$dir/e' | sort -u | wc -l) -eq 3 ] && ! grep -q '^2,' '$dir/e'"
"$bin" --weights "$dir/w.txt" --count 50 --seed 1 --k 0.5 --smooth 0.1 --power 0.5 --device cpu >"$dir/f"
check "k, smooth and power accepted" [ "$(wc -l <"$dir/f")" -eq 50 ]
"$bin" --weights=$dir/w.txt --count=1000 --seed=7 --device=cpu >"$dir/g"
check "--flag=value form" cmp -s "$dir/a" "$dir/g"
"$bin" --weights "$dir/w.txt" --count 5 --seed 18446744073709551615 --offset 18446744073709551615 --device cpu >"$dir/h"
check "seed and offset 2^64 - 1 accepted" [ "$(wc -l <"$dir/h")" -eq 5 ]

# Chunks: the batch drawn D draws at a time is the batch drawn at once, byte
# for byte (unbiased weights with replacement; --k and --without-replacement
# always draw the whole batch, so --chunk is refused with them).
chunked() {  # chunked NAME ARGS...: --chunk 1, 7 and 1000 all equal one chunk
  local name=$1; shift
  "$bin" --weights "$dir/big.txt" --count 3001 --device cpu "$@" --chunk 3001 >"$dir/one" 2>"$dir/err"
  local ok=$?
  for d in 1 7 1000; do
    "$bin" --weights "$dir/big.txt" --count 3001 --device cpu "$@" --chunk "$d" >"$dir/many" 2>>"$dir/err" &&
      cmp -s "$dir/one" "$dir/many" || ok=1
  done
  check "$name" [ "$ok $(wc -l <"$dir/one")" = "0 3001" ]
}
chunked "chunks: unbiased, identical to one chunk" --seed 11
chunked "chunks: unbiased with smooth and power" --seed 12 --smooth 0.25 --power 0.5
chunked "chunks: counters wrapping past 2^64 - 1" --seed 13 --offset 18446744073709549000
"$bin" --weights "$dir/big.txt" --count 3001 --seed 11 --device cpu --chunk 3001 >"$dir/one"
"$bin" --weights "$dir/big.txt" --count 3001 --seed 11 --device cpu >"$dir/auto"
check "chunks: the automatic chunk gives the same output" cmp -s "$dir/one" "$dir/auto"
"$bin" --weights "$dir/big.txt" --count 3000 --seed 11 --offset 1 --device cpu --chunk 7 >"$dir/shift"
check "chunks: offset 1 is the same stream shifted" bash -c "tail -n 3000 '$dir/auto' | cmp -s - '$dir/shift'"
"$bin" --weights "$dir/big.txt" --count 3001 --seed 11 --k 0.5 --device cpu >"$dir/k1"
"$bin" --weights "$dir/big.txt" --count 3001 --seed 11 --k 0.5 --device cpu >"$dir/k2"
check "biased: one piece, deterministic" bash -c "cmp -s '$dir/k1' '$dir/k2' && [ \$(wc -l <'$dir/k1') -eq 3001 ]"
expect_error 2 "biased: --chunk refused" "--chunk applies to unbiased draws with replacement only" \
  --weights "$dir/big.txt" --count 10 --seed 1 --k 0.5 --chunk 5 --device cpu
expect_error 2 "without replacement: --chunk refused" "--chunk applies to unbiased draws with replacement only" \
  --weights "$dir/big.txt" --count 10 --seed 1 --without-replacement --chunk 5 --device cpu

# Memory: the largest count streams in bounded memory; what cannot be
# allocated is one line and exit 1, never an abort (134). AddressSanitizer
# needs terabytes of address space, so a sanitized build skips ulimit -v.
if grep -qa __asan_init "$bin"; then
  echo "skip ulimit -v checks (AddressSanitizer build)"
else
  # Reading stops after 3 lines: the tool then dies of SIGPIPE (141), or, where
  # SIGPIPE is ignored, reports the failed write (1).
  ( ulimit -v 4000000
    timeout 300 "$bin" --weights "$dir/w.txt" --count 2147483647 --seed 1 --device cpu 2>"$dir/err" | head -n 3 >"$dir/head"
    echo "${PIPESTATUS[0]}" >"$dir/rc" )
  rc=$(cat "$dir/rc")
  check "count 2^31 - 1 under ulimit -v: streams, no abort" [ "$(wc -l <"$dir/head")" -eq 3 ]
  check "count 2^31 - 1 under ulimit -v: ends by the closed pipe (rc $rc)" \
    bash -c "{ [ $rc -eq 141 ] && [ ! -s '$dir/err' ]; } || { [ $rc -eq 1 ] && grep -q 'write to stdout failed' '$dir/err'; }"
  ( ulimit -v 4000000
    fails=0
    expect_error 1 "chunk of 2^31 - 1 under ulimit -v: out of memory, one line" "out of memory" \
      --weights "$dir/w.txt" --count 2147483647 --chunk 2147483647 --seed 1 --device cpu
    exit "$fails" ) || fails=$((fails + 1))
fi
expect_error 2 "biased: count above 2^24 refused before allocating" "at most 16777216 draws" \
  --weights "$dir/w.txt" --count 16777217 --seed 1 --k 0.5 --device cpu
if [ -w /dev/full ]; then
  "$bin" --weights "$dir/w.txt" --count 5 --seed 1 --device cpu >/dev/full 2>"$dir/err"
  rc=$?
  check "write failure: exit 1, one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$dir/err') -eq 1 ] && grep -q 'write to stdout failed' '$dir/err'"
fi

expect_error 1 "too many without replacement" "impossible without replacement" --weights "$dir/w.txt" --count 5 --seed 1 --without-replacement --device cpu
expect_error 1 "not enough positive" "positive scores" --weights "$dir/w.txt" --count 4 --seed 1 --without-replacement --device cpu
expect_error 2 "k > 1" "k 1.5" --weights "$dir/w.txt" --count 5 --seed 1 --k 1.5 --device cpu
expect_error 2 "power outside [0,1]" "power" --weights "$dir/w.txt" --count 5 --seed 1 --power 2 --device cpu
expect_error 2 "negative smooth" "smooth" --weights "$dir/w.txt" --count 5 --seed 1 --smooth -1 --device cpu
expect_error 2 "--k out of float32 range" "--k 1e40 is out of float32 range" --weights "$dir/w.txt" --count 5 --seed 1 --k 1e40 --device cpu
expect_error 2 "--k nan" "--k must be a finite decimal number, got 'nan'" --weights "$dir/w.txt" --count 5 --seed 1 --k nan --device cpu
expect_error 2 "count 0" "--count must be an integer in [1, 2147483647], got '0'" --weights "$dir/w.txt" --count 0 --seed 1 --device cpu
expect_error 2 "negative count" "--count must be an integer in [1, 2147483647], got '-5'" --weights "$dir/w.txt" --count -5 --seed 1 --device cpu
expect_error 2 "count above 2^31 - 1" "got '2147483648'" --weights "$dir/w.txt" --count 2147483648 --seed 1 --device cpu
expect_error 2 "count not a number" "--count must be" --weights "$dir/w.txt" --count x --seed 1 --device cpu
expect_error 2 "seed 2^64" "--seed 18446744073709551616 is out of range" --weights "$dir/w.txt" --count 5 --seed 18446744073709551616 --device cpu
expect_error 2 "negative offset" "--offset must be an integer in [0, 2^64 - 1], got '-1'" --weights "$dir/w.txt" --count 5 --seed 1 --offset -1 --device cpu
expect_error 2 "chunk 0" "--chunk must be auto or an integer" --weights "$dir/w.txt" --count 5 --seed 1 --chunk 0 --device cpu
expect_error 2 "missing seed" "--seed is required" --weights "$dir/w.txt" --count 5 --device cpu
expect_error 2 "flag without its value" "--seed needs a value" --weights "$dir/w.txt" --count 5 --device cpu --seed
expect_error 2 "unknown flag" "unknown flag --bogus" --weights "$dir/w.txt" --count 5 --seed 1 --bogus 1
expect_error 2 "unknown flag before a missing one" "unknown flag --bogus" --bogus
expect_error 2 "stray argument" "unexpected argument 'stray'" --weights "$dir/w.txt" --count 5 --seed 1 stray --device cpu
expect_error 2 "repeated flag" "--count is given 2 times" --weights "$dir/w.txt" --count 5 --count 6 --seed 1 --device cpu
expect_error 2 "repeated switch" "--without-replacement is given 2 times" --weights "$dir/w.txt" --count 1 --seed 1 --without-replacement --without-replacement --device cpu
expect_error 2 "a value for a switch" "--without-replacement takes no value" --weights "$dir/w.txt" --count 1 --seed 1 --without-replacement=0 --device cpu
expect_error 2 "bad device" "--device must be auto, cpu or cuda, got 'tpu'" --weights "$dir/w.txt" --count 5 --seed 1 --device tpu

"$bin" --help >"$dir/help" 2>"$dir/err"
rc=$?
check "--help: exit 0, nothing on stderr" bash -c "[ $rc -eq 0 ] && [ ! -s '$dir/err' ]"
for want in "--weights FILE REQUIRED" "--count B REQUIRED" "--seed S REQUIRED" "--offset O=0" "--without-replacement" \
            "--k K" "(default: none, unbiased)" "--smooth C=0" "--power A=1" "--device auto|cpu|cuda=auto" "--chunk D=auto"; do
  check "--help lists $want" grep -qF -- "$want" "$dir/help"
done

if ! nvidia-smi >/dev/null 2>&1; then
  expect_error 1 "cuda without a GPU" "no CUDA device" --weights "$dir/w.txt" --count 5 --seed 1 --device cuda
  "$bin" --weights "$dir/w.txt" --count 1000 --seed 7 >"$dir/auto" 2>"$dir/err"
  rc=$?
  check "auto without a GPU: the CPU reference's output" bash -c "[ $rc -eq 0 ] && cmp -s '$dir/a' '$dir/auto'"
  check "auto without a GPU: one line on stderr says so" \
    bash -c "[ \$(wc -l <'$dir/err') -eq 1 ] && grep -q 'falling back to the CPU reference' '$dir/err'"
else
  "$bin" --weights "$dir/w.txt" --count 1000 --seed 7 --device cuda >"$dir/g"
  check "cuda gives the reference's output" cmp -s "$dir/a" "$dir/g"
  "$bin" --weights "$dir/big.txt" --count 3001 --seed 11 --device cuda --chunk 7 >"$dir/g"
  check "cuda in chunks gives the reference's output" cmp -s "$dir/one" "$dir/g"
  for extra in "--k 0.5" "--without-replacement"; do
    "$bin" --weights "$dir/big.txt" --count 3001 --seed 11 $extra --device cpu >"$dir/c1"
    "$bin" --weights "$dir/big.txt" --count 3001 --seed 11 $extra --device cuda >"$dir/g1"
    check "cuda $extra gives the reference's output" cmp -s "$dir/c1" "$dir/g1"
  done
fi
finish "cli"
