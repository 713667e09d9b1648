#!/usr/bin/env bash
# cuis-train end to end on the CPU engine with synthetic data: the CSV log,
# the one-file checkpoint, resuming with the same command (the budget is the
# run's total; the log continues; an interrupted run ends as an uninterrupted
# one), resumes that would change the run refused by name, and one-line
# errors (exit 2 for flags, 1 otherwise) for bad flags, data and machines.
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
expect_error() {  # NAME RC PATTERN ARGS...: exit RC and exactly one line on stderr matching PATTERN
  local name=$1 want=$2 pattern=$3; shift 3
  "$bin" "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" "$dir/err" && [ "$(wc -l <"$dir/err")" -eq 1 ]; then
    echo "ok   $name"
  else
    echo "FAIL $name (rc=$rc)"; cat "$dir/err"; fails=$((fails + 1))
  fi
}
# Columns but wall_s (training time differs from run to run).
strip() { cut -d, -f1,2,4-10 "$1"; }
# A trainer checkpoint but its training time (bytes 12..19) and checksum (the last 8).
state() { tail -c +21 "$1" | head -c -8 | od -An -tx1; }
common=(--data synthetic --hidden 16 --batch 32 --presample 64 --device cpu --seed 3 --sampler predicted --adaptive-smooth 0.1)

"$bin" "${common[@]}" --steps 40 --eval-every 20 --log "$dir/full.csv" 2>"$dir/plan"
check "a run writes its log" [ -s "$dir/full.csv" ]
check "log header" bash -c "head -n 1 '$dir/full.csv' | grep -qx 'step,epoch,wall_s,samples,batch_loss,train_loss,test_loss,test_error,sampler,tau,score_rank_corr'"
check "evaluations at 0, 20, 40" [ "$(cut -d, -f1 "$dir/full.csv" | tail -n +2 | tr '\n' ' ')" = "0 20 40 " ]
for what in "predicted sampling" "batch 32" "seed 3" "network 32-16-10" "data synthetic" "engine cpu" "40 steps"; do
  check "says what it is about to do: $what" grep -q "$what" "$dir/plan"
done
if ! nvidia-smi >/dev/null 2>&1; then
  "$bin" --data synthetic --device auto --hidden 8 --steps 1 2>"$dir/auto" >/dev/null
  check "--device auto says it falls back to the CPU" grep -q "no CUDA device found" "$dir/auto"
fi

# One file, and --steps is the run's total: the same command with --resume finishes the same run.
"$bin" "${common[@]}" --steps 20 --eval-every 20 --checkpoint "$dir/ck" 2>/dev/null
check "checkpoint is one file" bash -c "[ -s '$dir/ck' ] && ! ls '$dir' | grep -q '^ck\.'"
"$bin" "${common[@]}" --steps 40 --eval-every 20 --resume "$dir/ck" --log "$dir/resumed.csv" 2>/dev/null
check "resume continues exactly" [ "$(strip "$dir/full.csv" | tail -n 1)" = "$(strip "$dir/resumed.csv" | tail -n 1)" ]
check "a resumed run onto a new log starts it at the checkpoint" \
  [ "$(cut -d, -f1 "$dir/resumed.csv" | tail -n +2 | tr '\n' ' ')" = "20 40 " ]

# An interrupted run: checkpoint and log at step 20, and a lost tail (a row at
# 30 written after the last checkpoint, a row cut short) that resuming drops.
run=(--steps 40 --eval-every 10)
"$bin" "${common[@]}" "${run[@]}" --log "$dir/ref.csv" --checkpoint "$dir/ref.ck" 2>/dev/null
"$bin" "${common[@]}" --steps 20 --eval-every 10 --log "$dir/run.csv" --checkpoint "$dir/run.ck" 2>/dev/null
echo "30,9,9,9,9,9,9,9,predicted,9" >>"$dir/run.csv"
printf '40,0.15' >>"$dir/run.csv"
kept20=$(grep '^20,' "$dir/run.csv")
"$bin" "${common[@]}" "${run[@]}" --log "$dir/run.csv" --checkpoint "$dir/run.ck" --resume "$dir/run.ck" 2>"$dir/err"
check "the same command resumes" [ $? -eq 0 ]
check "resumed log equals the uninterrupted one (but wall_s)" [ "$(strip "$dir/ref.csv")" = "$(strip "$dir/run.csv")" ]
check "the lost tail is dropped" bash -c "! grep -q '9,9,9' '$dir/run.csv' && ! grep -q '^40,0.15\$' '$dir/run.csv'"
check "rows up to the checkpoint are kept as they were" [ "$(grep '^20,' "$dir/run.csv")" = "$kept20" ]
check "wall_s continues from the checkpoint" \
  awk -F, 'NR > 2 && $3 + 0 < prev { bad = 1 } NR > 1 { prev = $3 + 0 } END { exit bad }' "$dir/run.csv"
