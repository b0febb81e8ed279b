#!/usr/bin/env bash
# The production topology on this machine: PostgreSQL, Redis and RabbitMQ already running
# (DB_*, REDIS_*, RABBITMQ_* variables; defaults: loopback, as on a dev box), two Rasa
# replicas on :5015 and :5025 behind HAProxy (deploy/haproxy.cfg, the file compose runs too:
# customers' channels on :5005, Rasa's HTTP API for the worker on 127.0.0.1:5008, stats on
# 127.0.0.1:5009/stats), the action server and the worker (handoff relay, metrics, X poller;
# :5006). Same as docker-compose.yml without Docker.
# Extra arguments go to `supportbot run` (e.g. --replicas 3, --no-chat).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/ensure-haproxy.sh
exec .venv/bin/python -m bot run --production "$@"
