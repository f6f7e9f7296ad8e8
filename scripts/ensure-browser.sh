#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver are installed (Debian packages), for the
# browser tests. Needs root (or passwordless sudo) the first time on a machine.
set -euo pipefail

# axe-core (accessibility rules) for the browser tests, from the npm registry, pinned;
# kept under target/ with the other build outputs.
axe_version=4.11.4
axe_dir="$(dirname "$0")/../target/e2e"
if ! grep -qs "\"version\": \"$axe_version\"" "$axe_dir/node_modules/axe-core/package.json"; then
  echo "ensure-browser: installing axe-core $axe_version" >&2
  mkdir -p "$axe_dir"
  npm install --silent --no-audit --no-fund --no-save --prefix "$axe_dir" "axe-core@$axe_version" >/dev/null
fi

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
echo "ensure-browser: installing chromium and chromium-driver" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
