#!/usr/bin/env bash
# Runs a command with a database to test against.
#
# When LOCKDEV_DATABASE_URL and LOCKDEV_MIGRATION_DATABASE_URL are both set, they are used
# as they are (the owner role must be allowed to create databases: tests clone a template
# per test). Otherwise a throw-away cluster is created in a temporary directory on a free
# port, with durability off for speed (LOCKDEV_PG_DURABLE=1 keeps it on, for benchmarks
# that must pay for WAL flushes like production does), and removed when the command ends,
# whatever its outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${LOCKDEV_DATABASE_URL:-}" ] && [ -n "${LOCKDEV_MIGRATION_DATABASE_URL:-}" ]; then
  exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/lockdev-test-pg.XXXXXX")
cleanup() { "$here/pg.sh" reset --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
rmdir "$dir"   # pg.sh creates it with the right owner
if [ "${LOCKDEV_PG_DURABLE:-0}" = 1 ]; then
  "$here/pg.sh" up --dir "$dir"
else
  "$here/pg.sh" up --dir "$dir" --fast
fi
set -a
# shellcheck disable=SC1090
. "$dir.env"
set +a
export LOCKDEV_PG_BINDIR
"$@"
