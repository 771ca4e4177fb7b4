#!/usr/bin/env bash
# Proves the AArch64 NEON kernels (kernels/cpu_ops_neon.cc) on an x86 host:
# cross-compiles the conformance driver kernels/aarch64/neon_conformance_main.cc
# twice and runs each build under qemu-aarch64 against the scalar kernels:
#   neon          -march=armv8-a            run as a Cortex-A53 (Raspberry Pi 3)
#   neon-dotprod  -march=armv8.2-a+dotprod  run as a Cortex-A76 (Raspberry Pi 5,
#                                           recent phones)
# The emulated cores have nothing beyond their architecture, so an instruction
# the -march does not allow fails the run. Sources are compiled with the
# project's warning flags plus -Werror.
#
#   scripts/check_neon.sh [OUT_DIR]   build into OUT_DIR (default: a temporary
#                                     directory, removed afterwards)
#
# Exit status: 0 when both variants pass; 1 on a build error or a mismatch;
# 77 (ctest's SKIP_RETURN_CODE) when the cross compiler or qemu-aarch64 is
# missing (scripts/setup.sh installs both), except with CI=true, where a
# missing tool fails the check as missing test data does. Full driver logs
# are kept in OUT_DIR/<variant>.log; failing cases are printed.
#
# Environment: AARCH64_CXX (default aarch64-linux-gnu-g++), QEMU_AARCH64
# (default qemu-aarch64), ABSL_INCLUDE_DIR (default /usr/include; Abseil's
# headers are architecture-independent and only headers are used).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

CXX=${AARCH64_CXX:-aarch64-linux-gnu-g++}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
ABSL_INCLUDE_DIR=${ABSL_INCLUDE_DIR:-/usr/include}
for tool in "$CXX" "$QEMU"; do
  if ! command -v "$tool" >/dev/null; then
    hint="apt-get install g++-aarch64-linux-gnu qemu-user, or scripts/setup.sh"
    if [[ ${CI:-} == true ]]; then
      echo "check_neon: FAIL: $tool not found in CI ($hint)"
      exit 1
    fi
    echo "check_neon: SKIPPED: $tool not found ($hint)"
    exit 77
  fi
done
if [[ ! -d $ABSL_INCLUDE_DIR/absl ]]; then
  echo "check_neon: no Abseil headers in $ABSL_INCLUDE_DIR/absl" >&2
  exit 1
fi

if [[ $# -ge 1 ]]; then
  OUT=$1
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
# Only absl/ of the host's /usr/include, so no x86 libc header can shadow
# the cross toolchain's own.
mkdir -p "$OUT/include"
ln -sfn "$ABSL_INCLUDE_DIR/absl" "$OUT/include/absl"

SOURCES=(
  kernels/aarch64/neon_conformance_main.cc
  kernels/aarch64/standalone_logging.cc
  common/logging.cc
  kernels/cpu_ops_neon.cc
  kernels/cpu_ops_scalar.cc
  kernels/cpu_ops_quant.cc
  kernels/q4_tiles.cc
  kernels/simd.cc
  kernels/thread_pool.cc
)
# As CMakeLists.txt (Release, C++20 without extensions) plus -Werror.
FLAGS=(-std=c++20 -O3 -DNDEBUG -Wall -Wextra -Wno-unused-parameter
  -Wno-missing-field-initializers -Werror -I"$ROOT" -isystem "$OUT/include")

# check VARIANT MARCH CPU: builds and runs one variant; returns non-zero on
# failure.
check() {
  local variant=$1 march=$2 cpu=$3
  local bin="$OUT/neon_conformance_$variant" log="$OUT/$variant.log"
  local start=$SECONDS
  if ! (cd "$ROOT" && "$CXX" "${FLAGS[@]}" -march="$march" -static \
    "${SOURCES[@]}" -o "$bin"); then
    echo "check_neon: $variant: build failed (-march=$march)"
    return 1
  fi
  local rc=0
  "$QEMU" -cpu "$cpu" "$bin" --expect="$variant" >"$log" 2>&1 || rc=$?
  grep -v '^ok ' "$log" || true
  echo "check_neon: $variant (-march=$march on $cpu): exit $rc," \
    "$((SECONDS - start)) s, log $log"
  return "$rc"
}

status=0
check neon armv8-a cortex-a53 || status=1
check neon-dotprod armv8.2-a+dotprod cortex-a76 || status=1
if ((status)); then
  echo "check_neon: FAIL"
else
  echo "check_neon: PASS"
fi
exit "$status"
