"""The website chat: Rasa's Socket.IO channel plus the embeddable widget that talks to it.

A business adds one tag to its pages::

    <script src="https://bot.example.com/webhooks/socketio/widget.js" data-title="Support" defer></script>

The Rasa server itself serves the widget, the Socket.IO browser client and a demo page
(``/webhooks/socketio/demo``), so there is nothing else to host or build.

Several Rasa replicas: a browser's Socket.IO session lives in one replica (HAProxy
keeps it there), but an agent's reply may be appended through another. With
``WEBCHAT_REDIS_URL`` set (the production profile sets it), the replicas share Socket.IO
rooms through Redis pub/sub, so a push from any replica reaches the customer.

The channel keeps the name ``socketio``: customer identities, the handoff records'
channel (the relay answers on it) and the existing tests all use that name.

Session ids are the server's, never the browser's (bot/channels/webchat_sessions.py): a
``session_request`` with an id we signed resumes that conversation, any other id gets a
fresh signed one, and each message goes to the conversation confirmed for its socket,
whatever ``session_id`` the message itself names. ``session_persistence: false`` means a
new conversation on every connection. Message ``metadata`` is kept only when small and
flat (bot/channels/metadata.py).

Its output channel fixes two things in Rasa 3.6's ``SocketIOOutput``:

* ``send_custom_json`` passed the custom object as keyword arguments to ``sio.emit``, so
  any custom message not shaped like ``{"data": ...}`` (e.g. the handoff state
  ``{"handoff": {"state": "waiting"}}``) raised ``TypeError`` and was never delivered;
* messages carried no hint of who wrote them, so the widget could not tell an agent's
  reply from the assistant's. Each message now has ``"sender": "bot" | "agent"`` (and
  ``"agent": <name>`` for agents' replies, taken from the relay's event metadata).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import sanic
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.bad_input import clipped, not_text_reply, problem_with
from bot.channels.metadata import bounded_metadata
from bot.channels.webchat_sessions import is_signed, new_session_id
from bot.channels.widget_labels import WidgetLabelsError, widget_script
from bot.internal_tokens import internal_tokens
from bot.settings import project_root, settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "webchat_static"
SOCKETIO_CLIENT = Path("web") / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
# Short cache for the widget (a deploy reaches every site within minutes); the Socket.IO
# client is pinned in web/package-lock.json, so browsers may keep it for a day.
WIDGET_CACHE = "public, max-age=300"
CLIENT_CACHE = "public, max-age=86400"
# Keyword arguments of ``AsyncServer.emit``: a custom message made only of these is an
# old-style ``{"data": ..., "room": ...}`` emit request and is honoured as such.
EMIT_ARGUMENTS = {"data", "to", "room", "skip_sid", "namespace", "callback", "ignore_queue"}
# engine.io's session cookie (name + attributes); HttpOnly: no page script needs to read it.
SESSION_COOKIE = {"name": "io", "path": "/", "SameSite": "Lax", "HttpOnly": True}


def websocket_works() -> bool:
    """False where Sanic's WebSocket support is broken, so only HTTP long-polling can work.

    Sanic before 22.3 passes a bare coroutine to ``asyncio.wait`` when receiving a
    frame, which Python 3.11 refuses (sanic-org/sanic#2377): the WebSocket opens, then
    dies on the first message. Rasa 3.6 pins Sanic 21.12, so on Python 3.11 a browser
    that starts with (or upgrades to) WebSocket never gets a working chat.
    """
    try:
        major, minor = (int(part) for part in sanic.__version__.split(".")[:2])
    except ValueError:
        return True
    return sys.version_info < (3, 11) or (major, minor) >= (22, 3)


def share_rooms_through_redis(sio: Any, url: str) -> None:
    """Make ``sio`` deliver emits for sessions held by other replicas (Redis pub/sub).

    Rasa builds its ``AsyncServer`` without a client manager; this swaps one in before
    the first connection (the manager starts listening lazily on the first connect).
    """
    import socketio

    manager = socketio.AsyncRedisManager(url, channel="supportbot-webchat")
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False


def socketio_client_path() -> Path:
    """Where ``npm ci --prefix web`` (scripts/install.sh) puts the browser's Socket.IO client."""
    return project_root() / SOCKETIO_CLIENT


class WebChatOutput(SocketIOOutput):
    """Socket.IO output that delivers custom JSON and says who wrote each message."""

    @staticmethod
    def _author(details: dict[str, Any]) -> dict[str, Any]:
        """``sender``/``agent`` fields for one message, from its metadata (merged into kwargs).

        The relay writes an agent's reply with ``agent_name`` in the metadata. Its
        "Alex has joined" notice carries the same metadata plus the handoff state as
        custom JSON: that is an announcement, not something the agent wrote.
        """
        agent = details.get("agent_name")
        if agent and not details.get("custom"):
            return {"sender": "agent", "agent": str(agent)}
        return {"sender": "bot"}

    async def _emit(self, recipient_id: str, message: dict[str, Any], details: dict[str, Any]) -> None:
        await self._send_message(recipient_id, {**message, **self._author(details)})

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Each paragraph as its own bubble, as Rasa's socketio channel does."""
        for part in text.strip().split("\n\n"):
            await self._emit(recipient_id, {"text": part}, kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Buttons become ``quick_replies`` of the last paragraph (what the widget renders as chips)."""
        parts = (text or "").strip().split("\n\n") or [""]
        replies = [
            {"content_type": "text", "title": button.get("title"), "payload": button.get("payload")}
            for button in buttons
        ]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._emit(recipient_id, {"text": part, "quick_replies": replies if last else []}, kwargs)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Same as buttons, but keeps the metadata (the base class drops ``kwargs`` here)."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}}, kwargs)

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: str, attachment: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"attachment": attachment}, kwargs)

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        for element in elements:
            attachment = {"type": "template", "payload": {"template_type": "generic", "elements": element}}
            await self._emit(recipient_id, {"attachment": attachment}, kwargs)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Emit the custom object itself as the message (e.g. ``{"handoff": {"state": "agent", ...}}``).

        Only a message made solely of ``emit`` arguments with ``data`` in it (the form
        Rasa's own implementation expected) is passed through as before.
        """
        if "data" in json_message and set(json_message) <= EMIT_ARGUMENTS:
            arguments = dict(json_message)
            arguments.setdefault("room", recipient_id)
            await self.sio.emit(self.bot_message_evt, **arguments)
            return
        await self._send_message(recipient_id, json_message)


class WebChatInput(SocketIOInput):
    """Rasa's Socket.IO channel, serving the embeddable chat widget next to it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # ``session_persistence`` now only says whether a kept id may resume its conversation;
        # the conversation id is always the server-issued session id (never the socket's sid).
        self.resume_sessions = self.session_persistence
        self.session_persistence = True

    @classmethod
    def name(cls) -> str:
        """Still ``socketio``: stored identities and the handoffs' channel use this name."""
        return "socketio"

    def get_output_channel(self) -> WebChatOutput | None:
        """Used when the relay appends an agent's reply with ``output_channel=socketio``."""
        if self.sio is None:
            return super().get_output_channel()  # warns, returns None (multi-worker setups)
        return WebChatOutput(self.sio, self.bot_message_evt)

    def _issue_sessions(self, sio: Any, secret: str) -> None:
        """Replace Rasa's ``session_request`` handler, which confirms any id the browser names.

        The confirmed id is kept in the socket's server-side session: messages on this
        socket go to that conversation only (see :meth:`_guard_user_messages`).
        """
        namespace = self.namespace or "/"

        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            if self.resume_sessions and is_signed(secret, requested):
                session_id = str(requested)
            else:
                session_id = new_session_id(secret)
                if requested:
                    logger.info(
                        "web chat: a browser asked for a session id we did not issue; issued a new one"
                    )
            session = await sio.get_session(sid, namespace=namespace)
            previous = session.get("session_id")
            if previous and previous != session_id:
                sio.leave_room(sid, previous, namespace=namespace)
            session["session_id"] = session_id
            await sio.save_session(sid, session, namespace=namespace)
            sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        sio.on("session_request", session_request, namespace=self.namespace)

    def _guard_user_messages(self, sio: Any) -> None:
        """Answer malformed socket messages instead of letting Rasa's handler crash on them.

        Rasa builds ``UserMessage(data["message"])`` straight away; a number or an object
        there raises inside the socket handler and the customer hears nothing. The message
        goes to the conversation confirmed for this socket (a ``session_id`` in the message
        is ignored); before any ``session_request`` there is none and the message is dropped.
        """
        namespace = self.namespace or "/"
        original = sio.handlers[namespace][self.user_message_evt]
        metadata_key = self.metadata_key or "metadata"

        async def guarded(sid: str, data: Any) -> Any:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                await sio.emit(self.bot_message_evt, {"text": not_text_reply(), "sender": "bot"}, room=sid)
                return None
            session_id = (await sio.get_session(sid, namespace=namespace)).get("session_id")
            if not session_id:
                logger.warning("web chat: a message before session_request was dropped")
                return None
            metadata = bounded_metadata(data.get(metadata_key), "web chat")
            return await original(sid, {**data, "session_id": session_id, metadata_key: metadata or {}})

        sio.on(self.user_message_evt, guarded, namespace=self.namespace)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socketio blueprint (URL prefix /webhooks/socketio) plus the widget's files."""

        async def handle(message: UserMessage) -> Any:
            # The parent builds a plain SocketIOOutput per message; replies to customers'
            # messages (including the action server's handoff state) go through ours.
            if self.sio is not None:
                message.output_channel = WebChatOutput(self.sio, self.bot_message_evt)
            answer = problem_with(message.text)
            if answer is not None:  # empty or not text: answer it, don't run NLU on it
                return await message.output_channel.send_text_message(message.sender_id, answer)
            message.text = clipped(message.text)
            return await on_new_message(message)

        webchat = super().blueprint(handle)
        if self.sio is not None:
            self._issue_sessions(self.sio, internal_tokens().webchat_secret)
            self._guard_user_messages(self.sio)
            # The session id as the "io" cookie: the production front (deploy/haproxy.cfg)
            # keeps a session on its replica by it, as the Socket.IO docs do it for HAProxy.
            self.sio.eio.cookie = SESSION_COOKIE
            redis_url = settings().production.webchat_redis_url or ""
            if redis_url:
                share_rooms_through_redis(self.sio, redis_url)
                where = redis_url.split("@")[-1]
                logger.info("web chat: sessions shared with other replicas through %s", where)
        if self.sio is not None and not websocket_works():
            # Refuse WebSocket outright (HTTP 400 at the handshake) and offer no upgrade: the
            # widget then falls back to long-polling instead of a socket that dies silently.
            self.sio.eio.transports = ["polling"]
            self.sio.eio.allow_upgrades = False
            logger.info(
                "web chat: Sanic %s cannot serve WebSockets on this Python; using polling", sanic.__version__
            )

        @webchat.route("/widget.js", methods=["GET"])
        async def widget(_: Request) -> HTTPResponse:
            try:
                script = widget_script(STATIC_DIR / "widget.js")
            except (OSError, WidgetLabelsError) as exc:
                logger.error("web chat: cannot serve the widget: %s", exc)
                return response.text("The website chat is not configured correctly.", status=503)
            return response.text(
                script,
                content_type="application/javascript; charset=utf-8",
                headers={"Cache-Control": WIDGET_CACHE},
            )

        @webchat.route("/socket.io.min.js", methods=["GET"])
        async def socketio_client(_: Request) -> HTTPResponse:
            path = socketio_client_path()
            if not path.is_file():
                logger.error("web chat: %s is missing; the widget cannot connect", path)
                return response.text(
                    "The website chat's Socket.IO client is not installed "
                    f"({SOCKETIO_CLIENT.as_posix()} is missing). "
                    "Run ./scripts/install.sh with Node.js and npm available.",
                    status=503,
                )
            return await response.file(
                path,
                mime_type="application/javascript; charset=utf-8",
                headers={"Cache-Control": CLIENT_CACHE},
            )

        @webchat.route("/demo", methods=["GET"])
        async def demo(_: Request) -> HTTPResponse:
            return await response.file(
                STATIC_DIR / "demo.html",
                mime_type="text/html; charset=utf-8",
                headers={"Cache-Control": "no-cache"},
            )

        return webchat
