#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv, idempotently.
#   scripts/_venv.sh core   the library and its CLI (enough for `orchestratex demo`)
#   scripts/_venv.sh dev    everything: extras, adapters, test and lint tools
# A stamp per level records a hash of every pyproject.toml, so a second run with nothing
# changed costs a few milliseconds and a changed pyproject reinstalls.
set -euo pipefail
level="${1:-dev}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python=""
for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "error: OrchestrateX needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version)" >&2
  "$python" -m venv .venv
fi

hash="$(cat pyproject.toml adapters/*/pyproject.toml 2>/dev/null | "$python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
stamp=".venv/.stamp-$level"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
  exit 0
fi

# A .venv without pip: one whose creation failed half-way (Debian/Ubuntu without python3-venv leave it so, and it
# stayed broken after python3-venv was installed), or one made by a tool that adds no pip (`uv venv`)
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "installing pip into .venv (it has none)" >&2
  if ! .venv/bin/python -m ensurepip --upgrade >&2; then
    echo "error: .venv has no pip and ensurepip is not available: install it (Debian/Ubuntu: apt install python3-venv), or remove .venv and run this again" >&2
    exit 2
  fi
fi

pip=(.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off)
echo "installing OrchestrateX ($level) into .venv …" >&2
# pip's log goes to stderr, as progress: stdout is the command's own (`./scripts/demo --json > run.json`)
"${pip[@]}" -q --upgrade pip >&2
if [ "$level" = core ]; then
  "${pip[@]}" -e . >&2
else
  adapters=()
  for dir in adapters/*/; do
    [ -f "$dir/pyproject.toml" ] && adapters+=(-e "$dir")
  done
  "${pip[@]}" -e ".[dev,server,lab]" "${adapters[@]}" >&2
  echo "$hash" > .venv/.stamp-core
fi
echo "$hash" > "$stamp"
