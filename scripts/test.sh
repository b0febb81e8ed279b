#!/usr/bin/env bash
# Install (if needed) and run the whole test suite: data validation, NLU accuracy on
# held-out examples, end-to-end test stories, actions against SQLite and PostgreSQL, and
# a smoke test against the real Rasa server + action server; then audit the installed
# environment for known vulnerabilities (scripts/audit.py: fails on any not in
# requirements/audit-allowlist.txt; an unreachable vulnerability service is a loud warning,
# a failure with SUPPORTBOT_AUDIT_OFFLINE=fail). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/ensure-browser.sh
./scripts/ensure-haproxy.sh  # the production front (tests/test_production_replicas.py)
.venv/bin/ruff check .
# The audit first (its verdict is kept), then the tests, so pytest's summary closes the output.
audit=0
.venv/audit/bin/python scripts/audit.py || audit=$?
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -ne 0 ]; then exit "$status"; fi  # pytest's own status first (5: no tests ran)
exit "$audit"
