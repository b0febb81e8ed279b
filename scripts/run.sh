#!/usr/bin/env bash
# Install (if needed), load demo customers, train (if data changed), start the action
# server and Rasa, then chat in the terminal. Extra arguments go to `supportbot run`
# (e.g. --sender james, --no-chat, --port 5005).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python -m bot run "$@"
