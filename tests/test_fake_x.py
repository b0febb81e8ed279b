"""The fake X API must be indistinguishable from X for the real `tweepy.Client`.

If these tests pass, an X-channel test that fails against the fake is a bug in our code, not in
the fake: the real client talks to it over HTTP through the same `requests` transport adapter
production uses to re-point tweepy, its OAuth 1.0a signatures are verified, and the webhooks the
fake sends verify with an independent reference HMAC implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from tests.fakes.x import FakeX, tweet_length

CUSTOMER = "1600000000000000001"
OTHER = "1600000000000000002"
X_HOSTS = ("https://api.twitter.com", "https://api.x.com")


class RewriteAdapter(HTTPAdapter):
    """Sends requests meant for X to the fake; the same trick production uses to re-point tweepy.

    tweepy v2 hard-codes `https://api.twitter.com` + route, so the only seam is the `requests`
    session. OAuth 1.0a signs the original URL before `send`, so signatures stay valid for X.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        for host in X_HOSTS:
            if url.startswith(host + "/"):
                request.url = self.base_url + url[len(host) :]
                kwargs["proxies"] = {}  # env proxies were chosen for X's host, not for loopback
                break
        return super().send(request, **kwargs)


def make_client(fake: FakeX, **overrides: Any) -> tweepy.Client:
    """A real tweepy client whose session is re-pointed at the fake for both X hostnames."""
    credentials = {**fake.credentials, **overrides}
    return_type = credentials.pop("return_type", tweepy.Response)
    client = tweepy.Client(**credentials, return_type=return_type)
    adapter = RewriteAdapter(fake.base_url)
    for host in X_HOSTS:
        client.session.mount(host + "/", adapter)
    return client


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        server.add_user(CUSTOMER, "alice", "Alice Example")
        server.add_user(OTHER, "bob", "Bob Example")
        yield server


@pytest.fixture
def client(fake: FakeX) -> tweepy.Client:
    return make_client(fake)


# ---------------------------------------------------------------------- REST API via tweepy


def test_get_me_over_both_hostnames(fake: FakeX, client: tweepy.Client) -> None:
    me = client.get_me(user_auth=True)
    assert (me.data.id, me.data.username, me.data.name) == (
        1500000000000000000,
        "hearthlink",
        "Hearthlink Support",
    )

    # A request signed for api.x.com (X's newer hostname) verifies too.
    session = requests.Session()
    session.mount("https://api.x.com/", RewriteAdapter(fake.base_url))
    keys = fake.keys
    auth = OAuth1(keys.consumer_key, keys.consumer_secret, keys.access_token, keys.access_token_secret)
    response = session.get("https://api.x.com/2/users/me", params={"user.fields": "id"}, auth=auth)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": fake.brand_id, "name": "Hearthlink Support", "username": "hearthlink"}
    }
    assert [(c.endpoint, c.status) for c in fake.api_calls("users_me")] == [("users_me", 200)] * 2


def test_mentions_since_id_expansions_and_pagination(fake: FakeX, client: tweepy.Client) -> None:
    first = fake.add_mention(CUSTOMER, "@hearthlink my heater is broken")
    second = fake.add_mention(OTHER, "where is my order?")  # the handle gets prepended
    assert second["text"] == "@hearthlink where is my order?"
    assert int(second["id"]) > int(first["id"])

    page = client.get_users_mentions(
        fake.brand_id,
        expansions=["author_id"],
        tweet_fields=["created_at", "conversation_id"],
        user_auth=True,
    )
    assert [t.id for t in page.data] == [int(second["id"]), int(first["id"])]  # newest first
    assert [t.author_id for t in page.data] == [int(OTHER), int(CUSTOMER)]
    assert page.data[0].created_at is not None and page.data[0].conversation_id == int(second["id"])
    assert {u.username for u in page.includes["users"]} == {"alice", "bob"}
    assert page.meta == {"result_count": 2, "newest_id": second["id"], "oldest_id": first["id"]}

    # X omits fields nobody asked for: a poller that forgets expansions gets no author.
    bare = client.get_users_mentions(fake.brand_id, user_auth=True)
    assert set(bare.data[0].data) == {"id", "text", "edit_history_tweet_ids"} and bare.includes == {}

    nothing = client.get_users_mentions(fake.brand_id, since_id=second["id"], user_auth=True)
    assert (nothing.data, nothing.meta) == (None, {"result_count": 0})

    third = fake.add_mention(CUSTOMER, "@hearthlink hello again")
    fresh = client.get_users_mentions(
        fake.brand_id, since_id=second["id"], expansions=["author_id"], user_auth=True
    )
    assert [t.id for t in fresh.data] == [int(third["id"])]
    assert [u.id for u in fresh.includes["users"]] == [int(CUSTOMER)]

    for n in range(4):
        fake.add_mention(OTHER, f"spam {n}")
    seen = [
        t.id
        for response in tweepy.Paginator(
            client.get_users_mentions, fake.brand_id, max_results=5, user_auth=True
        )
        for t in response.data
    ]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)

    with pytest.raises(tweepy.errors.BadRequest, match="max_results"):
        client.get_users_mentions(fake.brand_id, max_results=3, user_auth=True)


