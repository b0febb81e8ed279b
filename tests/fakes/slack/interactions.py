"""What a person does in Slack beyond a thread reply or a card button: the App Home tab, message
shortcuts, slash commands, modal submissions and clicks in ephemeral messages.

A mixin of :class:`tests.fakes.slack.FakeSlack` (its lock, workspace and senders): each method
builds the payload real Slack sends and delivers it over signed HTTP or the Socket Mode
connection, so the relay's real Bolt listeners receive exactly what they would from Slack.
"""

from __future__ import annotations

import copy
import time
import urllib.parse
import uuid
from typing import Any

from tests.fakes.server import compact
from tests.fakes.slack.web_api import Workspace


class Interactions:
    """App Home, shortcuts, slash commands, modals and ephemeral clicks (mixed into FakeSlack)."""

    # ------------------------------------------------------------------ App Home (views.publish)

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The latest view published to ``user``'s Home tab (``views.publish``), or None."""
        with self._lock:
            return copy.deepcopy(self.workspace.home_views.get(user))

    def open_home(self, url: str, user: str, tab: str = "home", **kw: Any) -> tuple[int, str]:
        """``user`` opens the app's Home tab: the ``app_home_opened`` event, with the view they had."""
        with self._lock:
            shown = copy.deepcopy(self.workspace.home_views.get(user))
        event: dict[str, Any] = {
            "type": "app_home_opened", "user": user, "channel": "D" + user.lstrip("UW")[:10] + "DM",
            "tab": tab, "event_ts": f"{time.time():.6f}",
        }  # fmt: skip
        if shown is not None and tab == "home":
            event["view"] = {**shown, **self._view_ids()}
        return self.send_event(url, event, **kw)

    def _view_ids(self) -> dict[str, str]:
        return {"team_id": self.team_id, "app_id": self.api_app_id, "bot_id": self.bot_id}

    def click_home_button(
        self, url: str, user: str, action_id: str, value: str, *, forged: bool = False, **kw: Any
    ) -> tuple[int, str]:
        """``user`` clicks a button of their Home tab view: ``block_actions`` from a ``view`` container.

        The button must be in the view last published to them, unless ``forged`` (a request made
        up by someone who saw no such button: any ``action_id`` and ``value``); ``kw``: as for
        ``click_button`` (``team_id``, ``timestamp``, ``signing_secret``).
        """
        team = kw.pop("team_id", None) or self.team_id
        view = self.home_view(user) or {"id": "V0NONE", "type": "home", "blocks": []}
        found = find_element(view.get("blocks") or [], action_id, value)
        if found is None and not forged:
            raise ValueError(f"{user}'s Home view has no {action_id!r} with value {value!r}: {view}")
        forged_button = {"type": "button", "text": {"type": "plain_text", "text": "x"}}
        block_id, element = found or ("forged", forged_button)
        with self._lock:
            name = self.workspace.users.get(user, {}).get("name", user.lower())
            user_team = self.workspace.user_team(user)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": user_team},
            "api_app_id": self.api_app_id,
            "token": "fake-verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}",
            "team": {"id": team, "domain": "fake-workspace"},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**view, **self._view_ids()},
            "actions": [{"action_id": action_id, "block_id": block_id, "text": element.get("text"),
                         "value": value, "type": element.get("type", "button"),
                         "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        if self.socket_mode:
            return self._over_socket(f"block_actions {action_id}", "interactive", payload)
        body = urllib.parse.urlencode({"payload": compact(payload).decode()}).encode()
        form = "application/x-www-form-urlencoded"
        return self._send_signed(f"block_actions {action_id}", url, body, form, {}, **kw)

    # ---------------------------------------------------------- saved replies: shortcut, command, modal

    def _actor(self, user: str, team: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``user`` and ``team`` objects of an interactivity payload from ``user``."""
        with self._lock:
            name = self.workspace.users.get(user, {}).get("name", user.lower())
            user_team = self.workspace.user_team(user)
        who = {"id": user, "username": name, "name": name, "team_id": user_team}
        return who, {"id": team or self.team_id, "domain": "fake-workspace"}

    def _interactive(self, kind: str, url: str, payload: dict[str, Any], **kw: Any) -> tuple[int, str]:
        """An interactivity payload: a Socket Mode envelope, or a signed ``payload=`` form POST."""
        if self.socket_mode:
            return self._over_socket(kind, "interactive", payload)
        body = urllib.parse.urlencode({"payload": compact(payload).decode()}).encode()
        return self._send_signed(kind, url, body, "application/x-www-form-urlencoded", {}, **kw)

    def run_shortcut(
        self, url: str, callback_id: str, user: str, channel: str, message_ts: str, **kw: Any
    ) -> tuple[int, str]:
        """``user`` runs a message shortcut (⋯ More actions) on a recorded message: ``message_action``.

        ``kw``: ``team_id`` (as from another workspace), ``timestamp`` / ``signing_secret``.
        """
        msg = self.message(message_ts)
        if msg is None:
            raise KeyError(f"no message with ts {message_ts} to run a shortcut on\n{self.describe()}")
        who, team = self._actor(user, kw.pop("team_id", None))
        with self._lock:
            channel_name = self.workspace.channels.get(channel, channel.lower())
        payload = {
            "type": "message_action", "callback_id": callback_id, "token": "fake-verification-token",
            "api_app_id": self.api_app_id, "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}",
            "action_ts": f"{time.time():.6f}", "team": team, "user": who, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel, "name": channel_name},
            "message_ts": message_ts, "message": Workspace.public(msg),
            "response_url": f"{self.base_url}/response/{uuid.uuid4().hex}",
        }  # fmt: skip
        return self._interactive(f"message_action {callback_id}", url, payload, **kw)

    def slash_command(
        self, url: str, command: str, text: str, user: str, channel: str, **kw: Any
    ) -> tuple[int, str]:
        """``user`` types ``command text`` in ``channel``: a signed form POST (no ``payload=``, no
        thread), or a ``slash_commands`` envelope in Socket Mode. ``kw``: as for ``run_shortcut``."""
        who, team = self._actor(user, kw.pop("team_id", None))
        with self._lock:
            channel_name = self.workspace.channels.get(channel, channel.lower())
        fields = {
            "token": "fake-verification-token", "team_id": team["id"], "team_domain": "fake-workspace",
            "channel_id": channel, "channel_name": channel_name, "user_id": user, "user_name": who["name"],
            "command": command, "text": text, "api_app_id": self.api_app_id, "is_enterprise_install": "false",
            "response_url": f"{self.base_url}/response/{uuid.uuid4().hex}",
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}",
        }  # fmt: skip
        if self.socket_mode:
            return self._over_socket(f"command {command}", "slash_commands", fields)
        body, form = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        return self._send_signed(f"command {command}", url, body, form, {}, **kw)

    def submit_view(
        self, url: str, view_id: str, user: str, choices: dict[str, str], *, forged: bool = False, **kw: Any
    ) -> tuple[int, str]:
        """``user`` submits a modal opened with ``views.open``: ``view_submission``.

        ``choices``: block_id -> the value of the option picked in that block's select (the option
        must be in the view, unless ``forged``: a made-up value), the user id picked in a
        ``users_select`` or the text typed in a ``plain_text_input``. ``kw``: as for ``run_shortcut``.
        """
        opened = next((v for v in self.views() if v["id"] == view_id), None)
        if opened is None:
            raise KeyError(f"no view {view_id} was opened\n{self.describe()}")
        view = opened["view"]
        values: dict[str, Any] = {}
        for block_id, value in choices.items():
            block = next((b for b in view.get("blocks") or [] if b.get("block_id") == block_id), None)
            element = (block or {}).get("element") or {}
            kind = element.get("type")
            if kind in ("users_select", "plain_text_input"):
                field = "selected_user" if kind == "users_select" else "value"
                values[block_id] = {element.get("action_id", "input"): {"type": kind, field: value}}
                continue
            option = next((o for o in element.get("options") or [] if o.get("value") == value), None)
            if option is None and not forged:
                raise ValueError(f"view {view_id} has no option {value!r} in block {block_id!r}: {view}")
            option = option or {"text": {"type": "plain_text", "text": value}, "value": value}
            values[block_id] = {
                element.get("action_id", "select"): {"type": element.get("type", "static_select"),
                                                     "selected_option": option}
            }  # fmt: skip
        who, team = self._actor(user, kw.pop("team_id", None))
        payload = {
            "type": "view_submission", "token": "fake-verification-token", "api_app_id": self.api_app_id,
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}", "team": team, "user": who,
            "enterprise": None, "is_enterprise_install": False,
            "view": {**view, "id": view_id, "team_id": self.team_id, "app_id": self.api_app_id,
                     "bot_id": self.bot_id, "state": {"values": values}, "hash": self.new_ts()},
            "response_urls": [],
        }  # fmt: skip
        return self._interactive(f"view_submission {view.get('callback_id')}", url, payload, **kw)

    def click_ephemeral(
        self, url: str, user: str, action_id: str, *, value: str | None = None, index: int = -1, **kw: Any
    ) -> tuple[int, str]:
        """``user`` clicks a button in an ephemeral message only they see (``chat.postEphemeral``).

        ``index``: which of their ephemerals holding ``action_id`` (default the latest); ``value``
        replaces the button's value (a forged click). Real Slack sends no ``message`` for an
        ephemeral one: only the container, marked ``is_ephemeral``. ``kw``: as for ``run_shortcut``.
        """
        found = [e for e in self.ephemerals(user) if find_element(e.get("blocks") or [], action_id)]
        if not found:
            raise ValueError(f"{user} has no ephemeral message with {action_id!r}\n{self.describe()}")
        ephemeral = found[index]
        block_id, element = find_element(ephemeral["blocks"], action_id) or ("", {})
        who, team = self._actor(user, kw.pop("team_id", None))
        channel = ephemeral["channel"]
        with self._lock:
            channel_name = self.workspace.channels.get(channel, channel.lower())
        container: dict[str, Any] = {"type": "message", "message_ts": ephemeral["message_ts"],
                                     "channel_id": channel, "is_ephemeral": True}  # fmt: skip
        if ephemeral.get("thread_ts"):
            container["thread_ts"] = ephemeral["thread_ts"]
        payload = {
            "type": "block_actions", "user": who, "api_app_id": self.api_app_id,
            "token": "fake-verification-token", "container": container,
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}", "team": team, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel, "name": channel_name},
            "response_url": f"{self.base_url}/response/{uuid.uuid4().hex}",
            "actions": [{"action_id": action_id, "block_id": block_id, "text": element.get("text"),
                         "value": element.get("value") if value is None else value,
                         "type": element.get("type", "button"), "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        return self._interactive(f"block_actions {action_id}", url, payload, **kw)


def find_element(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """(block_id, element) of the interactive element with `action_id` (and `value`, if given)."""
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if not isinstance(element, dict) or (value is not None and element.get("value") != value):
                continue
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None
