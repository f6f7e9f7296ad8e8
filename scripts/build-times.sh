#!/usr/bin/env bash
# Release build times of the server: from nothing (every dependency compiled, in a target
# directory of its own so the usual one stays warm) and after a one-file change to our
# own code. Writes target/bench/build-times.json, which `just bench` puts in its report.
# Not part of `just bench`: the clean build alone takes most of ten minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lockdev-build-times.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
build() { CARGO_TARGET_DIR="$scratch" cargo build --release --quiet --bin lockdev; }

echo "build-times: clean release build (dependencies included)" >&2
start=$(now_ms); build; clean_ms=$(($(now_ms) - start))
# A change to one of our files recompiles the application crate, not the dependencies.
touch src/web/mod.rs
echo "build-times: incremental release build after touching src/web/mod.rs" >&2
start=$(now_ms); build; incremental_ms=$(($(now_ms) - start))

mkdir -p target/bench
cat >target/bench/build-times.json <<JSON
{
  "measured_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "cores": $(nproc),
  "clean_release_seconds": $(awk "BEGIN { printf \"%.1f\", $clean_ms / 1000 }"),
  "incremental_release_seconds": $(awk "BEGIN { printf \"%.1f\", $incremental_ms / 1000 }")
}
JSON
cat target/bench/build-times.json
