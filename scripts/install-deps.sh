#!/usr/bin/env bash
# Installs every dependency seqmix needs on Debian 12 (bookworm). Idempotent: when
# everything is present it only checks and returns (well under a second).
set -euo pipefail

PKGS=(
  cmake ninja-build ccache make
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  clang-22 lld-22 clang-format-22 libomp-22-dev
  libgtest-dev
  python3 python3-numpy
)

# --sanitizers: also the compiler-rt runtimes (ASan, UBSan, libFuzzer) for
# `make check-asan` and `make fuzz`.
if [ "${1:-}" = "--sanitizers" ]; then
  PKGS+=(libclang-rt-22-dev)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
