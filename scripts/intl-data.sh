#!/usr/bin/env bash
# Regenerates guest-runtime/intl-data/: the ICU4X data of the runtime's Intl
# for the languages it supports (below) and the root, as baked Rust source.
# The exporter (scripts/intl-data/, its own Cargo.lock) reads ICU4X's
# compiled data crates from crates.io, so this needs the network once to
# fetch them; `make guest` does not run it (the output is committed).
# After changing the languages: update AVAILABLE in
# guest-runtime/js/70_intl.js and README's Intl section, then `make guest`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
languages=(en de fr es ja)
out=$root/guest-runtime/intl-data
rm -rf "$out"
CARGO_TARGET_DIR=$root/target/intl-data cargo run --quiet --locked \
  --manifest-path "$root/scripts/intl-data/Cargo.toml" -- "$out" "${languages[@]}"
echo "wrote $out for ${languages[*]} ($(du -sk "$out" | cut -f1) KB of source)"
