#!/usr/bin/env bash
# Installs with apt the Debian package behind each command that is not on PATH; a command
# that is there is left alone, so running it again costs nothing.
# Usage: scripts/apt-install.sh COMMAND=PACKAGE...   (e.g. chromium=chromium nginx=nginx-light)
set -euo pipefail
missing=()
for wanted in "$@"; do
    command -v "${wanted%%=*}" > /dev/null || missing+=("${wanted#*=}")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
as_root=()
if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
