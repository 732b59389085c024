#!/usr/bin/env bash
# Prints what built a runtime: its sha256 and the versions of the Debian
# packages that went into it. `make guest` commits this beside the .wasm.
set -euo pipefail
wasm=${1:?usage: scripts/guest-build-info.sh RUNTIME.wasm}
echo "# The committed guest runtime and the toolchain that built it (make guest)."
echo "sha256 $(sha256sum "$wasm" | cut -d' ' -f1)"
dpkg-query -W -f='package ${Package} ${Version}\n' rustc-web rust-web-src clang-19 lld-19 wasi-libc
