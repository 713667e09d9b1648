#!/usr/bin/env bash
# Installs the built package to a temporary prefix, builds tests/install/consumer
# against it with find_package(cuis), and runs the consumer.
set -eu
build=$1 consumer=$2 archs=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
cmake -S "$consumer" -B "$dir/build" -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build "$dir/build" -j 2 >/dev/null
"$dir/build/consumer"
