#!/usr/bin/env bash
# Run the whole test suite (creates .venv, installs test tools and Debian's chromium).
# Extra arguments go to pytest (e.g. -k ingest, -m "not browser").
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no test was collected (e.g. a -k that matches nothing).
[ "$rc" -eq 5 ] && { echo "no tests collected"; exit 1; }
exit "$rc"
