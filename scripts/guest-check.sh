#!/usr/bin/env bash
# Rebuilds the guest runtime from source and checks it against the committed
# one.
#
# When the installed toolchain equals the one recorded in the build-info file,
# the rebuild must be byte-identical (clean builds are reproducible), so any
# difference means the committed runtime is not what the source builds.
#
# When Debian has moved the toolchain since (a newer rustc-web gives other
# bytes), comparing bytes proves nothing; then the fresh runtime must pass the
# whole test suite instead, and this says clearly that the toolchain moved and
# that `make guest` should be run and committed.
set -euo pipefail
committed=${1:?usage: scripts/guest-check.sh RUNTIME.wasm BUILD-INFO}
info=${2:?usage: scripts/guest-check.sh RUNTIME.wasm BUILD-INFO}
root=$(cd "$(dirname "$0")/.." && pwd)
fresh=$root/target/guest-check/charm-runtime.wasm
mkdir -p "$(dirname "$fresh")"

"$root/scripts/build-guest.sh" "$fresh"

want=$(grep '^sha256 ' "$info" | cut -d' ' -f2)
got=$(sha256sum "$fresh" | cut -d' ' -f1)
committed_sum=$(sha256sum "$committed" | cut -d' ' -f1)
if [ "$want" != "$committed_sum" ]; then
  echo "guest-check: $committed does not match its build-info ($info); run 'make guest' and commit both" >&2
  exit 1
fi
recorded=$(grep '^package ' "$info" | sort)
installed=$("$root/scripts/guest-build-info.sh" "$fresh" | grep '^package ' | sort)

if [ "$got" = "$want" ]; then
  echo "guest-check: the rebuilt runtime is byte-identical to the committed one ($got)"
  exit 0
fi
if [ "$recorded" = "$installed" ]; then
  echo "guest-check: FAILED: with the recorded toolchain the rebuild differs from the committed runtime" >&2
  echo "  committed $want" >&2
  echo "  rebuilt   $got" >&2
  echo "  the committed runtime is not what guest-runtime/ builds: run 'make guest' and commit it" >&2
  exit 1
fi
echo "guest-check: the toolchain moved since the committed runtime was built:" >&2
diff <(echo "$recorded") <(echo "$installed") | sed 's/^/  /' >&2 || true
echo "guest-check: bytes differ as expected; running the test suite against the fresh runtime instead" >&2
CHARM_HOST_RUNTIME_WASM=$fresh CHARM_HOST_CACHE_DIR=$root/target/guest-check/cache \
  cargo test --workspace --locked
echo "guest-check: the fresh runtime passes; run 'make guest' and commit it to record the new toolchain" >&2
