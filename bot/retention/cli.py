"""``python -m bot prune | export <customer> | erase <customer>`` (wired in bot/cli.py).

Each reads the same settings as the servers: ``SUPPORTBOT_DATABASE_URL`` for our tables
and the endpoints file Rasa runs with (``--endpoints``; default ``endpoints.yml``, or
``endpoints.production.yml`` with ``SUPPORTBOT_ENVIRONMENT=production``) for Rasa's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import customer_database_url, data_dir, project_root, settings


def add_commands(commands: Any) -> None:
    """Add the three subcommands to the ``supportbot`` parser's subparsers."""
    prune = commands.add_parser(
        "prune", help="delete data older than business.yml retention: allows (for cron)"
    )
    _endpoints_option(prune)
    prune.set_defaults(func=cmd_prune)

    export = commands.add_parser("export", help="print everything we hold about one customer as JSON")
    export.add_argument("customer", help="the customer's email address or customer number")
    export.add_argument("--output", type=Path, help="write the JSON to this file (default: standard output)")
    _endpoints_option(export)
    export.set_defaults(func=cmd_export)

    erase = commands.add_parser(
        "erase",
        help="remove everything about one customer (tables, trackers, Slack cards); prints the audit line",
    )
    erase.add_argument("customer", help="the customer's email address or customer number")
    erase.add_argument("--keep-slack", action="store_true",
                       help="leave the handoff cards in Slack (e.g. the workspace is gone)")  # fmt: skip
    _endpoints_option(erase)
    erase.set_defaults(func=cmd_erase)


def _endpoints_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoints", type=Path, default=None,
                        help="the endpoints file Rasa runs with (default: endpoints.yml; "
                             "endpoints.production.yml when SUPPORTBOT_ENVIRONMENT=production)")  # fmt: skip


def _endpoints(args: argparse.Namespace) -> Path:
    if args.endpoints is not None:
        return args.endpoints if args.endpoints.is_absolute() else project_root() / args.endpoints
    production = settings().security.environment == "production"
    return project_root() / ("endpoints.production.yml" if production else "endpoints.yml")


def _ready() -> str | None:
    """The database URL if its schema is current, else None (after saying what to run)."""
    from bot.migrations import schema_problem

    url = customer_database_url()
    problem = schema_problem(url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return url


def cmd_prune(args: argparse.Namespace) -> int:
    from bot.retention.policy import RetentionSettingsError
    from bot.retention.prune import pruner

    url = _ready()
    if url is None:
        return 1
    try:
        counts = pruner(url, _endpoints(args), data_dir()).prune()
    except RetentionSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    removed = " ".join(f"{name}={count}" for name, count in sorted(counts.items()))
    print(f"==> pruned: {removed}" if counts else "==> nothing older than the retention settings")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.retention.erasure import Erasure, ErasureError
    from bot.retention.rasa_tables import rasa_stores

    url = _ready()
    if url is None:
        return 1
    try:
        data = Erasure(url, rasa_stores(_endpoints(args), data_dir())).export(args.customer)
    except ErasureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"==> wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from bot.retention.erasure import Erasure, ErasureError
    from bot.retention.rasa_tables import rasa_stores
    from bot.retention.slack_cleanup import SlackCleanupError

    url = _ready()
    if url is None:
        return 1
    try:
        erasure = Erasure(url, rasa_stores(_endpoints(args), data_dir()))
        line = erasure.erase(args.customer, None if args.keep_slack else _slack_deleter())
    except (ErasureError, SlackCleanupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> erased: {line}")
    if "slack_messages_kept=" in line:
        print("==> agents' own replies in Slack cannot be deleted with the bot's token: a workspace "
              "admin removes them (the audit line counts them)")  # fmt: skip
    return 0


def _slack_deleter() -> Any:
    """Deletes cards + threads through Slack's API; refuses when Slack is not configured."""
    from bot.handoff.settings import RelaySettingsError, slack_settings
    from bot.retention.slack_cleanup import SlackCleanupError, delete_threads, slack_client

    def delete(cards: list[tuple[str, str]]) -> dict[str, int]:
        try:
            slack = slack_settings()
        except RelaySettingsError as exc:
            raise SlackCleanupError(str(exc)) from exc
        if slack is None:
            raise SlackCleanupError(
                f"{len(cards)} handoff card(s) of this customer are in Slack, but SLACK_BOT_TOKEN / "
                "SLACK_HANDOFF_CHANNEL are not set: set them to delete the cards (nothing was erased yet), "
                "or pass --keep-slack to erase everything else"
            )
        try:
            return delete_threads(slack_client(slack), cards)
        except OSError as exc:
            raise SlackCleanupError(
                f"Slack is not reachable ({exc}); run erase again later (nothing was erased yet)"
            ) from exc

    return delete
