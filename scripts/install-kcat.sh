#!/usr/bin/env bash
# Installs kcat (librdkafka's command-line client) from Debian's packages,
# for the example broker's end-to-end tests. Does nothing when kcat is
# already on PATH. Needs root (or sudo) and the Debian apt mirror.
set -euo pipefail
if command -v kcat >/dev/null 2>&1; then
  echo "install-kcat: $(command -v kcat) already present"
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when kcat is not already known to apt.
if ! apt-cache show kcat >/dev/null 2>&1; then
  $SUDO apt-get update
fi
$SUDO apt-get install -y kcat
kcat -V | head -n 1
