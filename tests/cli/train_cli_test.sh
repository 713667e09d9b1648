#!/usr/bin/env bash
# cuis-train end to end on the CPU engine with synthetic data: the CSV log,
# checkpoint and exact resume, and one-line errors for bad flags and data.
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
expect_error() {  # NAME RC PATTERN ARGS...
  local name=$1 want=$2 pattern=$3; shift 3
  "$bin" "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" "$dir/err"; then echo "ok   $name"; else
    echo "FAIL $name (rc=$rc)"; cat "$dir/err"; fails=$((fails + 1)); fi
}
common=(--data synthetic --hidden 16 --batch 32 --presample 64 --device cpu --seed 3 --sampler predicted --adaptive-smooth 0.1)

"$bin" "${common[@]}" --steps 40 --eval-every 20 --log "$dir/full.csv" 2>/dev/null
check "a run writes its log" [ -s "$dir/full.csv" ]
check "log header" bash -c "head -n 1 '$dir/full.csv' | grep -qx 'step,epoch,wall_s,samples,batch_loss,train_loss,test_loss,test_error,sampler,tau'"
check "evaluations at 0, 20, 40" [ "$(cut -d, -f1 "$dir/full.csv" | tail -n +2 | tr '\n' ' ')" = "0 20 40 " ]
"$bin" "${common[@]}" --steps 20 --eval-every 20 --checkpoint "$dir/ck" 2>/dev/null
check "checkpoint files" [ -s "$dir/ck" ] && [ -s "$dir/ck.trainer" ] && [ -s "$dir/ck.trainer.predictor" ]
"$bin" "${common[@]}" --steps 20 --eval-every 20 --resume "$dir/ck" --log "$dir/resumed.csv" 2>/dev/null
# Same step, same losses: columns other than wall_s must agree.
strip() { cut -d, -f1,2,4-10 "$1" | tail -n 1; }
check "resume continues exactly" [ "$(strip "$dir/full.csv")" = "$(strip "$dir/resumed.csv")" ]

expect_error "unknown sampler" 2 "--sampler must be" --sampler fancy --data synthetic
expect_error "unknown flag" 2 "unknown flag" --bogus 1
expect_error "two stop flags" 2 "at most one of" --steps 3 --seconds 2
expect_error "bad hidden" 2 "--hidden must be" --hidden 12,x
expect_error "bad graph switch" 2 "--graph must be on or off" --graph maybe
expect_error "tf32 on the CPU" 2 "CPU engine computes in FP32 only" --data synthetic --device cpu --tf32 on --steps 1
expect_error "bad normalize" 2 "--normalize must be standard or none" --normalize zscore
expect_error "k above 1" 2 "k 1.5" --data synthetic --device cpu --k 1.5 --steps 1
expect_error "bad data spec" 2 "--data must be" --data nope --device cpu
expect_error "missing mnist dir" 1 "cannot load" --data mnist:/nonexistent --device cpu
printf 'garbage' >"$dir/bad.ck"
expect_error "corrupt resume" 1 "--resume" "${common[@]}" --steps 1 --resume "$dir/bad.ck"
if ! nvidia-smi >/dev/null 2>&1; then
  expect_error "cuda without a GPU" 1 "no CUDA device" --data synthetic --device cuda --steps 1
fi
echo "train cli: $fails failed"
[ "$fails" -eq 0 ]