def test_dm_events_page_newest_first_and_include_the_brands_own(fake: FakeX, client: tweepy.Client) -> None:
    sent_in = [fake.add_dm(CUSTOMER, f"message {n}") for n in range(4)]
    fake.add_dm(OTHER, "photo", attachments={"media_keys": ["3_99"]})
    created = client.create_direct_message(participant_id=CUSTOMER, text="We are on it!", user_auth=True)
    assert created.data["dm_conversation_id"] == fake.records.conversation_id(CUSTOMER)

    fields = ["sender_id", "created_at", "dm_conversation_id", "attachments"]
    first = client.get_direct_message_events(dm_event_fields=fields, max_results=2, user_auth=True)
    assert first.meta["result_count"] == 2 and "next_token" in first.meta
    newest = first.data[0]
    assert (newest.id, newest.sender_id, newest.text) == (
        int(created.data["dm_event_id"]),
        int(fake.brand_id),
        "We are on it!",
    )
    assert first.data[1].attachments == {"media_keys": ["3_99"]}

    pages = list(
        tweepy.Paginator(
            client.get_direct_message_events, dm_event_fields=fields, max_results=2, user_auth=True
        )
    )
    ids = [event.id for page in pages for event in page.data]
    assert len(pages) == 3 and "next_token" not in pages[-1].meta
    assert ids == sorted(ids, reverse=True) and len(ids) == 6
    assert ids[-4:] == [int(e["id"]) for e in reversed(sent_in)]
    assert all(
        e.dm_conversation_id == fake.records.conversation_id(CUSTOMER) for p in pages for e in p.data[:1]
    )

    # Defaults only: no sender unless asked, exactly as X (a classic polling bug).
    bare = client.get_direct_message_events(max_results=1, user_auth=True)
    assert set(bare.data[0].data) == {"id", "event_type", "text"}

    with pytest.raises(tweepy.errors.BadRequest, match="pagination_token"):
        client.get_direct_message_events(pagination_token="not-a-token", user_auth=True)


def test_create_direct_message_records_and_rejects_over_10000_chars(
    fake: FakeX, client: tweepy.Client
) -> None:
    response = client.create_direct_message(participant_id=CUSTOMER, text="Hello Alice", user_auth=True)
    assert set(response.data) == {"dm_conversation_id", "dm_event_id"}
    client.create_direct_message(participant_id=OTHER, text="Hi Bob", user_auth=True)

    assert [(d["participant_id"], d["text"]) for d in fake.sent_dms()] == [
        (CUSTOMER, "Hello Alice"),
        (OTHER, "Hi Bob"),
    ]
    assert fake.sent_dms(CUSTOMER)[0]["id"] == response.data["dm_event_id"]
    assert fake.api_calls("dm_create")[0].body == {"text": "Hello Alice"}
    assert fake.api_calls("dm_create")[0].status == 201

    client.create_direct_message(participant_id=CUSTOMER, text="x" * 10_000, user_auth=True)
    with pytest.raises(tweepy.errors.BadRequest) as excinfo:
        client.create_direct_message(participant_id=CUSTOMER, text="x" * 10_001, user_auth=True)
    assert excinfo.value.response.json()["title"] == "Invalid Request"
    assert len(fake.sent_dms()) == 3


def test_create_tweet_reply_and_length_limit(fake: FakeX, client: tweepy.Client) -> None:
    mention = fake.add_mention(CUSTOMER, "@hearthlink is the app down?")
    reply = client.create_tweet(
        text="@alice Not at all, DM us!", in_reply_to_tweet_id=mention["id"], user_auth=True
    )
    assert reply.data["text"] == "@alice Not at all, DM us!"
    posted = fake.posted_tweets()
    assert [(t["id"], t["in_reply_to"], t["conversation_id"]) for t in posted] == [
        (reply.data["id"], mention["id"], mention["id"])
    ]
    assert fake.api_calls("tweet_create")[0].body == {
        "text": "@alice Not at all, DM us!",
        "reply": {"in_reply_to_tweet_id": mention["id"]},
    }

    client.create_tweet(text="a" * 280, user_auth=True)
    with pytest.raises(tweepy.errors.BadRequest, match="too long") as excinfo:
        client.create_tweet(text="a" * 281, user_auth=True)
    assert set(excinfo.value.response.json()) >= {"title", "detail", "type"}

    url = "https://hearthlink.example.com/" + "x" * 100
    assert tweet_length(url) == 23 and tweet_length("a" * 140 + "\u4e2d") == 142
    client.create_tweet(text="b" * 250 + " " + url, user_auth=True)  # 274 weighted, 351 len()

    with pytest.raises(tweepy.errors.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="hi", in_reply_to_tweet_id="1234", user_auth=True)
    assert len(fake.posted_tweets()) == 3


