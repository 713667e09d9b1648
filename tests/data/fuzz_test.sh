#!/usr/bin/env bash
# Builds the loader fuzz target with clang (libFuzzer, ASan, UBSan) and runs it
# for a bounded time from a small seed corpus. Exit 77 (skipped) without clang
# or its fuzzer runtime.
set -u
root=$1 seconds=${2:-20}
command -v clang++ >/dev/null 2>&1 || { echo "clang++ not found: fuzz test skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" -I"$root/src" "$root/tests/data/fuzz/loaders_fuzz.cpp" "$root/src/data/data.cpp" "$root/src/core/error.cpp" "$root/src/core/binary_io.cpp" \
    -lz -o "$dir/fuzz" 2>"$dir/build.log"; then
  if grep -q "fuzzer" "$dir/build.log"; then echo "libFuzzer runtime missing: fuzz test skipped"; cat "$dir/build.log"; exit 77; fi
  cat "$dir/build.log"; exit 1
fi
mkdir -p "$dir/corpus"
python3 - "$dir/corpus" <<'PY'
import struct, sys, os
d = sys.argv[1]
img = struct.pack('>IIII', 0x803, 2, 2, 2) + bytes([0, 255, 10, 20, 30, 40, 50, 60])
lab = struct.pack('>II', 0x801, 2) + bytes([3, 9])
# first byte chooses the split point: (split-1)*256/(size-1)
body = img + lab
size = 1 + len(body)
b0 = (len(img) * 256 + size - 2) // (size - 1)
open(os.path.join(d, 'idx'), 'wb').write(bytes([min(b0, 255)]) + body)
open(os.path.join(d, 'cifar'), 'wb').write(bytes([1]) + bytes(3072) + bytes([5]) + bytes(3071))
open(os.path.join(d, 'lying'), 'wb').write(bytes([128]) + struct.pack('>IIII', 0x803, 0x80000000, 28, 28))
PY
"$dir/fuzz" -max_total_time="$seconds" -malloc_limit_mb=512 -rss_limit_mb=2048 -print_final_stats=1 "$dir/corpus" 2>&1 | tail -n 15
rc=${PIPESTATUS[0]}
echo "fuzz: exit $rc"
exit $rc