check "final checkpoint equals the uninterrupted run's" [ "$(state "$dir/ref.ck")" = "$(state "$dir/run.ck")" ]
"$bin" "${common[@]}" "${run[@]}" --log "$dir/run.csv" --checkpoint "$dir/run.ck" --resume "$dir/run.ck" 2>"$dir/err"
check "resuming a finished run says its budget is spent" grep -q 'budget is spent' "$dir/err"
check "... and trains nothing" [ "$(strip "$dir/ref.csv")" = "$(strip "$dir/run.csv")" ]

# A real interruption (kill -9 wherever it lands after the first checkpoint).
long=(--data synthetic --hidden 32 --batch 32 --presample 64 --device cpu --seed 5 --sampler loss --steps 1500 --eval-every 50)
"$bin" "${long[@]}" --log "$dir/long_ref.csv" --checkpoint "$dir/long_ref.ck" 2>/dev/null
"$bin" "${long[@]}" --log "$dir/long.csv" --checkpoint "$dir/long.ck" 2>/dev/null &
pid=$!
for _ in $(seq 200); do [ -s "$dir/long.ck" ] && break; sleep 0.02; done
sleep 0.2
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$bin" "${long[@]}" --log "$dir/long.csv" --checkpoint "$dir/long.ck" --resume "$dir/long.ck" 2>/dev/null
check "killed and resumed: the same log" [ "$(strip "$dir/long_ref.csv")" = "$(strip "$dir/long.csv")" ]
check "killed and resumed: the same checkpoint" [ "$(state "$dir/long_ref.ck")" = "$(state "$dir/long.ck")" ]

# The checkpoint is one path: copied elsewhere and resumed from there.
mkdir "$dir/elsewhere"
cp "$dir/ck" "$dir/elsewhere/moved"
rm "$dir/ck"
"$bin" "${common[@]}" --steps 40 --eval-every 20 --resume "$dir/elsewhere/moved" --log "$dir/moved.csv" 2>/dev/null
check "a copied checkpoint resumes" [ "$(strip "$dir/full.csv" | tail -n 1)" = "$(strip "$dir/moved.csv" | tail -n 1)" ]

# --epochs and --seconds are totals too.
quick=(--data synthetic --hidden 8 --batch 32 --device cpu --seed 2)
"$bin" "${quick[@]}" --epochs 0.25 --checkpoint "$dir/ep.ck" 2>/dev/null
"$bin" "${quick[@]}" --epochs 0.5 --checkpoint "$dir/ep.ck" --resume "$dir/ep.ck" --log "$dir/ep.csv" 2>/dev/null
check "--epochs is the run's total" [ "$(tail -n 1 "$dir/ep.csv" | cut -d, -f1)" = "128" ]
"$bin" "${quick[@]}" --seconds 0.3 --checkpoint "$dir/s.ck" --log "$dir/s.csv" 2>/dev/null
"$bin" "${quick[@]}" --seconds 0.6 --checkpoint "$dir/s.ck" --log "$dir/s.csv" --resume "$dir/s.ck" 2>/dev/null
check "--seconds is the run's training time" awk -F, 'END { exit !($3 >= 0.6 && $3 < 5) }' "$dir/s.csv"
check "--seconds continues the log" awk -F, 'NR > 1 && $3 >= 0.3 && $3 < 0.6 { mid = 1 } END { exit !mid }' "$dir/s.csv"
if script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$bin' ${quick[*]} --seconds 0.5 --eval-seconds 0.5" /dev/null >"$dir/tty" 2>&1
  check "the progress bar fills for --seconds" grep -q '\[=\{10,\}' "$dir/tty"
  script -qec "'$bin' ${quick[*]} --epochs 2 --eval-every 1000" /dev/null >"$dir/tty" 2>&1
  check "the progress bar fills for --epochs" grep -q '\[=\{10,\}' "$dir/tty"
fi

# Resuming with a setting that changes the run is refused by name; others may differ.
at=(--steps 60 --resume "$dir/run.ck")
expect_error "resume: another batch" 2 "written with --batch 32, this run asks for --batch 64" \
  --data synthetic --hidden 16 --batch 64 --presample 64 --device cpu --seed 3 --sampler predicted --adaptive-smooth 0.1 "${at[@]}"
