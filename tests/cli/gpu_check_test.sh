#!/usr/bin/env bash
# scripts/gpu-check without a GPU: it refuses at once, before building; its
# rehearsal runs every default phase's non-GPU part in order within the
# budget and writes summary.md (suite counts first) in at most 8 files; a
# spent budget skips phases, saying so; bad arguments are refused.
# Usage: gpu_check_test.sh ROOT BUILD
set -u
root=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

if nvidia-smi -L 2>/dev/null | grep -q "^GPU"; then
  echo "a GPU is visible: the no-GPU refusal is not tested here"
else
  t0=$SECONDS
  BUILD="$tmp/never-built" OUT="$tmp/refused" "$root/scripts/gpu-check" >"$tmp/refused.log" 2>&1
  rc=$?
  check "no GPU: exit 3 (got $rc)" '[ $rc -eq 3 ]'
  check "no GPU: refused within seconds" '[ $((SECONDS - t0)) -le 5 ]'
  check "no GPU: the message says so" 'grep -q "no NVIDIA GPU" "$tmp/refused.log"'
  check "no GPU: nothing built" '[ ! -e "$tmp/never-built" ]'
fi

BUILD="$build" OUT="$tmp/out" "$root/scripts/gpu-check" --rehearse --no-pack >"$tmp/rehearse.log" 2>&1
rc=$?
check "rehearsal: exit 0 (got $rc)" '[ $rc -eq 0 ]'
s=$tmp/out/summary.md
check "rehearsal: summary.md begins with the title" '[ "$(head -n 1 "$s")" = "# cuis GPU check" ]'
check "rehearsal: says it is a rehearsal" 'grep -q "rehearsal without a GPU" "$s"'
for suite in sampler nn train; do
  check "rehearsal: suite $suite counted" 'grep -qE "^\| $suite \| [0-9]+ \| [0-9]+ \| [0-9]+ \|" "$s"'
done
check "rehearsal: suite counts before the phases" \
  '[ "$(grep -n "^| test suite" "$s" | cut -d: -f1)" -lt "$(grep -n "^| phase" "$s" | cut -d: -f1)" ]'
order=$(sed -n '/^| phase/,/^$/p' "$s" | grep '^|' | tail -n +3 | cut -d'|' -f2 | tr -d ' ' | tr '\n' ' ')
check "rehearsal: default phases in priority order ($order)" \
  '[ "$order" = "tests-sampler tests-nn tests-train memcheck bench-sampler bench-trainer bench-backends tests-cudnn wallclock " ]'
check "rehearsal: the benchmark filters select benchmarks" 'grep -qE "bench-sampler .*selects [1-9]" "$s"'
check "rehearsal: the backends benchmark lists its 36 runs (24, then the 12 cudnn ones apart)" \
  'grep -qE "^\| bench-backends \|.*selects 24 benchmarks \+ 12 cudnn runs" "$s"'
check "rehearsal: tests-cudnn reports both its suites" 'grep -qE "^\| cudnn \|" "$s" && grep -qE "^\| cudnn-train \|" "$s"'
check "rehearsal: the summary says which cuDNN" 'grep -qE "^- cuDNN: (cuDNN 9\.|not found)" "$s"'
check "rehearsal: wall-clock table" 'grep -q "| uniform |" "$s"'
check "rehearsal: at most 8 files back" '[ "$(find "$tmp/out" -type f | wc -l)" -le 8 ]'
check "rehearsal: logs hold the suites' reports" 'tar tzf "$tmp/out/logs.tar.gz" | grep -q "suite-sampler.json"'

BUILD="$build" OUT="$tmp/spent" "$root/scripts/gpu-check" --rehearse --no-pack --budget 0 >"$tmp/spent.log" 2>&1
check "spent budget: every phase skipped for time" \
  '[ "$(grep -c "| skipped for time |" "$tmp/spent/summary.md")" -eq 9 ]'

"$root/scripts/gpu-check" --rehearse --bogus >"$tmp/bad.log" 2>&1
rc=$?
check "unknown flag: exit 2 and named (got $rc)" '[ $rc -eq 2 ] && grep -q -- "--bogus" "$tmp/bad.log"'
"$root/scripts/gpu-check" --rehearse no-such-phase >"$tmp/bad.log" 2>&1
rc=$?
check "unknown phase: exit 2 and named (got $rc)" '[ $rc -eq 2 ] && grep -q "no-such-phase" "$tmp/bad.log"'

if [ $fails -gt 0 ]; then
  echo "--- rehearsal output"; cat "$tmp/rehearse.log"
  exit 1
fi
