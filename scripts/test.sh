#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (ctest), then the
# malformed-input suites and the kernels under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

scripts/setup.sh

echo "== ctest (build/)"
(cd build && ctest -j "$JOBS" --output-on-failure --timeout 600)

echo "== AddressSanitizer + UBSan: the model suite (GGUF parsing, malformed files, tokenizers)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTESSERA_SANITIZE=ON -DTESSERA_PORTABLE=ON >/dev/null
cmake --build build-asan -j "$JOBS" --target tessera_model_test \
  tessera_kernels_test
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build-asan/tests/tessera_model_test
echo "== AddressSanitizer + UBSan: the kernels suite (every CPU ISA this machine runs, OpenCL on PoCL)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build-asan/tests/tessera_kernels_test

echo "test: all suites passed"
