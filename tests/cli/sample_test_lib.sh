# Shared by the cuis-sample tests: sourced after setting bin (the tool).
# Makes $dir (removed on exit) and counts failures in $fails.
dir=$(mktemp -d)
trap 'chmod -R u+rwx "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
fails=0
check() {  # check NAME COMMAND...: the command succeeds
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
# expect_error CODE NAME TEXT ARGS...: exit status CODE, nothing on stdout, and
# exactly one line on stderr, "cuis-sample: error: ...", containing TEXT.
expect_error() {
  local code=$1 name=$2 text=$3; shift 3
  timeout 60 "$bin" "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  local lines; lines=$(wc -l <"$dir/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" "$dir/err" &&
     grep -q '^cuis-sample: error: ' "$dir/err" && [ ! -s "$dir/out" ]; then
    echo "ok   $name"
  else
    echo "FAIL $name (rc=$rc, want $code)"; cat "$dir/err"; fails=$((fails + 1))
  fi
}
# same_output NAME FILE_A FILE_B ARGS...: both score files give the same draws.
same_output() {
  local name=$1 a=$2 b=$3; shift 3
  "$bin" --weights "$a" "$@" >"$dir/same_a" 2>"$dir/err" && "$bin" --weights "$b" "$@" >"$dir/same_b" 2>>"$dir/err" &&
    [ -s "$dir/same_a" ] && cmp -s "$dir/same_a" "$dir/same_b"
  check "$name" [ $? -eq 0 ]
}
finish() {
  echo "$1: $fails failed"
  [ "$fails" -eq 0 ]
}
