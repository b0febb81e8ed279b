#!/usr/bin/env bash
# Install the bot into ./.venv (idempotent; re-runs only when requirements change).
#
# Rasa Open Source 3.6.21 declares Python < 3.11 and some of its pins only apply under
# `python_version < "3.11"` markers, so a plain `pip install rasa` on 3.11 goes wrong.
# The recipe (verified on Python 3.11) is two pip commands, the same a user can type:
#   1. rasa + rasa-sdk themselves without their metadata (requirements/rasa.txt);
#   2. the bot with every dependency (pyproject.toml lists Rasa's, resolved for 3.11)
#      under requirements/constraints.txt, the one place for the pins Rasa needs on 3.11.
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
# (The audit allow-list is policy, not an install input: editing it reinstalls nothing.)
want=$(cat requirements/rasa.txt requirements/constraints.txt requirements/audit.txt scripts/install.sh \
  pyproject.toml web/package-lock.json | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "==> .venv is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
: > "$LOG"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
AUDIT="$VENV/audit"  # pip-audit's own environment (requirements/audit.txt says why)

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
# The pip a venv starts with is Python's bundled one, with known vulnerabilities (pip-audit checks it).
step "pip itself, to a release without known vulnerabilities" \
  "${PIP[@]}" install --upgrade "pip>=25.3"
step "rasa 3.6.21, rasa-sdk 3.6.2 and py3langid 0.4.0 (without their metadata: Python < 3.11, numpy >= 2)" \
  "${PIP[@]}" install --no-deps --ignore-requires-python -r requirements/rasa.txt
step "the bot (editable) and its dependencies: TensorFlow 2.12, torch CPU, test tools" \
  "${PIP[@]}" install -c requirements/constraints.txt -e ".[test]"
if command -v npm >/dev/null 2>&1; then
  step "web chat assets (socket.io client, npm ci)" \
    npm ci --prefix web --no-audit --no-fund --silent
else
  echo "==> note: npm not found; the website chat widget needs web/node_modules (install Node.js + npm, re-run)"
fi
install_audit() {  # (&&: `set -e` does not apply inside a function run as a condition)
  { [ -x "$AUDIT/bin/python" ] || "$PYTHON" -m venv "$AUDIT"; } \
    && "$AUDIT/bin/python" -m pip install --disable-pip-version-check --upgrade "pip>=25.3" \
    && "$AUDIT/bin/python" -m pip install --disable-pip-version-check -r requirements/audit.txt
}
step "pip-audit in its own environment ($AUDIT, for scripts/audit.py)" install_audit
step "import check" \
  "$VENV/bin/python" -c "import rasa, rasa_sdk, sentence_transformers, py3langid, bot.nlu.sentence_featurizer"
echo "$want" > "$STAMP"
echo "==> installed rasa $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("rasa"))')"
