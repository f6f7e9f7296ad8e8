#!/usr/bin/env bash
# Runs a command with a local emulator of the AWS APIs our adapters call (moto's server),
# so the production adapters (SES v2 today) are tested through the real SDK without an
# AWS account. Sets LOCKDEV_TEST_AWS_ENDPOINT for the command.
#
# When LOCKDEV_TEST_AWS_ENDPOINT is already set it is used as it is. Otherwise moto is
# installed once into a virtual environment under the user's cache directory (from PyPI)
# and started on a free port for the length of the command.
set -euo pipefail

if [ -n "${LOCKDEV_TEST_AWS_ENDPOINT:-}" ]; then
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
  exec "$@"
fi

moto_version=5.2.5
venv="${XDG_CACHE_HOME:-$HOME/.cache}/lockdev/moto-$moto_version"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "with-aws-emulator: installing moto $moto_version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp "${TMPDIR:-/tmp}/lockdev-moto.XXXXXX")
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "with-aws-emulator: moto did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

export LOCKDEV_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
# Dummy credentials for the emulator, so no test can ever reach a real account with the
# developer's own, and no SDK call waits for an instance metadata service.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE
"$@"
