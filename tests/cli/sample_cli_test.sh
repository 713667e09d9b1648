#!/usr/bin/env bash
# cuis-sample end to end on the CPU reference: output format, determinism,
# and a one-line error with a non-zero exit for every bad input or flag.
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
expect_error() {  # expect_error NAME PATTERN ARGS...: non-zero exit, one stderr line matching PATTERN
  local name=$1 pattern=$2; shift 2
  "$bin" "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  local lines; lines=$(wc -l <"$dir/err")
  if [ "$rc" -ne 0 ] && grep -q -- "$pattern" "$dir/err" && [ ! -s "$dir/out" ] && { [ "$lines" -eq 1 ] || grep -q "^usage" "$dir/err"; }; then
    echo "ok   $name"
  else
    echo "FAIL $name (rc=$rc)"; cat "$dir/err"; fails=$((fails + 1))
  fi
}

printf '1\n2\n0\n4.5\n' >"$dir/w.txt"
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<4f',1,2,0,4.5))" >"$dir/w.f32"

"$bin" --weights "$dir/w.txt" --count 1000 --seed 7 --device cpu >"$dir/a" 2>"$dir/err"
check "text file runs" [ $? -eq 0 ]
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

printf '1\nnan\n3\n' >"$dir/nan.txt"
printf '1\n2\n-3\n' >"$dir/neg.txt"
printf '1\ninf\n' >"$dir/inf.txt"
printf '0\n0\n' >"$dir/zero.txt"
printf '1\nabc\n' >"$dir/abc.txt"
: >"$dir/empty.txt"
head -c 7 "$dir/w.f32" >"$dir/trunc.f32"
expect_error "NaN score names index and value" "score 1 is NaN" --weights "$dir/nan.txt" --count 5 --seed 1 --device cpu
expect_error "negative score" "score 2 is negative (value -3)" --weights "$dir/neg.txt" --count 5 --seed 1 --device cpu
expect_error "infinite score" "score 1 is infinite" --weights "$dir/inf.txt" --count 5 --seed 1 --device cpu
expect_error "all zero" "all transformed scores are zero" --weights "$dir/zero.txt" --count 5 --seed 1 --device cpu
expect_error "not a number" "line 2: not a number" --weights "$dir/abc.txt" --count 5 --seed 1 --device cpu
expect_error "empty file" "no scores" --weights "$dir/empty.txt" --count 5 --seed 1 --device cpu
expect_error "truncated f32" "truncated float32 file" --weights "$dir/trunc.f32" --count 5 --seed 1 --device cpu
expect_error "missing file" "cannot open" --weights "$dir/none.txt" --count 5 --seed 1 --device cpu
expect_error "too many without replacement" "impossible without replacement" --weights "$dir/w.txt" --count 5 --seed 1 --without-replacement --device cpu
expect_error "not enough positive" "positive scores" --weights "$dir/w.txt" --count 4 --seed 1 --without-replacement --device cpu
expect_error "k > 1" "k 1.5" --weights "$dir/w.txt" --count 5 --seed 1 --k 1.5 --device cpu
expect_error "power outside [0,1]" "power" --weights "$dir/w.txt" --count 5 --seed 1 --power 2 --device cpu
expect_error "negative smooth" "smooth" --weights "$dir/w.txt" --count 5 --seed 1 --smooth -1 --device cpu
expect_error "count 0" "--count must be" --weights "$dir/w.txt" --count 0 --seed 1 --device cpu
expect_error "count not a number" "--count must be" --weights "$dir/w.txt" --count x --seed 1 --device cpu
expect_error "missing seed" "--seed is required" --weights "$dir/w.txt" --count 5 --device cpu
expect_error "unknown flag" "unknown flag" --weights "$dir/w.txt" --count 5 --seed 1 --bogus 1
expect_error "bad device" "--device must be" --weights "$dir/w.txt" --count 5 --seed 1 --device tpu
if ! nvidia-smi >/dev/null 2>&1; then
  expect_error "cuda without a GPU" "no CUDA device" --weights "$dir/w.txt" --count 5 --seed 1 --device cuda
else
  "$bin" --weights "$dir/w.txt" --count 1000 --seed 7 --device cuda >"$dir/g"
  check "cuda gives the reference's output" cmp -s "$dir/a" "$dir/g"
fi
echo "cli: $fails failed"
[ "$fails" -eq 0 ]
