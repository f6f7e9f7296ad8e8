#!/usr/bin/env bash
# A project-local PostgreSQL cluster, started from the installed server binaries.
#
#   scripts/pg.sh up    [--dir DIR] [--port PORT] [--fast]   create if needed, start, provision
#   scripts/pg.sh down  [--dir DIR]                          stop (data kept)
#   scripts/pg.sh reset [--dir DIR]                          stop and delete the cluster
#   scripts/pg.sh env   [--dir DIR]                          print the export lines for it
#
# DIR defaults to .data/pg. `up` writes DIR.env (mode 0600) holding the two database URLs
# with passwords generated on first creation; later runs reuse them. --fast turns off
# durability (fsync) for throw-away test clusters. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root); when no server binaries are
# installed, root on Debian/Ubuntu gets them from apt-get, anyone else is told what to
# install.
set -euo pipefail

cmd=${1:-up}
shift || true
root_dir=$(cd "$(dirname "$0")/.." && pwd)
dir="$root_dir/.data/pg"
port=""
fast=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --fast) fast=1; shift ;;
    *) echo "pg.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
dir=$(realpath -m "$dir")
env_file="$dir.env"
log_file="$dir.log"

say() { echo "pg.sh: $*" >&2; }

find_bindir() {
  local candidate
  if command -v pg_config >/dev/null 2>&1; then
    candidate=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then echo "$candidate"; return 0; fi
  fi
  local found
  found=$(printf '%s\n' /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin \
            /usr/local/opt/postgresql@*/bin | sort -V -r)
  while IFS= read -r candidate; do
    if [ -x "$candidate/initdb" ]; then echo "$candidate"; return 0; fi
  done <<<"$found"
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

ensure_binaries() {
  if bindir=$(find_bindir); then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL server not found; installing it with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    }
    if bindir=$(find_bindir); then return 0; fi
  fi
  cat >&2 <<'MSG'
pg.sh: PostgreSQL server binaries (initdb, pg_ctl) were not found. Install PostgreSQL 15 or newer:
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora/RHEL:    sudo dnf install postgresql-server
  macOS:          brew install postgresql@16
or point Lockdev at an existing server by setting LOCKDEV_DATABASE_URL and
LOCKDEV_MIGRATION_DATABASE_URL (see README.md).
MSG
  exit 1
}

# Run a command as the cluster's OS user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p base=$((20000 + RANDOM % 20000))
  for p in 5433 $(seq "$base" "$((base + 200))"); do
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  say "no free TCP port found"; exit 1
}

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

