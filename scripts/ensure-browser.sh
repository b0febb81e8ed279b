#!/usr/bin/env bash
# The website-chat test drives a real headless Chromium from Debian's packages.
# Installs it when missing and we may (root or passwordless sudo); otherwise says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "==> note: no chromium and no apt-get: the browser test will not run (set SUPPORTBOT_CHROMIUM to a Chromium binary)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "==> note: chromium missing; install it with: sudo apt-get install chromium"
    exit 0
  fi
fi
printf '==> installing Chromium for the browser test (apt-get, about a minute) ... '
start=$SECONDS
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  echo "done ($((SECONDS - start)) s)"
else
  echo "FAILED (the browser test will fail under CI=true)"
fi
