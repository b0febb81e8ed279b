"""``python -m bot agents add|password|list|remove``: the inbox's agent accounts, from the bot's machine.

Why a command and not a sign-up page: whoever can reach the inbox could sign up. Only
someone with a shell on the bot's machine (and its database settings) can create an
account, so the first account cannot be taken by a stranger who finds the page first.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any


def add_agents_parser(commands: Any) -> None:
    """The ``agents`` subcommand on the CLI's subparsers (``commands``)."""
    agents = commands.add_parser(
        "agents", help="agent accounts of the local inbox: add, password, list, remove"
    )
    verbs = agents.add_subparsers(dest="agents_command", required=True)
    for verb, help_text in (
        ("add", "create an account (asks for the password twice)"),
        ("password", "set a new password (logs the agent out everywhere)"),
    ):
        parser = verbs.add_parser(verb, help=help_text)
        parser.add_argument("name", help="the name customers see on the agent's replies, e.g. Alex")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input (scripts)"
        )
        parser.set_defaults(func=cmd_agents)
    verbs.add_parser("list", help="the accounts' names").set_defaults(func=cmd_agents)
    remove = verbs.add_parser("remove", help="delete an account and end its sessions")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_agents)


def read_password(from_stdin: bool) -> str | None:
    """The new password: one line of stdin, or typed twice (not echoed); None if the two differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        return None
    return first


def cmd_agents(args: argparse.Namespace) -> int:
    from bot.cli import cmd_db_upgrade
    from bot.customers import CustomerStore
    from bot.handoff.desks.inbox.accounts import AccountError, AgentAccounts
    from bot.settings import customer_database_url

    if cmd_db_upgrade(args):  # the accounts table may not exist yet on a new installation
        return 1
    accounts = AgentAccounts(CustomerStore(customer_database_url()))
    verb = args.agents_command
    try:
        if verb == "list":
            names = accounts.names()
            print("\n".join(names) if names else "no agent accounts yet: python -m bot agents add NAME")
            return 0
        if verb == "remove":
            accounts.remove(args.name)
            print(f"==> removed agent {args.name!r} and ended their sessions")
            return 0
        password = read_password(args.password_stdin)
        if password is None:
            print("error: the two passwords differ; nothing changed", file=sys.stderr)
            return 1
        if verb == "add":
            agent = accounts.add(args.name, password)
            print(f"==> agent {agent.name!r} can now log in to the inbox (/inbox on the worker)")
        else:
            accounts.set_password(args.name, password)
            print(f"==> new password for {args.name!r}; their old sessions have ended")
        return 0
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
