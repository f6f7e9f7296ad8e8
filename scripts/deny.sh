#!/usr/bin/env bash
# cargo deny over what we depend on (deny.toml says what is allowed, and why):
# licences, banned and duplicate-source crates, where crates come from, and known
# vulnerabilities (the RustSec advisory database).
#
# The advisory database is a git repository on GitHub. Where GitHub cannot be reached (a
# machine limited to package registries), the other checks still run and the script says
# plainly that advisories were not checked; set CARGO_DENY_REQUIRE_ADVISORIES=1 to make
# that an error instead (release pipelines should).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny: installing cargo-deny" >&2
  cargo install cargo-deny --locked --quiet --version 0.20.2
fi

cargo deny --log-level warn check licenses bans sources

if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny --log-level warn check --disable-fetch advisories
elif [ "${CARGO_DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then
  echo "deny: the advisory database cannot be fetched, and advisories are required" >&2
  exit 1
else
  echo "deny: the advisory database (github.com/rustsec/advisory-db) cannot be reached from this machine; advisories NOT checked" >&2
fi