def test_rate_limit_headers_and_429(fake: FakeX) -> None:
    raw = make_client(fake, return_type=requests.Response)
    response = raw.get_users_mentions(fake.brand_id, user_auth=True)
    assert response.headers["x-rate-limit-limit"] == "180"
    assert response.headers["x-rate-limit-remaining"] == "179"
    assert int(response.headers["x-rate-limit-reset"]) > time.time() + 800

    client = make_client(fake)
    fake.rate_limit("mentions", remaining=1, reset_in=0.4)
    client.get_users_mentions(fake.brand_id, user_auth=True)
    with pytest.raises(tweepy.errors.TooManyRequests) as excinfo:
        client.get_users_mentions(fake.brand_id, user_auth=True)
    headers = excinfo.value.response.headers
    assert headers["x-rate-limit-remaining"] == "0"
    assert int(headers["x-rate-limit-reset"]) == excinfo.value.reset_time >= int(time.time())
    assert excinfo.value.response.json()["title"] == "Too Many Requests"
    client.get_me(user_auth=True)  # other endpoints are unaffected

    time.sleep(0.45)
    assert client.get_users_mentions(fake.brand_id, user_auth=True).meta == {"result_count": 0}
    assert [c.status for c in fake.api_calls("mentions")] == [200, 200, 429, 200]


def test_server_errors_and_outage(fake: FakeX, client: tweepy.Client) -> None:
    fake.fail("dm_create", status=503, times=2)
    for _ in range(2):
        with pytest.raises(tweepy.errors.TwitterServerError):
            client.create_direct_message(participant_id=CUSTOMER, text="retry me", user_auth=True)
    client.create_direct_message(participant_id=CUSTOMER, text="retry me", user_auth=True)
    assert [c.status for c in fake.api_calls("dm_create")] == [503, 503, 201]
    assert len(fake.sent_dms()) == 1

    fake.set_down(True)
    with pytest.raises(tweepy.errors.TwitterServerError):
        client.get_me(user_auth=True)
    fake.set_down(False)
    assert client.get_me(user_auth=True).data.username == "hearthlink"


def test_authentication_is_checked_like_x(fake: FakeX, client: tweepy.Client) -> None:
    missing = requests.get(f"{fake.base_url}/2/users/me", timeout=5)
    assert missing.status_code == 401
    assert missing.json()["title"] == "Unauthorized"
    assert "x-rate-limit-reset" in missing.headers

    with pytest.raises(tweepy.errors.Unauthorized):
        make_client(fake, bearer_token=None).get_users_mentions(fake.brand_id)  # sends "Bearer None"
    with pytest.raises(tweepy.errors.Unauthorized):  # wrong secret -> OAuth signature does not verify
        make_client(fake, consumer_secret="wrong").get_me(user_auth=True)
    with pytest.raises(tweepy.errors.Unauthorized):
        make_client(fake, access_token="someone-else").get_me(user_auth=True)

    # App-only bearer works where X allows it, and is refused where X requires user context.
    assert client.get_users_mentions(fake.brand_id).meta == {"result_count": 0}
    with pytest.raises(tweepy.errors.Forbidden, match="Application-Only is forbidden"):
        client.get_me(user_auth=False)

    with pytest.raises(tweepy.errors.NotFound):
        client.get_tweet(1, user_auth=True)
    assert fake.api_calls("unknown")[0].status == 404  # GET /2/tweets/:id: the bot never reads tweets


# ---------------------------------------------------------------------- webhooks (X -> app)


