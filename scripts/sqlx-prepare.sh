#!/usr/bin/env bash
# Regenerates .sqlx/ (the compile-time data of sqlx's query! macros), or with --check
# verifies that the committed copy is current. This is what `cargo sqlx prepare` does,
# without needing sqlx-cli installed: the macros write their data to SQLX_OFFLINE_DIR
# when they are expanded against a live database.
#
# Needs LOCKDEV_MIGRATION_DATABASE_URL (the owner role, which may create databases);
# `just sqlx-prepare` and `just check` provide one. A scratch database is created with
# every migration applied, and dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-write}
owner_url=${LOCKDEV_MIGRATION_DATABASE_URL:?set LOCKDEV_MIGRATION_DATABASE_URL, or run through just}
psql_bin=psql
if [ -n "${LOCKDEV_PG_BINDIR:-}" ] && [ -x "$LOCKDEV_PG_BINDIR/psql" ]; then psql_bin="$LOCKDEV_PG_BINDIR/psql"; fi
command -v "$psql_bin" >/dev/null || { echo "sqlx-prepare: psql not found" >&2; exit 1; }

scratch="lockdev_sqlx_prepare_$$"
base_url=${owner_url%/*}
scratch_url="$base_url/$scratch"
out=$(mktemp -d)
cleanup() {
  "$psql_bin" -X -q "$base_url/postgres" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
  rm -rf "$out"
}
trap cleanup EXIT

"$psql_bin" -X -q "$base_url/postgres" -c "CREATE DATABASE $scratch" >/dev/null
# The same bookkeeping table sqlx's migrator creates, so queries against it describe alike.
"$psql_bin" -X -q -v ON_ERROR_STOP=1 "$scratch_url" >/dev/null <<'SQL'
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);
SQL
for migration in migrations/*.sql; do
  "$psql_bin" -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$migration" "$scratch_url" >/dev/null
done

# Expand every query! macro again, online, writing its data to $out.
find src tests -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="$scratch_url" SQLX_OFFLINE_DIR="$out" \
  cargo check --all-targets --quiet

if [ "$mode" = "--check" ]; then
  if ! diff -r -q .sqlx "$out" >/dev/null 2>&1; then
    echo "sqlx-prepare: .sqlx/ is out of date with the queries in the code:" >&2
    diff -r -q .sqlx "$out" >&2 || true
    echo "run \`just sqlx-prepare\` and commit .sqlx/" >&2
    exit 1
  fi
  echo "sqlx-prepare: .sqlx/ is current ($(find "$out" -name "*.json" | wc -l) queries)"
else
  rm -rf .sqlx
  mkdir .sqlx
  cp "$out"/*.json .sqlx/ 2>/dev/null || true
  echo "sqlx-prepare: wrote $(find .sqlx -name "*.json" | wc -l) query files to .sqlx/"
fi
