#!/usr/bin/env bash
# Install (if needed) and run the whole test suite: data validation, NLU accuracy on
# held-out examples, end-to-end test stories, actions against SQLite and PostgreSQL, and
# a smoke test against the real Rasa server + action server. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/ensure-browser.sh
./scripts/ensure-haproxy.sh  # the production front (tests/test_production_replicas.py)
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
