# Sourced by the scripts: make (or reuse) ./.venv and install flashc into it.
# Usage: . scripts/_venv.sh [extras]   e.g. ". scripts/_venv.sh test"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
spec="."
if [ -n "${1:-}" ]; then spec=".[$1]"; fi
echo "==> installing flashc ($spec) into .venv"
# pip's own chatter goes to a log, shown only when the install fails.
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
       && .venv/bin/python -m pip install --disable-pip-version-check -e "$spec"; } > .venv/pip.log 2>&1; then
  cat .venv/pip.log >&2
  echo "error: installing flashc failed (log above, also in .venv/pip.log)" >&2
  exit 1
fi
export PATH="$PWD/.venv/bin:$PATH"
