"""``supportbot`` command line: train, load demo data, run the bot, chat with it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bot.settings import customer_database_url, project_root


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import ensure_model

    print(ensure_model())
    return 0


def cmd_load_demo_data(args: argparse.Namespace) -> int:
    from bot.customers import CustomerStore
    from bot.customers.demo import load_demo_data

    url = customer_database_url()
    added = load_demo_data(CustomerStore(url))
    where = url.split("@")[-1]
    print(f"==> demo customers: {added} added ({'already loaded' if not added else 'new'}) in {where}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import chat

    chat(f"{args.url.rstrip('/')}/webhooks/rest/webhook", args.sender)
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    """The handoff relay: Slack (or the local inbox) ↔ customers, for conversations people took over."""
    import logging

    from aiohttp import web

    from bot.customers import CustomerStore
    from bot.event_stream import EventSourceError, event_source
    from bot.handoff.server import create_app, install_log_redaction
    from bot.handoff.settings import RelaySettings, RelaySettingsError, slack_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        settings = RelaySettings(
            rasa_url=args.rasa_url,
            rasa_token=os.environ.get("RASA_AUTH_TOKEN") or None,
            events=event_source(project_root() / args.endpoints, args.queue),
            slack=slack_settings(),
        )
    except (RelaySettingsError, EventSourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    desk = (
        f"Slack channel {settings.slack.channel}"
        if settings.slack
        else f"http://{args.host}:{args.port}/inbox"
    )
    print(f"==> handoff relay on :{args.port}; agents work handoffs in {desk}", flush=True)
    web.run_app(
        create_app(settings, CustomerStore(customer_database_url())),
        host=args.host, port=args.port, print=None, access_log=None,
    )  # fmt: skip
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """The metrics service: counts conversations, intents, fallbacks and handoffs from the broker."""
    import logging

    from aiohttp import web

    from bot.customers import CustomerStore
    from bot.event_stream import EventSourceError, event_source
    from bot.metrics import MetricsStore
    from bot.metrics.service import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        events = event_source(project_root() / args.endpoints, args.queue)
    except EventSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"==> metrics on :{args.port}: http://{args.host}:{args.port}/metrics/daily", flush=True)
    app = create_app(MetricsStore(CustomerStore(customer_database_url())), events)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    """A load balancer in front of Rasa replicas (sticky Socket.IO sessions)."""
    import logging

    from bot.balancer import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    replicas = args.replica or [u for u in os.environ.get("RASA_REPLICAS", "").split(",") if u.strip()]
    if not replicas:
        print("error: name the Rasa replicas: --replica http://host:5005 (twice or more), "
              "or RASA_REPLICAS=http://a:5005,http://b:5005", file=sys.stderr)  # fmt: skip
        return 2
    print(f"==> balancer on :{args.port} for {', '.join(replicas)}", flush=True)
    run(replicas, args.host, args.port)
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
              "(README, 'Connect X')", file=sys.stderr)  # fmt: skip
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
    from bot.processes import StartupError, start_bot
    from bot.settings import data_dir
    from bot.training import ensure_model

    root = project_root()
    endpoints, replica_ports = root / args.endpoints, None
    if args.production:
        from bot.production import ProductionSetupError, check_services, ensure_database, production_env

        settings = production_env()
        try:
            check_services(settings)
            if ensure_database(settings):
                print(f"==> created PostgreSQL database {settings['DB_NAME']}")
        except ProductionSetupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        os.environ.update(settings)  # the customer store below and every server we start
        endpoints = root / "endpoints.production.yml"
        replica_ports = [args.port + 10 * n for n in range(1, args.replicas + 1)]
    cmd_load_demo_data(args)
    model = ensure_model()
    logs = data_dir() / "logs"
    rasa = f"Rasa (:{args.port})"
    if replica_ports:
        ports = ", :".join(map(str, replica_ports))
        rasa = f"{len(replica_ports)} Rasa replicas (:{ports}) behind :{args.port}"
    print(
        f"==> starting the action server (:{args.actions_port}), {rasa}, the handoff relay "
        f"(:{args.relay_port}) and metrics (:{args.metrics_port}); logs in {logs}"
    )
    try:
        bot = start_bot(
            model,
            endpoints=endpoints,
            rasa_port=args.port,
            actions_port=args.actions_port,
            relay_port=args.relay_port,
            metrics_port=args.metrics_port,
            replica_ports=replica_ports,
            log_dir=logs,
        )
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> the bot is up. REST webhook: {bot.webhook_url}")
    print(f"==> metrics: {bot.metrics_url}/metrics/daily (Prometheus: {bot.metrics_url}/metrics)")
    if not os.environ.get("SLACK_BOT_TOKEN"):
        print(f"==> agent inbox (handoffs, no Slack configured): {bot.relay_url}/inbox")
    print('    e.g. curl -s -XPOST -d \'{"sender":"maria","message":"hi"}\' ' + bot.webhook_url)
    try:
        if args.no_chat or not sys.stdin.isatty():
            print("==> press Ctrl+C to stop")
            while all(child.poll() is None for child in bot.children):
                time.sleep(1)
            print("error: a server stopped; see the logs above", file=sys.stderr)
            return 1
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
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("train", help="train the model if data or config changed").set_defaults(
        func=cmd_train
    )
    commands.add_parser(
        "load-demo-data", help="load the demo customers into the customer store"
    ).set_defaults(func=cmd_load_demo_data)

    chat = commands.add_parser("chat", help="chat with a running bot in the terminal")
    chat.add_argument("--url", default="http://127.0.0.1:5005")
    chat.add_argument("--sender", default="maria", help="who you are (demo: maria, james, priya)")
    chat.set_defaults(func=cmd_chat)

    run = commands.add_parser("run", help="train if needed, start servers, chat")
    run.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    run.add_argument("--actions-port", type=int, default=int(os.environ.get("ACTIONS_PORT", 5055)))
    run.add_argument("--relay-port", type=int, default=int(os.environ.get("RELAY_PORT", 5006)))
    run.add_argument("--metrics-port", type=int, default=int(os.environ.get("METRICS_PORT", 5007)))
    run.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"))
    run.add_argument(
        "--production",
        action="store_true",
        help="PostgreSQL + Redis + RabbitMQ (DB_*, REDIS_*, RABBITMQ_*; local defaults) and "
        "--replicas Rasa replicas behind a balancer on --port",
    )
    run.add_argument("--replicas", type=int, default=2, help="Rasa replicas with --production (default 2)")
    run.add_argument("--sender", default="maria", help="who you chat as (demo: maria, james, priya)")
    run.add_argument("--no-chat", action="store_true", help="serve only; no terminal chat")
    run.set_defaults(func=cmd_run)

    relay = commands.add_parser("relay", help="run the handoff relay (Slack or local agent inbox)")
    relay.add_argument("--port", type=int, default=int(os.environ.get("RELAY_PORT", 5006)))
    relay.add_argument("--host", default=os.environ.get("RELAY_HOST", "127.0.0.1"))
    relay.add_argument(
        "--endpoints",
        type=Path,
        default=Path("endpoints.yml"),
        help="the endpoints file Rasa runs with (its event_broker is followed)",
    )
    relay.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    relay.add_argument(
        "--queue",
        default=os.environ.get("RABBITMQ_QUEUE") or None,
        help="RabbitMQ queue of the relay (production broker; default: the first in event_broker.queues)",
    )
    relay.set_defaults(func=cmd_relay)

    metrics = commands.add_parser("metrics", help="count conversations, intents, handoffs from the events")
    metrics.add_argument("--port", type=int, default=int(os.environ.get("METRICS_PORT", 5007)))
    metrics.add_argument("--host", default=os.environ.get("METRICS_HOST", "127.0.0.1"))
    metrics.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"),
                         help="the endpoints file Rasa runs with (its event_broker is followed)")  # fmt: skip
    metrics.add_argument("--queue", default=os.environ.get("RABBITMQ_METRICS_QUEUE") or "metrics",
                         help="RabbitMQ queue of the metrics service (production broker)")  # fmt: skip
    metrics.set_defaults(func=cmd_metrics)

    balance = commands.add_parser("balance", help="load balancer in front of Rasa replicas")
    balance.add_argument("--port", type=int, default=int(os.environ.get("BALANCER_PORT", 5005)))
    balance.add_argument("--host", default=os.environ.get("BALANCER_HOST", "127.0.0.1"))
    balance.add_argument("--replica", action="append", help="a Rasa replica URL; repeat for each")
    balance.set_defaults(func=cmd_balance)

    x_webhook = commands.add_parser("x-webhook", help="register or check the X (Twitter) webhook")
    x_webhook.add_argument("action", choices=["register", "check"])
    x_webhook.add_argument("--url", help="public https URL of /webhooks/twitter/webhook (for register)")
    x_webhook.set_defaults(func=cmd_x_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
