"""``supportbot`` command line: train, load demo data, run the bot, chat with it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.settings import SettingsError, customer_database_url, export, project_root, settings


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import ensure_model

    print(ensure_model())
    return 0


def cmd_load_demo_data(args: argparse.Namespace) -> int:
    from bot.customers import CustomerStore
    from bot.customers.demo import load_demo_data

    url = customer_database_url()
    if _is_production() and not getattr(args, "even_in_production", False):
        print("error: SUPPORTBOT_ENVIRONMENT=production: the demo customers (maria, james, priya) are not "
              "loaded into a production database; pass --even-in-production to load them anyway",
              file=sys.stderr)  # fmt: skip
        return 1
    if cmd_db_upgrade(args):
        return 1
    added = load_demo_data(CustomerStore(url))
    where = url.split("@")[-1]
    print(f"==> demo customers: {added} added ({'already loaded' if not added else 'new'}) in {where}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply the schema migrations the database lacks (safe to run on every start)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import where
    from bot.migrations import head_revision, upgrade

    url = customer_database_url()
    try:
        before = upgrade(url)
    except SQLAlchemyError as exc:
        problem = f"cannot migrate the database {where(url)} ({exc.__class__.__name__}: {exc})"
        print(f"error: {problem}; check SUPPORTBOT_DATABASE_URL and that the database server is up",
              file=sys.stderr)  # fmt: skip
        return 1
    head = head_revision()
    if before != head:
        print(f"==> database {where(url)}: schema {before or 'empty'} -> {head}")
    elif getattr(args, "command", None) == "db":
        print(f"==> database {where(url)}: schema already at {head}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    """Print the database's schema revision; exit 1 when it is not the newest."""
    from bot.db import where
    from bot.migrations import current_revision, head_revision

    url = customer_database_url()
    current, head = current_revision(url), head_revision()
    state = "up to date" if current == head else f"behind: run `python -m bot db upgrade` to reach {head}"
    print(f"{where(url)}: {current or 'empty'} ({state})")
    return 0 if current == head else 1