expect_error "resume: another seed" 2 "written with --seed 3, this run asks for --seed 4" \
  --data synthetic --hidden 16 --batch 32 --presample 64 --device cpu --seed 4 --sampler predicted --adaptive-smooth 0.1 "${at[@]}"
expect_error "resume: another sampler" 2 "written with --sampler predicted, this run asks for --sampler loss" \
  --data synthetic --hidden 16 --batch 32 --presample 64 --device cpu --seed 3 --sampler loss --adaptive-smooth 0.1 "${at[@]}"
expect_error "resume: another network" 2 "written with --hidden 16, this run asks for --hidden 16,16" \
  --data synthetic --hidden 16,16 --batch 32 --presample 64 --device cpu --seed 3 --sampler predicted --adaptive-smooth 0.1 "${at[@]}"
expect_error "resume: another presample" 2 "written with --presample 64, this run asks for --presample 128" \
  --data synthetic --hidden 16 --batch 32 --presample 128 --device cpu --seed 3 --sampler predicted --adaptive-smooth 0.1 "${at[@]}"
expect_error "resume: another learning rate" 2 "written with --lr 0.001, this run asks for --lr 0.01" "${common[@]}" --lr 0.01 "${at[@]}"
expect_error "resume: another k" 2 "written with --k 0.5, this run asks for --k 1" "${common[@]}" --k 1 "${at[@]}"
expect_error "resume: other data" 2 "written on other data.*--normalize" "${common[@]}" --normalize none "${at[@]}"
expect_error "resume: a missing checkpoint" 1 "--resume: .*No such file" "${common[@]}" --steps 60 --resume "$dir/none.ck"
"$bin" "${common[@]}" --steps 50 --eval-every 5 --graph off --resume "$dir/run.ck" --log "$dir/other.csv" \
  --checkpoint "$dir/other.ck" 2>"$dir/err"
check "resume: log, checkpoint, evaluation interval, budget and --graph may differ" [ $? -eq 0 ]

# Flags: CLI11, one line each, never clamped.
expect_error "unknown flag" 2 "unknown flag --bogus" --bogus 1
expect_error "stray argument" 2 "unexpected argument 'stray'" --data synthetic stray
expect_error "repeated flag" 2 "--batch given 2 times" --batch 32 --batch 64
expect_error "seed 2^64" 2 "--seed must be an integer in \[0, 2^64-1\], got '18446744073709551616'" --seed 18446744073709551616
expect_error "negative batch" 2 "--batch must be an integer in \[1, 2^20\], got '-5'" --batch -5
expect_error "flag without a value" 2 "--steps needs a value" --data synthetic --steps
expect_error "presample below batch" 2 "--presample 16 is smaller than --batch 32" --sampler loss --presample 16 --batch 32
"$bin" --help >"$dir/help" 2>&1
check "--help exits 0" [ $? -eq 0 ]
for d in "--batch B=128" "--seed S=1" "--presample P|all=1024" "--sampler uniform|loss|gnorm|predicted|cache=uniform" \
  "--hidden SIZES=512,512" "--lr LR=0.001" "--device auto|cuda|cpu=auto" "--data NAME=fashion-mnist"; do
  check "--help shows the default: $d" grep -qF -- "$d" "$dir/help"
