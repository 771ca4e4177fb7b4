#!/usr/bin/env bash
# Installs the Debian 12 packages Tessera needs (only when something is
# missing), then configures and builds into build/ (Release).
#
#   scripts/setup.sh                 host-optimised build (-march=native)
#   TESSERA_PORTABLE=ON scripts/setup.sh   portable build
#   BUILD_DIR=out scripts/setup.sh   another build directory
# Extra arguments are passed to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache
  libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev
  protobuf-compiler-grpc libre2-dev libzstd-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2  # ip and tc for tessera-sim --network netns
  g++-aarch64-linux-gnu qemu-user  # scripts/check_neon.sh (NEON kernels)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DTESSERA_PORTABLE="${TESSERA_PORTABLE:-OFF}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "setup: built into $BUILD_DIR/bin"