def reference_signature(secret: str, payload: bytes) -> str:
    """Written independently of the fake, from X's Account Activity docs."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode()


class WebhookApp:
    """A bare HTTP endpoint standing in for our channel: answers CRCs, verifies signatures."""

    def __init__(self, consumer_secret: str) -> None:
        self.consumer_secret = consumer_secret
        self.received: list[tuple[dict[str, str], bytes, bool]] = []
        self.crc_queries: list[dict[str, list[str]]] = []


@pytest.fixture
def webhook_app(fake: FakeX) -> Iterator[tuple[str, WebhookApp]]:
    app = WebhookApp(fake.keys.consumer_secret)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            app.crc_queries.append(query)
            token = query["crc_token"][0]
            self._reply(200, {"response_token": reference_signature(app.consumer_secret, token.encode())})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            given = self.headers.get("x-twitter-webhooks-signature", "")
            valid = hmac.compare_digest(given, reference_signature(app.consumer_secret, body))
            app.received.append(({k.lower(): v for k, v in self.headers.items()}, body, valid))
            self._reply(200 if valid else 403, {"ok": valid})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/x", app
    finally:
        server.shutdown()
        server.server_close()


def test_crc_check(fake: FakeX, webhook_app: tuple[str, WebhookApp]) -> None:
    url, app = webhook_app
    status, body = fake.crc_check(url)
    token = fake.last_crc_token
    assert token and app.crc_queries[0]["crc_token"] == [token] and "nonce" in app.crc_queries[0]
    assert status == 200 and body == {"response_token": fake.expected_crc_response(token)}
    assert fake.expected_crc_response("abc") == reference_signature("fake-consumer-secret", b"abc")


def test_deliver_dm_is_signed_and_shaped_like_account_activity(
    fake: FakeX, client: tweepy.Client, webhook_app: tuple[str, WebhookApp]
) -> None:
    url, app = webhook_app
    assert fake.deliver_dm(url, CUSTOMER, "my boiler is leaking") == (200, '{"ok": true}')
    headers, body, valid = app.received[-1]
    assert valid and headers["x-twitter-webhooks-signature"].startswith("sha256=")
    payload = json.loads(body)
    assert payload["for_user_id"] == fake.brand_id
    (event,) = payload["direct_message_events"]
    assert event["type"] == "message_create" and event["created_timestamp"].isdigit()
    create = event["message_create"]
    assert create["target"] == {"recipient_id": fake.brand_id}
    assert create["sender_id"] == CUSTOMER and create["message_data"]["text"] == "my boiler is leaking"
    assert "entities" in create["message_data"]
    assert payload["users"][CUSTOMER]["screen_name"] == "alice"
    assert payload["users"][CUSTOMER]["name"] == "Alice Example"

    # X retries: same event id redelivered, recorded once, and visible to a dm_events poller.
    fake.deliver_dm(url, CUSTOMER, "my boiler is leaking", event_id=event["id"])
    assert json.loads(app.received[-1][1])["direct_message_events"][0]["id"] == event["id"]
    polled = client.get_direct_message_events(dm_event_fields=["sender_id"], user_auth=True)
    assert [(e.id, e.sender_id) for e in polled.data] == [(int(event["id"]), int(CUSTOMER))]

    forged = fake.deliver_dm(url, CUSTOMER, "forged", signing_secret="not-the-secret")
    assert forged[0] == 403 and app.received[-1][2] is False
    assert fake.deliver_raw(url, b'{"for_user_id": "1"')[0] == 403  # unsigned
    assert "x-twitter-webhooks-signature" not in app.received[-1][0]
    assert fake.deliver_raw(url, b"not json", fake.sign(b"not json"))[0] == 200


def test_own_dm_echo(fake: FakeX, client: tweepy.Client, webhook_app: tuple[str, WebhookApp]) -> None:
    url, app = webhook_app
    client.create_direct_message(participant_id=CUSTOMER, text="Thanks, Alice", user_auth=True)
    assert fake.deliver_own_dm(url, "typed by an agent in the X app")[0] == 200
    echo = json.loads(app.received[-1][1])["direct_message_events"][0]
    assert echo["message_create"]["sender_id"] == fake.brand_id
    assert echo["message_create"]["target"]["recipient_id"] == CUSTOMER  # the last customer DMed
    assert app.received[-1][2]
    assert [d["text"] for d in fake.sent_dms()] == ["Thanks, Alice"]  # typed in the X app: not ours


def test_wait_for_reports_state_on_timeout(fake: FakeX, client: tweepy.Client) -> None:
    late = threading.Timer(0.05, lambda: client.create_direct_message(participant_id=CUSTOMER, text="late",
                                                                      user_auth=True))  # fmt: skip
    late.start()
    assert fake.wait_for(lambda: fake.sent_dms(), timeout=5)[0]["text"] == "late"
    fake.add_mention(CUSTOMER, "shown in failure reports")
    with pytest.raises(AssertionError, match="shown in failure reports"):
        fake.wait_for(lambda: fake.posted_tweets(), timeout=0.05)
