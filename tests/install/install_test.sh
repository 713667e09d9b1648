#!/usr/bin/env bash
# Installs the built package to a temporary prefix, checks that every tool
# README documents is installed, then builds tests/install/consumer against
# it with find_package(cuis): the consumer program and every code snippet of
# README.md and docs/*.md (each ```cpp block follows a `<!-- snippet: NAME -->`
# line; names are unique across the pages), with
# warnings as errors. Runs the consumer and the NAME_cpu snippets; the
# NAME_gpu snippets run only where a GPU is present.
# Usage: install_test.sh BUILD CONSUMER_DIR CUDA_ARCHS REPO
set -eu
build=$1 consumer=$2 archs=$3 repo=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
for tool in cuis-sample cuis-train cuis-demo; do
  [ -x "$dir/prefix/bin/$tool" ] || { echo "install: $tool is not installed"; exit 1; }
done
cp -r "$consumer" "$dir/src"
python3 - "$repo" "$dir/src/snippets" <<'PY'
import glob, os, re, sys
os.makedirs(sys.argv[2])
pages = [os.path.join(sys.argv[1], "README.md")] + sorted(glob.glob(os.path.join(sys.argv[1], "docs", "*.md")))
snippets = []
for page in pages:
    text = open(page).read()
    blocks = re.findall(r"```cpp\n", text)
    found = re.findall(r"<!-- snippet: (\w+) -->\n```cpp\n(.*?)```", text, re.S)
    if len(found) != len(blocks):
        sys.exit(f"install: {page} has {len(blocks)} C++ blocks but {len(found)} marked snippets: mark every block")
    snippets += found
names = [n for n, _ in snippets]
if len(set(names)) != len(names):
    sys.exit(f"install: snippet names repeat across the pages: {sorted(n for n in set(names) if names.count(n) > 1)}")
if len(snippets) < 5:
    sys.exit(f"install: only {len(snippets)} snippets found in README.md and docs/")
for name, code in snippets:
    if not (name.endswith("_cpu") or name.endswith("_gpu")):
        sys.exit(f"install: snippet {name} must end in _cpu or _gpu")
    open(os.path.join(sys.argv[2], name + ".cpp"), "w").write(code)
print("snippets:", " ".join(n for n, _ in snippets))
PY
cmake -S "$dir/src" -B "$dir/build" -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build "$dir/build" -j 2 >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
"$dir/build/consumer"
gpu=0
nvidia-smi -L 2>/dev/null | grep -q "^GPU" && gpu=1
for exe in "$dir"/build/snippet_*; do
  name=$(basename "$exe")
  case $name in
    *_gpu) [ $gpu -eq 1 ] || { echo "$name: compiled; not run (no GPU)"; continue; } ;;
  esac
  echo "$name:"
  "$exe" || { echo "install: $name failed"; exit 1; }
done
