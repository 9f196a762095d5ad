# Sourced by start.sh and test.sh: create or refresh .venv from the pinned requirements.
# Re-installs only when a requirements file changed since the last successful install.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
REQ="${1:-requirements.txt}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
STAMP=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$REQ")"
if [ ! -f "$STAMP" ]; then
  echo "installing $REQ into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$REQ"
  touch "$STAMP"
fi
export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3
