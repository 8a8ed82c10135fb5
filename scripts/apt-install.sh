#!/usr/bin/env bash
# Installs those of the given Debian packages that are not installed yet (after an
# `apt-get update`), for scripts/setup.sh, build-target.sh and check-apple.sh. Uses sudo when
# not root. Bounded: the update gets 10 minutes, the install 15.
#
#   scripts/apt-install.sh WHO PACKAGE...    # WHO prefixes the message saying what it installs
set -euo pipefail
who=$1
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "$who: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
timeout 600 $sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive timeout 900 \
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