socket_dir() {
  # Unix socket paths are limited to ~100 bytes; long checkouts fall back to /tmp.
  if [ ${#dir} -lt 80 ]; then echo "$dir"; else echo /tmp; fi
}

is_running() { [ -f "$dir/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; }

psql_super() {
  as_pg "$bindir/psql" -X -q -h "$(socket_dir)" -p "$PGPORT_CHOSEN" -U postgres -d postgres "$@"
}

# A certificate authority of the cluster's own and a server certificate it signed (for
# localhost and 127.0.0.1), so TLS with full verification can be tested against this
# cluster: DIR.ca.crt is the root a client trusts. Skipped when openssl is missing.
ensure_tls() {
  if [ -f "$dir.ca.crt" ] || ! command -v openssl >/dev/null 2>&1; then return 0; fi
  local work
  work=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=Lockdev local database CA" -keyout "$work/ca.key" -out "$work/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$work/server.ext"
  openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
    -days 3650 -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
  install -m 600 "$work/server.key" "$dir/server.key"
  install -m 644 "$work/server.crt" "$dir/server.crt"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/server.key" "$dir/server.crt"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
  install -m 644 "$work/ca.crt" "$dir.ca.crt"
  rm -rf "$work"
  if is_running; then as_pg "$bindir/pg_ctl" -D "$dir" reload >/dev/null; fi
}

cmd_up() {
  ensure_binaries
  if [ -f "$env_file" ]; then
    # shellcheck disable=SC1090
    . "$env_file"
    PGPORT_CHOSEN=$LOCKDEV_PG_PORT
  else
    PGPORT_CHOSEN=${port:-$(pick_port)}
  fi

  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        say "the postgres user cannot write to $dir (a parent directory is private?)."
        say "Move the checkout somewhere readable by other users, or set LOCKDEV_DATABASE_URL."
        exit 1
      fi
    fi
    say "creating a PostgreSQL cluster in $dir"
    as_pg "$bindir/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null 2>&1 || \
      as_pg "$bindir/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C >/dev/null
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $PGPORT_CHOSEN"
      echo "unix_socket_directories = '$(socket_dir)'"
      echo "unix_socket_permissions = 0700"
      echo "max_connections = 300"
      echo "timezone = 'UTC'"
      echo "log_timezone = 'UTC'"
      if [ "$fast" = 0 ]; then
        # Durable clusters carry the benchmarks' million patients: a cache sized like a
        # database server's (a quarter of a small one's memory) rather than the default,
        # and checkpoints spaced so the data load does not force one every few seconds.
        echo "shared_buffers = 2GB"
        echo "max_wal_size = 8GB"
        echo "checkpoint_timeout = 15min"
      fi
      if [ "$fast" = 1 ]; then
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } | as_pg tee -a "$dir/postgresql.conf" >/dev/null
  fi

  ensure_tls

  if ! is_running; then
    touch "$log_file"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$log_file"
    as_pg "$bindir/pg_ctl" -D "$dir" -l "$log_file" -w -t 60 start >/dev/null || {
      say "PostgreSQL did not start; the end of $log_file says:"
      tail -n 20 "$log_file" >&2
      exit 1
    }
  fi

  local owner_password app_password super_password
  if [ -f "$env_file" ]; then
    owner_password=$LOCKDEV_PG_OWNER_PASSWORD
    app_password=$LOCKDEV_PG_APP_PASSWORD
    super_password=$LOCKDEV_PG_SUPER_PASSWORD
  else
    owner_password=$(random_secret)
    app_password=$(random_secret)
    super_password=$(random_secret)
  fi
  psql_super -v owner_password="$owner_password" -v app_password="$app_password" -v database=lockdev \
    -f "$root_dir/scripts/db/provision.sql" >/dev/null
  # A password login with superuser rights, for tests that must act as an attacker who
  # holds it (tampering with the audit log). This cluster is local and throw-away.
  psql_super -v super_password="$super_password" >/dev/null <<'SQL'
SELECT 'CREATE ROLE lockdev_superuser LOGIN SUPERUSER'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lockdev_superuser')\gexec
ALTER ROLE lockdev_superuser PASSWORD :'super_password';
SQL

  if [ ! -f "$env_file" ]; then
    umask 077
    cat >"$env_file" <<ENV
# Written by scripts/pg.sh for the cluster in $dir. Local development only.
LOCKDEV_PG_PORT=$PGPORT_CHOSEN
LOCKDEV_PG_BINDIR=$bindir
LOCKDEV_PG_OWNER_PASSWORD=$owner_password
LOCKDEV_PG_APP_PASSWORD=$app_password
LOCKDEV_PG_SUPER_PASSWORD=$super_password
export LOCKDEV_DATABASE_URL=postgres://lockdev_app:$app_password@127.0.0.1:$PGPORT_CHOSEN/lockdev
export LOCKDEV_MIGRATION_DATABASE_URL=postgres://lockdev_owner:$owner_password@127.0.0.1:$PGPORT_CHOSEN/lockdev
export LOCKDEV_TEST_SUPERUSER_URL=postgres://lockdev_superuser:$super_password@127.0.0.1:$PGPORT_CHOSEN/lockdev
ENV
  fi
  if [ -f "$dir.ca.crt" ] && ! grep -q LOCKDEV_TEST_DATABASE_CA "$env_file"; then
    echo "export LOCKDEV_TEST_DATABASE_CA=$dir.ca.crt" >>"$env_file"
  fi
  say "PostgreSQL is up on 127.0.0.1:$PGPORT_CHOSEN (data in $dir)"
}

cmd_down() {
  bindir=$(find_bindir) || exit 0
  if is_running; then
    as_pg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    say "PostgreSQL in $dir stopped"
  fi
}

cmd_reset() {
  cmd_down
  rm -rf "$dir" "$env_file" "$log_file" "$dir.ca.crt"
  say "cluster in $dir removed"
}

cmd_env() {
  if [ ! -f "$env_file" ]; then say "no cluster yet: run scripts/pg.sh up"; exit 1; fi
  grep '^export ' "$env_file"
}

case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  reset) cmd_reset ;;
  env) cmd_env ;;
  *) echo "usage: scripts/pg.sh up|down|reset|env [--dir DIR] [--port PORT] [--fast]" >&2; exit 2 ;;
esac
