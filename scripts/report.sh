#!/usr/bin/env bash
# The customer-experience report (docs/reports.md). Install (if needed), then write the report
# of the last 30 days as HTML, JSON and CSV and print where. With --demo first, a month of demo
# conversations is made (python -m bot demo-month; refused in production, --remove deletes it),
# so a new install has something to show. Other arguments go to `python -m bot report`
# (e.g. --days 7, --from 2026-11-01 --to 2026-11-30, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
if [ "${1:-}" = "--demo" ]; then
  shift
  .venv/bin/python -m bot demo-month
fi
exec .venv/bin/python -m bot report "$@"
