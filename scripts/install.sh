#!/usr/bin/env bash
# Install the bot into ./.venv (idempotent; re-runs only when requirements change).
#
# Rasa Open Source 3.6.21 declares Python < 3.11 and some of its pins only apply under
# `python_version < "3.11"` markers, so a plain `pip install rasa` on 3.11 goes wrong.
# The recipe below (verified on Python 3.11): install Rasa's dependency list resolved for
# 3.11 under our constraints, then rasa + rasa-sdk themselves without dependency checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
  echo "error: Python 3.11 is required (found: $("$PYTHON" --version 2>&1))." >&2
  echo "       Install Python 3.11 and re-run, or point PYTHON=/path/to/python3.11 at it." >&2
  exit 1
fi

VENV=.venv
STAMP="$VENV/.install-stamp"
LOG="$VENV/install.log"
want=$(cat requirements/*.txt scripts/install.sh pyproject.toml web/package-lock.json | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "==> .venv is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
: > "$LOG"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step() {
  local title=$1; shift
  local start=$SECONDS
  printf '==> %s ... ' "$title"
  if "$@" >>"$LOG" 2>&1; then
    echo "done ($((SECONDS - start)) s)"
  else
    echo "FAILED"
    echo "--- last lines of $LOG ---" >&2
    grep -v "is ignored: it is neither" "$LOG" | tail -n 30 >&2
    exit 1
  fi
}

echo "Installing into $VENV (first time: about 5 minutes, ~3 GB; log: $LOG)"
step "Rasa 3.6 dependencies (TensorFlow 2.12, ...)" \
  "${PIP[@]}" install -r requirements/rasa-deps.txt -c requirements/constraints.txt
step "rasa 3.6.21 and rasa-sdk 3.6.2" \
  "${PIP[@]}" install --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
step "NLU embeddings (torch CPU, sentence-transformers) and test tools" \
  "${PIP[@]}" install -r requirements/project.txt -c requirements/constraints.txt
step "the bot package (editable)" \
  "${PIP[@]}" install --no-deps -e .
if command -v npm >/dev/null 2>&1; then
  step "web chat assets (socket.io client, npm ci)" \
    npm ci --prefix web --no-audit --no-fund --silent
else
  echo "==> note: npm not found; the website chat widget needs web/node_modules (install Node.js + npm, re-run)"
fi
step "import check" \
  "$VENV/bin/python" -c "import rasa, rasa_sdk, sentence_transformers, bot.nlu.sentence_featurizer"
echo "$want" > "$STAMP"
echo "==> installed: $("$VENV/bin/rasa" --version 2>/dev/null | grep -m1 'Rasa Version' | tr -s ' ')"