done
"$bin" --data synthetic --device cpu --hidden 8 --batch 32 --steps 1 --k 0.3 --power 0.5 >/dev/null 2>"$dir/err"
check "a sampler flag under --sampler uniform is noted" bash -c "[ $? -eq 0 ] && grep -qx 'cuis-train: note: --k, --power have no effect with --sampler uniform' '$dir/err'"
"$bin" --data synthetic --device cpu --hidden 8 --batch 32 --sampler loss --presample all --steps 1 2>/dev/null
check "--presample all with any batch" [ $? -eq 0 ]
expect_error "unknown sampler" 2 "--sampler must be" --sampler fancy --data synthetic
expect_error "two stop flags" 2 "at most one of" --steps 3 --seconds 2
expect_error "bad hidden" 2 "--hidden must be" --hidden 12,x
expect_error "bad graph switch" 2 "--graph must be on or off" --graph maybe
expect_error "tf32 on the CPU" 2 "CPU engine computes in FP32 only" --data synthetic --device cpu --tf32 on --steps 1
expect_error "unknown backend" 2 "--backend must be cublas, cublaslt or cudnn" --backend mkl --data synthetic
expect_error "backend on the CPU" 2 "--backend cudnn: the CPU engine" --data synthetic --device cpu --backend cudnn --steps 1
"$bin" --data synthetic --device cpu --hidden 8 --batch 32 --steps 1 >/dev/null 2>"$dir/err"
check "the dense layers' backend is named" grep -q "engine cpu, dense layers cpu" "$dir/err"
expect_error "bad normalize" 2 "--normalize must be standard or none" --normalize zscore
expect_error "k above 1" 2 "k 1.5" --data synthetic --device cpu --sampler loss --k 1.5 --steps 1
expect_error "bad data spec" 2 "--data must be" --data nope --device cpu
expect_error "missing mnist dir" 1 "cannot load" --data mnist:/nonexistent --device cpu
expect_error "impossible network" 1 "memory" --device cpu --data synthetic --hidden 100000,100000 --steps 1
printf 'garbage' >"$dir/bad.ck"
expect_error "corrupt resume" 1 "--resume.*not a cuis trainer checkpoint" "${common[@]}" --steps 1 --resume "$dir/bad.ck"
printf 'CUISCKPT-----------------' >"$dir/net.ck"
expect_error "network checkpoint as resume" 1 "a network checkpoint" "${common[@]}" --steps 1 --resume "$dir/net.ck"
printf 'not a log\n' >"$dir/notalog.csv"
expect_error "resume onto a file that is not a log" 1 "not a cuis-train log" "${common[@]}" "${at[@]}" --log "$dir/notalog.csv"
check "... and leaves it alone" [ "$(cat "$dir/notalog.csv")" = "not a log" ]
if ! nvidia-smi >/dev/null 2>&1; then
  expect_error "cuda without a GPU" 1 "no CUDA device" --data synthetic --device cuda --steps 1
fi
# cuis-demo (beside cuis-train): --help, and nothing else.
demo=$(dirname "$bin")/cuis-demo
if [ -x "$demo" ]; then
  "$demo" --help >"$dir/help" 2>&1
  check "cuis-demo --help" bash -c "[ $? -eq 0 ] && grep -q 'Usage: cuis-demo' '$dir/help'"
  "$demo" --bogus >/dev/null 2>"$dir/err"
  check "cuis-demo refuses an unknown flag" bash -c "[ $? -eq 2 ] && grep -q 'unknown flag --bogus' '$dir/err' && [ \$(wc -l <'$dir/err') -eq 1 ]"
  "$demo" stray >/dev/null 2>"$dir/err"
  check "cuis-demo refuses an argument" bash -c "[ $? -eq 2 ] && grep -q \"unexpected argument 'stray'\" '$dir/err'"
fi

# Files that are not regular files are never replaced or waited on: a FIFO as
# --checkpoint, --log or --resume is refused at once (as root, a device would
# be replaced by a rename otherwise); a symbolic link keeps pointing at the
# rewritten file; --log and --checkpoint may not be the same file.
mkfifo "$dir/fifo"
small=(--data synthetic --hidden 8 --batch 32 --device cpu --steps 4 --eval-every 2)
expect_error "--checkpoint a FIFO refused" 1 "is a FIFO" "${small[@]}" --checkpoint "$dir/fifo"
expect_error "--log a FIFO refused" 1 "is a FIFO" "${small[@]}" --log "$dir/fifo"
timeout 20 "$bin" "${small[@]}" --resume "$dir/fifo" >/dev/null 2>"$dir/err"
check "--resume a FIFO refused without waiting" bash -c "[ $? -eq 1 ] && grep -q 'is a FIFO' '$dir/err'"
check "the FIFO is still a FIFO" [ -p "$dir/fifo" ]
expect_error "--checkpoint a directory refused" 1 "is a directory" "${small[@]}" --checkpoint "$dir"
"$bin" "${small[@]}" --checkpoint "$dir/target.ck" 2>/dev/null
ln -s "$dir/target.ck" "$dir/link.ck"
"$bin" "${small[@]}" --steps 6 --checkpoint "$dir/link.ck" 2>/dev/null
check "a linked checkpoint stays a link" [ -L "$dir/link.ck" ]
check "the link's target is rewritten" bash -c "cmp -s '$dir/link.ck' '$dir/target.ck' && [ \$(stat -c %s '$dir/target.ck') -gt 0 ]"
expect_error "--log and --checkpoint the same file" 2 "name the same file" "${small[@]}" --log "$dir/same" --checkpoint "$dir/same"
expect_error "--epochs beyond 2^62 steps" 2 "more than 2^62 steps" --data synthetic --hidden 8 --device cpu --epochs 1e30

echo "train cli: $fails failed"
[ "$fails" -eq 0 ]
