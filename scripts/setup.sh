#!/usr/bin/env bash
# One command that sets saln up on a fresh Debian 12 machine: system packages, then npm ci
# (which builds the native addon and compiles the TypeScript).
#   libtorch-dev        the engine (libtorch 1.13, CPU) the addon links against
#   libopenblas0-pthread  makes the system BLAS/LAPACK that libtorch calls OpenBLAS, not the slow reference build
#   g++ make python3    node-gyp's toolchain
#   python3-torch, python3-torchvision   PyTorch for the side-by-side benchmarks (tests do not need them)
#   chromium            the browser the report test drives with playwright-core (no browser download)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  libtorch-dev libopenblas0-pthread g++ make python3 \
  python3-torch python3-torchvision chromium libgloo-dev
npm ci
