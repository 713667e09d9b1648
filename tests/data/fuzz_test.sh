#!/usr/bin/env bash
# The loader fuzz target (tests/data/fuzz/loaders_fuzz.cpp) for a bounded time
# from a small seed corpus, through tests/common/run_fuzz.sh. Exit 77
# (skipped) without clang or its fuzzer runtime.
set -u
root=$1 seconds=${2:-20}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 - "$seeds" <<'PY'
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
bash "$root/tests/common/run_fuzz.sh" "$root" "$seconds" "$seeds" tests/data/fuzz/loaders_fuzz.cpp src/data/data.cpp \
  src/core/error.cpp src/core/binary_io.cpp -lz
