#!/usr/bin/env bash
# Installs every dependency seqmix needs on Debian 12 (bookworm). Idempotent: when
# everything is present it only checks and returns (well under a second).
set -euo pipefail

PKGS=(
  cmake ninja-build ccache make
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  clang-22 lld-22 clang-format-22 libomp-22-dev
  libgtest-dev libdlpack-dev
  python3 python3-numpy python3-dev python3-venv
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

# The project's Python environment: PyTorch for seqmix-bench's peers and the
# tests that compare against them. It lives outside the checkout so that
# every clone on this machine shares one copy of the (large) wheels;
# SEQMIX_VENV moves it (then configure with -DSEQMIX_DEFAULT_PYTHON).
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
SEQMIX_VENV=${SEQMIX_VENV:-$home/.cache/seqmix/venv}
# What the venv holds: numpy and PyTorch (the bench's peers and the tests
# against them), pytest and JAX for the Python package's tests.
VENV_REQS=("numpy>=1.24" "torch>=2.5" "pytest>=7" "jax>=0.4.30")
install_venv() {
  # The stamp holds the requirements it was made for and is written once
  # the packages import (importing torch takes seconds; this check must
  # not). New requirements install into the existing venv.
  local stamp="$SEQMIX_VENV/.seqmix-deps-ok"
  if [ -x "$SEQMIX_VENV/bin/python3" ] && [ -f "$stamp" ] &&
     [ "$(cat "$stamp")" = "${VENV_REQS[*]}" ]; then
    return 0
  fi
  if [ ! -x "$SEQMIX_VENV/bin/python3" ]; then
    echo "install-deps: creating $SEQMIX_VENV (numpy, PyTorch, pytest, JAX; a few GB)"
    # Debian's interpreter: seqmix-bench embeds its libpython.
    /usr/bin/python3 -m venv "$SEQMIX_VENV"
  else
    echo "install-deps: updating $SEQMIX_VENV (${VENV_REQS[*]})"
  fi
  "$SEQMIX_VENV/bin/python3" -m pip install --quiet --disable-pip-version-check \
    "${VENV_REQS[@]}"
  "$SEQMIX_VENV/bin/python3" -c "import torch, numpy, pytest, jax"
  echo "${VENV_REQS[*]}" > "$stamp"
}

if [ ${#missing[@]} -eq 0 ]; then
  install_venv
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
install_venv
