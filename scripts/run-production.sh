#!/usr/bin/env bash
# The production topology on this machine: PostgreSQL, Redis and RabbitMQ already running
# (DB_*, REDIS_*, RABBITMQ_* variables; defaults: loopback, as on a dev box), two Rasa
# replicas on :5015 and :5025 behind the balancer on :5005, the action server, the handoff
# relay (:5006) and the metrics service (:5007). Same as docker-compose.yml without Docker.
# Extra arguments go to `supportbot run` (e.g. --replicas 3, --no-chat).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python -m bot run --production "$@"