def cmd_db_revision(args: argparse.Namespace) -> int:
    """Write the next migration from what the models changed (for developers; review the file)."""
    from bot.migrations import SchemaNotCurrent, write_revision

    try:
        path = write_revision(customer_database_url(), args.message)
    except SchemaNotCurrent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> wrote {path}: review it (a rename looks like drop + add), then run its test: "
          "pytest tests/test_migrations.py")  # fmt: skip
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import chat

    chat(f"{args.url.rstrip('/')}/webhooks/rest/webhook", args.sender)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The worker: handoff relay (Slack or the local inbox), metrics and the X poller/outbox."""
    import logging

    from bot.channels.x_api import XSettingsError
    from bot.event_stream import EventSourceError
    from bot.handoff.server import inbox_enabled
    from bot.handoff.settings import RelaySettingsError
    from bot.redact import install_log_redaction
    from bot.worker import serve, worker_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        settings = worker_settings(
            endpoints=project_root() / args.endpoints,
            credentials=project_root() / args.credentials,
            rasa_url=args.rasa_url,
            relay_queue=args.queue,
            metrics_queue=args.metrics_queue,
            database_url=customer_database_url(),
        )
    except (RelaySettingsError, EventSourceError, XSettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _schema_is_current():
        return 2
    base = f"http://{args.host}:{args.port}"
    slack = settings.relay.slack
    places = [f"Slack channel {slack.channel}"] if slack else []
    places += [f"{base}/inbox (agent accounts)"] if inbox_enabled(slack is not None) else []
    desk = " and ".join(places) or "nowhere (INBOX_ENABLED=false and no Slack)"
    x = f"; X: {settings.x.mode}" if settings.x else ""
    print(f"==> worker on :{args.port}: agents work handoffs in {desk}; metrics at {base}/metrics/daily; "
          f"dashboard at {base}/dashboard{x}",
          flush=True)  # fmt: skip
    serve(settings, args.host, args.port)
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    import logging

    from bot.action_server import serve
    from bot.internal_tokens import internal_tokens

    token = internal_tokens().actions_token  # first: a production start without tokens stops here
    # before the actions package is imported: it puts the redacting filter on these handlers
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _schema_is_current():
        return 1
    serve(args.host, args.port, token)
    return 0


def cmd_x_webhook(args: argparse.Namespace) -> int:
    """Register or check the X webhook (webhook mode only; polling needs none)."""
    import tweepy

    from bot.channels.x_api import XSettingsError, x_settings
    from bot.channels.x_webhook import check, register

    try:
        settings = x_settings()
    except XSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings is None:
        print("error: set X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET first "
              "(docs/x.md, 'Connect X')", file=sys.stderr)  # fmt: skip
        return 2
    if args.action == "register" and not args.url:
        print("error: register needs --url https://YOUR-BOT-SERVER/webhooks/twitter/webhook", file=sys.stderr)
        return 2
    try:
        lines = register(settings, args.url) if args.action == "register" else check(settings)
    except tweepy.errors.TweepyException as exc:
        print(f"error: X refused it: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.chat import chat
    from bot.credentials import slack_values
    from bot.handoff.desks.inbox.routes import add_agent_command
    from bot.handoff.server import inbox_enabled
    from bot.processes import StartupError, start_bot
    from bot.settings import data_dir
    from bot.training import ensure_model

    root = project_root()
    endpoints, replica_ports = root / args.endpoints, None
    if args.production:
        from bot.front import FrontSetupError, haproxy_binary
        from bot.production_stores import (
            ProductionSetupError,
            check_services,
            ensure_database,
            production_env,
        )

        settings = production_env()
        try:
            haproxy_binary()  # the front: fail before anything starts
            check_services(settings)
            if ensure_database(settings):
                print(f"==> created PostgreSQL database {settings['DB_NAME']}")
        except (FrontSetupError, ProductionSetupError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        export(settings)  # the customer store below and every server we start
        endpoints = root / "endpoints.production.yml"
        replica_ports = [args.port + 10 * n for n in range(1, args.replicas + 1)]
    demo = wants_demo_data(args.production)
    if demo:
        cmd_load_demo_data(args)
    model = ensure_model()
    logs = data_dir() / "logs"
    rasa = f"Rasa (:{args.port})"
    if replica_ports:
        ports = ", :".join(map(str, replica_ports))
        rasa = (
            f"{len(replica_ports)} Rasa replicas (:{ports}) behind HAProxy (customers :{args.port}, "
            f"Rasa's API :{args.api_port}, stats :{args.front_stats_port})"
        )
    print(
        f"==> starting the action server (:{args.actions_port}), {rasa} and the worker "
        f"(:{args.worker_port}: handoff relay, metrics, X); logs in {logs}"
    )
    try:
        bot = start_bot(
            model,
            endpoints=endpoints,
            rasa_port=args.port,
            actions_port=args.actions_port,
            worker_port=args.worker_port,
            replica_ports=replica_ports,
            api_port=args.api_port,
            front_stats_port=args.front_stats_port,
            log_dir=logs,
        )
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> the bot is up. REST webhook: {bot.webhook_url}")
    print(f"==> metrics: {bot.metrics_url}/metrics/daily (Prometheus: {bot.metrics_url}/metrics)")
    print(f"==> customer-experience dashboard (agent accounts): {bot.relay_url}/dashboard")
    if inbox_enabled(bool(slack_values()["SLACK_BOT_TOKEN"])):
        print(f"==> agent inbox (handoffs; log in with an agent account): {bot.relay_url}/inbox")
        if not _inbox_agents():
            print(f"    no agent accounts yet: create one with `{add_agent_command()}`")
    print(
        '    e.g. curl -s -XPOST -H "Authorization: Bearer $REST_CHANNEL_TOKEN" '
        '-d \'{"sender":"maria","message":"hi"}\' ' + bot.webhook_url
    )
    print("    (the REST token: docs/channels.md, 'REST')")
    try:
        if args.no_chat or not sys.stdin.isatty():
            print("==> press Ctrl+C to stop")
            while all(child.poll() is None for child in bot.children):
                time.sleep(1)
            print("error: a server stopped; see the logs above", file=sys.stderr)
            return 1
        if demo:
            print("==> demo customers: maria, james, priya (use --sender); anyone else is new to us")
        chat(bot.webhook_url, args.sender)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("==> stopping")
        bot.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    config = settings()  # the defaults below: environment variables (docs/configuration.md)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("train", help="train the model if data or config changed").set_defaults(
        func=cmd_train
    )
    demo_data = commands.add_parser(
        "load-demo-data", help="load the demo customers into the customer store (not in production)"
    )
    demo_data.add_argument("--even-in-production", action="store_true",
                           help="load them although SUPPORTBOT_ENVIRONMENT=production")  # fmt: skip
    demo_data.set_defaults(func=cmd_load_demo_data)

    chat = commands.add_parser("chat", help="chat with a running bot in the terminal")
    chat.add_argument("--url", default="http://127.0.0.1:5005")
    chat.add_argument("--sender", default="maria", help="who you are (demo: maria, james, priya)")
    chat.set_defaults(func=cmd_chat)

    run = commands.add_parser("run", help="train if needed, start servers, chat")
    run.add_argument("--port", type=int, default=config.rasa.port)
    run.add_argument("--actions-port", type=int, default=config.rasa.actions_port)
    run.add_argument("--worker-port", type=int, default=_worker_port(),
                     help="the worker: agent inbox, Slack events and metrics (default 5006)")  # fmt: skip
    run.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"))
    run.add_argument(
        "--production",
        action="store_true",
        help="PostgreSQL + Redis + RabbitMQ (DB_*, REDIS_*, RABBITMQ_*; local defaults) and "
        "--replicas Rasa replicas behind HAProxy (deploy/haproxy.cfg) on --port",
    )
    run.add_argument("--api-port", type=int, default=config.rasa.api_port,
                     help="--production: Rasa's HTTP API via HAProxy, loopback (default 5008)")  # fmt: skip
    run.add_argument("--front-stats-port", type=int, default=config.production.haproxy_stats_port,
                     help="--production: HAProxy's stats and /health, loopback (default 5009)")  # fmt: skip
    run.add_argument("--replicas", type=int, default=2, help="Rasa replicas with --production (default 2)")
    run.add_argument("--sender", default="maria", help="who you chat as (demo: maria, james, priya)")
    run.add_argument("--no-chat", action="store_true", help="serve only; no terminal chat")
    run.set_defaults(func=cmd_run)

    worker = commands.add_parser(
        "worker", help="run the handoff relay (Slack or local agent inbox), the metrics and the X poller"
    )
    worker.add_argument("--port", type=int, default=_worker_port())
    worker.add_argument("--host", default=config.worker.host)
    worker.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"),
                        help="the endpoints file Rasa runs with (its event_broker is followed)")  # fmt: skip
    worker.add_argument("--credentials", type=Path, default=Path("credentials.yml"),
                        help="the credentials file Rasa runs with (its X section is read)")  # fmt: skip
    worker.add_argument("--rasa-url", default=config.rasa.url)
    worker.add_argument("--queue", default=config.worker.relay_queue,
                        help="RabbitMQ queue of the relay (default: the first one listed)")  # fmt: skip
    worker.add_argument("--metrics-queue", default=config.worker.metrics_queue,
                        help="RabbitMQ queue of the metrics (production broker)")  # fmt: skip
    worker.set_defaults(func=cmd_worker)

    db = commands.add_parser("db", help="the database schema: apply migrations, show the revision")
    db_verbs = db.add_subparsers(dest="db_command", required=True)
    db_verbs.add_parser("upgrade", help="apply the migrations the database lacks").set_defaults(
        func=cmd_db_upgrade
    )
    db_verbs.add_parser("current", help="the database's schema revision").set_defaults(func=cmd_db_current)
    revision = db_verbs.add_parser("revision", help="write the next migration from the models (developers)")
    revision.add_argument("-m", "--message", required=True, help="what changed, e.g. 'handoff priority'")
    revision.set_defaults(func=cmd_db_revision)

    actions = commands.add_parser("actions", help="the action server (token required, loopback by default)")
    actions.add_argument("--port", type=int, default=config.rasa.actions_port)
    actions.add_argument("--host", default=config.security.actions_host)
    actions.set_defaults(func=cmd_actions)

    from bot.handoff.desks.inbox.agents_cli import add_agents_parser

    add_agents_parser(commands)

    x_webhook = commands.add_parser("x-webhook", help="register or check the X (Twitter) webhook")
    x_webhook.add_argument("action", choices=["register", "check"])
    x_webhook.add_argument("--url", help="public https URL of /webhooks/twitter/webhook (for register)")
    x_webhook.set_defaults(func=cmd_x_webhook)
    from bot.retention.cli import add_commands as add_retention_commands

    add_retention_commands(commands)  # prune, export, erase
    from bot.experience.cli import add_commands as add_experience_commands

    add_experience_commands(commands)  # report (and the demo month, the digest)
    from bot.review.cli import add_commands as add_review_commands

    add_review_commands(commands)  # review-misses, review-accept
    return parser


def _schema_is_current() -> bool:
    """Servers never migrate (several starting at once would race): they stop and say what to run."""
    from bot.migrations import schema_problem

    problem = schema_problem(customer_database_url())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
    return problem is None


def _is_production() -> bool:
    return settings().security.environment == "production"


def wants_demo_data(production_flag: bool) -> bool:
    """Only the embedded default loads the demo customers: production starts without them."""
    return not production_flag and not _is_production()


def _inbox_agents() -> int:
    from bot.customers import CustomerStore
    from bot.handoff.desks.inbox.accounts import AgentAccounts

    return AgentAccounts(CustomerStore(customer_database_url())).count()


def _worker_port() -> int:
    return settings().worker.listen_port


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except SettingsError as exc:  # names the variable and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
