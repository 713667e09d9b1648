#!/usr/bin/env bash
# The loss-predictor study (issue: the predictor earns its keep), on the CPU
# reference engine: every cheap scorer against uniform and the loss sampler at
# equal steps, with the scores' rank correlation to the true losses logged at
# every evaluation (--eval-scores), then each variant's step cost timed alone.
# Setting: docs/METHOD.md section 7's (Fashion-MNIST standardised, MLP
# 784-128-10, Adam lr 1e-3, batch 128, P = 1024), k = 0.5.
# Usage: bench/train/predictor_study.sh OUT_DIR
#   (env: STEPS=1500, SEEDS="1 2 3", EVALS=10, JOBS=2, TIME_STEPS=300,
#    TRAIN=a cuis-train binary, VARIANTS="name ..." to run a subset)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: predictor_study.sh OUT_DIR}
steps=${STEPS:-1500} seeds=${SEEDS:-"1 2 3"} evals=${EVALS:-10} jobs=${JOBS:-2} time_steps=${TIME_STEPS:-300}
train=${TRAIN:-$root/build/src/cli/cuis-train}
every=$((steps / evals))
mkdir -p "$out"

flags() {  # the variant's sampler flags
  case $1 in
    *-all-*|*-p[0-9]*) ;;
    *) printf -- "--presample 1024 " ;;
  esac
  case $1 in
    uniform) echo "--sampler uniform" ;;
    loss-k0.5) echo "--sampler loss --k 0.5" ;;
    predicted-a0.5) echo "--sampler predicted --k 0.5 --power 0.5" ;;
    predicted-log-a0.5) echo "--sampler predicted --predictor-log on --k 0.5 --power 0.5" ;;
    predicted-log) echo "--sampler predicted --predictor-log on --k 0.5" ;;
    cache-a0.5) echo "--sampler cache --k 0.5 --power 0.5" ;;
    cache) echo "--sampler cache --k 0.5" ;;
    cache-all-a0.5) echo "--sampler cache --k 0.5 --power 0.5 --presample all" ;;
    cache-p8192-a0.5) echo "--sampler cache --k 0.5 --power 0.5 --presample 8192" ;;
    cache-p16384-a0.5) echo "--sampler cache --k 0.5 --power 0.5 --presample 16384" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}
variants=${VARIANTS:-"uniform loss-k0.5 predicted-a0.5 predicted-log-a0.5 predicted-log cache-a0.5 cache cache-all-a0.5"}
common="--data fashion-mnist --device cpu --hidden 128 --batch 128"

run() {  # NAME SEED
  local name=$1 seed=$2 scores=on
  [ "$name" = uniform ] && scores=off
  # shellcheck disable=SC2046
  "$train" $common --steps "$steps" --eval-every "$every" --seed "$seed" --eval-scores "$scores" \
    --log "$out/$name-$seed.csv" $(flags "$name") >"$out/$name-$seed.out" 2>&1
  [ "$(tail -n 1 "$out/$name-$seed.csv" | cut -d, -f1)" = "$steps" ]
}
running=0 failed=0
for seed in $seeds; do
  for v in $variants; do
    if [ "$running" -ge "$jobs" ]; then wait -n || failed=1; running=$((running - 1)); fi
    run "$v" "$seed" &
    running=$((running + 1))
  done
done
while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
[ "$failed" -eq 0 ] || { echo "predictor_study: a run failed (see $out/*.out)" >&2; exit 1; }

# Step cost: each variant alone, TIME_STEPS steps, one evaluation at the end
# (wall_s counts training time only), after the runs above.
for v in $variants; do
  # shellcheck disable=SC2046
  "$train" $common --steps "$time_steps" --eval-every "$time_steps" --seed 1 --log "$out/time-$v.csv" \
    $(flags "$v") >/dev/null 2>&1
done
python3 "$root/bench/train/study_table.py" "$out"
