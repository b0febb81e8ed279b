"""Registering and checking the X webhook (Account Activity, X API v2 webhooks).

``python -m bot x-webhook register --url https://…/webhooks/twitter/webhook`` registers
the URL (X immediately sends a CRC challenge, which the running bot answers only with
``X_MODE=webhook``: in polling mode the route does not exist) and subscribes the brand
account to it; ``python -m bot x-webhook check`` lists what is
registered and whether the account is subscribed. Webhook mode needs an API plan with
Account Activity access; polling mode (the default) needs none of this.
"""

from __future__ import annotations

from typing import Any

import tweepy

from bot.channels.x_api import XSettings, make_client


def _user_auth(settings: XSettings) -> bool:
    """App-level webhook calls use the bearer token when there is one."""
    return settings.bearer_token is None


def register(settings: XSettings, url: str) -> list[str]:
    """Register ``url`` and subscribe the account; returns what was done, line by line."""
    client = make_client(settings)
    created = client.request("POST", "/2/webhooks", json={"url": url}, user_auth=_user_auth(settings))
    webhook = _data(created)
    hook_id, hook_url, valid = webhook.get("id"), webhook.get("url", url), webhook.get("valid")
    lines = [f"registered webhook {hook_id} for {hook_url} (valid: {valid})"]
    client.request(
        "POST", f"/2/account_activity/webhooks/{webhook.get('id')}/subscriptions/all", user_auth=True
    )
    lines.append("subscribed the brand account: its DMs and mentions now arrive at the webhook")
    return lines


def check(settings: XSettings) -> list[str]:
    """What is registered, and whether the account is subscribed to each webhook."""
    client = make_client(settings)
    hooks = _data(client.request("GET", "/2/webhooks", user_auth=_user_auth(settings))) or []
    if not hooks:
        return ["no webhook registered (polling mode needs none; see docs/x.md, 'Connect X')"]
    lines = []
    for hook in hooks if isinstance(hooks, list) else [hooks]:
        try:
            status = _data(client.request(
                "GET", f"/2/account_activity/webhooks/{hook.get('id')}/subscriptions/all", user_auth=True
            ))  # fmt: skip
            subscribed = bool((status or {}).get("subscribed"))
        except tweepy.errors.HTTPException as exc:
            subscribed = False
            lines.append(f"  (subscription check failed: {exc})")
        lines.append(
            f"webhook {hook.get('id')}: {hook.get('url')} valid={hook.get('valid')} subscribed={subscribed}"
        )
    return lines


def _data(response: Any) -> Any:
    if isinstance(response, tweepy.Response):
        return response.data
    if hasattr(response, "json"):
        return (response.json() or {}).get("data")
    return (response or {}).get("data") if isinstance(response, dict) else response
