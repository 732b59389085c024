#!/usr/bin/env bash
# Builds the guest runtime (guest-runtime/, a Javy plugin) for wasm32-wasip1
# from Debian's packages, because rustup cannot download a wasm32 target on
# these machines.
#
#   scripts/build-guest.sh OUT.wasm      build into OUT.wasm
#
# It installs what is missing with apt (Rust 1.96 with its std source for
# -Zbuild-std, clang-19 for QuickJS's C, lld-19 as the wasm linker, wasi-libc)
# and prints each step.
#
# The build is reproducible: clean builds give byte-identical files in any
# checkout, which is what `make guest-check` relies on. For that the sources
# are copied to one fixed folder (CHARM_GUEST_STAGE, default
# /var/tmp/charm-host-guest) and built there: cargo hashes a path dependency
# that lies outside the package's workspace (../abi) by its absolute path, and
# that hash reaches the symbol names in the wasm name section.
set -euo pipefail

out=${1:?usage: scripts/build-guest.sh OUT.wasm}
root=$(cd "$(dirname "$0")/.." && pwd)
stage=${CHARM_GUEST_STAGE:-/var/tmp/charm-host-guest}
guest=$stage/guest-runtime
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
packages=(rustc-web cargo-web rust-web-src clang-19 lld-19 llvm-19 wasi-libc libclang-rt-19-dev-wasm32)

step() { printf '[guest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (apt, about 1 GB)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$stage"
exec 9>"$stage.lock"
flock 9
step "staging the sources in $stage"
rm -rf "$stage/abi" "$guest/src" "$guest/js" "$guest/intl-data" "$guest/Cargo.toml" "$guest/Cargo.lock" "$guest/build.rs"
mkdir -p "$guest"
# Plain copies (fresh mtimes): cargo must never take one checkout's files for
# another's build outputs.
cp -r "$root/abi" "$stage/abi"
cp -r "$root/guest-runtime/src" "$root/guest-runtime/js" "$root/guest-runtime/intl-data" "$root/guest-runtime/Cargo.toml" \
  "$root/guest-runtime/Cargo.lock" "$root/guest-runtime/build.rs" "$guest/"
rm -rf "$stage/abi/target"

shims=$guest/target/toolchain
mkdir -p "$shims/bin" "$shims/sysroot/include" "$shims/sysroot/lib"
# rustc calls the wasm linker as `rust-lld -flavor wasm`.
ln -sfn /usr/lib/llvm-19/bin/lld "$shims/bin/rust-lld"
# Debian ships wasi-libc under the wasm32-wasi triple; cc-rs and bindgen ask
# clang for wasm32-wasip1, and CFLAGS below settles on wasm32-wasi. Serve both.
for triple in wasm32-wasi wasm32-wasip1; do
  ln -sfn /usr/include/wasm32-wasi "$shims/sysroot/include/$triple"
  ln -sfn /usr/lib/wasm32-wasi "$shims/sysroot/lib/$triple"
done

export PATH="$shims/bin:/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export RQUICKJS_SYS_NO_WASI_SDK=1
export CC_wasm32_wasip1=clang-19 AR_wasm32_wasip1=llvm-ar-19
export CFLAGS_wasm32_wasip1="--target=wasm32-wasi --sysroot=$shims/sysroot"
export BINDGEN_EXTRA_CLANG_ARGS_wasm32_wasip1="--sysroot=$shims/sysroot"
# The same flags in every checkout: machine paths are trimmed by the
# profile's trim-paths (see guest-runtime/Cargo.toml), not here.
export RUSTFLAGS="-C link-self-contained=no -L /usr/lib/wasm32-wasi"
unset CARGO_BUILD_TARGET RUSTC_WRAPPER

step "building with $(/usr/bin/rustc --version) (std from source; about 2 minutes clean)"
log=$guest/target/build.log
set +e
(cd "$guest" && /usr/bin/cargo -Ztrim-paths build --locked --release -Zbuild-std=std,panic_abort \
  --target wasm32-wasip1) 2>&1 | tee "$log" | grep --line-buffered -E '^\s+(Compiling|Finished)' >&2
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  step "cargo failed (exit $status); the last lines of $log:"
  tail -n 40 "$log" >&2
  if grep -q 'lock file.*needs to be updated' "$log"; then
    step "the guest's dependencies changed: run 'cargo generate-lockfile' in guest-runtime/ and commit Cargo.lock"
  fi
  exit 1
fi
built=$guest/target/wasm32-wasip1/release/charm_runtime.wasm
cp "$built" "$out"
step "wrote $out ($(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)...)"
