#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver are installed (Debian packages), for the
# browser tests. Needs root (or passwordless sudo) the first time on a machine.
set -euo pipefail

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
