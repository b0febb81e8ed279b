"""One settings source: the environment is read in one module, every setting is documented,
errors name the setting and the fix, and each business fact has one definition.

Unit level (no Rasa server, no model): settings, credentials, business.yml, the order-number
pattern, the texts our own code sends and the opening hours the bot quotes.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from bot import order_numbers, responses
from bot.business import load_business_settings
from bot.credentials import slack_values, x_values
from bot.settings import SettingsError, expand, settings
from bot.settings_reference import reference_markdown
from tests.support.bot import write_business_file

ROOT = Path(__file__).resolve().parent.parent
ENV_READ = re.compile(r"os\.environ|os\.getenv|getenv\(|os\.path\.expandvars|from os import .*environ")


# --------------------------------------------------------------------------- the environment


def test_no_module_but_bot_settings_reads_the_environment() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("bot", "actions")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "bot" / "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ENV_READ.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, "read settings through bot.settings instead:\n" + "\n".join(offenders)


def test_settings_are_parsed_once_per_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings() is settings()
    before = settings()
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path))
    assert settings() is not before and settings().data_dir == tmp_path
    assert settings().database_url == f"sqlite:///{tmp_path / 'customers.db'}"
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", "postgresql+psycopg2://bot@db/support")
    assert settings().database_url == "postgresql+psycopg2://bot@db/support"


def test_defaults_without_any_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RASA_PORT", "ACTIONS_PORT", "WORKER_PORT", "RELAY_PORT", "RABBITMQ_METRICS_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    loaded = settings()
    assert (loaded.rasa.port, loaded.rasa.actions_port, loaded.worker.listen_port) == (5005, 5055, 5006)
    assert loaded.worker.metrics_queue == "metrics"
    monkeypatch.setenv("RELAY_PORT", "6006")  # the older name still works ...
    assert settings().worker.listen_port == 6006
    monkeypatch.setenv("WORKER_PORT", "7006")  # ... and the new one wins
    assert settings().worker.listen_port == 7006


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RELAY_PORT", "abc", "RELAY_PORT='abc' is not a port number; set it to e.g. 5006"),
        ("RASA_PORT", "70000", "RASA_PORT='70000' is not a port number; set it to e.g. 5005"),
        ("DB_PORT", "five", "DB_PORT='five' is not a port number; set it to e.g. 5432"),
        ("WORKER_PORT", "-1", "WORKER_PORT='-1' is not a port number; set it to e.g. 5006"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        settings()
    assert str(error.value) == message


def test_a_missing_business_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(tmp_path / "nope.yml"))
    with pytest.raises(SettingsError, match=r"SUPPORTBOT_BUSINESS_FILE='.*nope\.yml' is not a file"):
        settings()


def test_secrets_never_show_in_a_logged_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.credentials import SlackValues

    monkeypatch.setenv("DB_PASSWORD", "hunter2-db")
    monkeypatch.setenv("RASA_AUTH_TOKEN", "rasa-t0ken")
    shown = repr(settings())
    assert "hunter2-db" not in shown and "rasa-t0ken" not in shown and "db_password=***" in shown
    assert "db_host='127.0.0.1'" in shown  # everything else stays readable
    assert "xoxb-secret" not in repr(SlackValues(bot_token="xoxb-secret", handoff_channel="C1"))


def test_dollar_references_expand_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_SECRET", "s3cret")
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    assert expand({"a": "${BOT_SECRET}", "b": ["x-${BOT_SECRET}"], "c": 5}) == {
        "a": "s3cret", "b": ["x-s3cret"], "c": 5,
    }  # fmt: skip
    assert expand("${UNSET_SECRET:-fallback}") == "fallback" and expand("${UNSET_SECRET:-}") == ""
    with pytest.raises(
        SettingsError, match=r"slack\.bot_token is \$\{UNSET_SECRET\}, but UNSET_SECRET is not set"
    ):
        expand({"bot_token": "${UNSET_SECRET}"}, where="slack")
    assert expand("${UNSET_SECRET}", strict=False) == "${UNSET_SECRET}"  # like os.path.expandvars
    # Expanded once: a value that itself looks like a reference is not expanded again.
    monkeypatch.setenv("LOOKS_LIKE", "${BOT_SECRET}")
    assert expand("${LOOKS_LIKE}") == "${BOT_SECRET}"


# --------------------------------------------------------------------------- Slack and X: one rule


def _business_with_slack(tmp_path: Path, slack: dict[str, str]) -> Path:
    path = write_business_file(tmp_path / "business.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["slack"] = slack
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_slack_credentials_from_business_yml_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.handoff.settings import slack_settings

    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_HANDOFF_CHANNEL", "SLACK_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert slack_settings() is None  # nothing anywhere: the local inbox

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")  # environment only
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "env-secret")
    monkeypatch.setenv("SLACK_HANDOFF_CHANNEL", "CENV")
    assert (slack_settings().bot_token, slack_settings().channel) == ("xoxb-env", "CENV")

    monkeypatch.setenv("DESK_TOKEN", "xoxb-from-yaml")  # the YAML wins, its ${VAR} expanded
    business = _business_with_slack(tmp_path, {"bot_token": "${DESK_TOKEN}", "handoff_channel": "CYAML"})
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(business))
    desk = slack_settings()
    assert (desk.bot_token, desk.signing_secret, desk.channel) == ("xoxb-from-yaml", "env-secret", "CYAML")
    assert slack_values()["SLACK_MODE"] == "http"


def test_slack_yaml_reference_to_an_unset_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOT_EXPORTED_TOKEN", raising=False)
    business = _business_with_slack(tmp_path, {"bot_token": "${NOT_EXPORTED_TOKEN}"})
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(business))
    with pytest.raises(
        SettingsError, match=r"slack\.bot_token is \$\{NOT_EXPORTED_TOKEN\}.*export NOT_EXPORTED_TOKEN"
    ):
        slack_values()


def test_x_credentials_from_credentials_yml_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels.x_api import x_settings

    for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert x_settings({}) is None
    monkeypatch.setenv("X_CONSUMER_KEY", "env-key")
    monkeypatch.setenv("X_CONSUMER_SECRET", "env-secret")
    monkeypatch.setenv("X_ACCESS_TOKEN", "env-token")
    monkeypatch.setenv("BRAND_TOKEN_SECRET", "yaml-token-secret")
    section = {"access_token_secret": "${BRAND_TOKEN_SECRET}", "consumer_key": "yaml-key", "mode": "webhook"}
    x = x_settings(section)
    assert (x.consumer_key, x.consumer_secret, x.access_token) == ("yaml-key", "env-secret", "env-token")
    assert (x.access_token_secret, x.mode) == ("yaml-token-secret", "webhook")
    assert x_values({})["X_POLL_INTERVAL"] == "60"


# --------------------------------------------------------------------------- docs/configuration.md


def test_configuration_reference_matches_the_settings_objects() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    generated = page.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert generated == reference_markdown(), "regenerate the block with: python -m bot.settings_reference"


def test_every_business_yml_key_is_documented_and_nothing_else() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = page.split("## business.yml", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([\w.*]+)` \|", section, flags=re.MULTILINE))

    def leaves(node: object, prefix: str = "") -> set[str]:
        if isinstance(node, dict):
            return {leaf for key, value in node.items() for leaf in leaves(value, f"{prefix}{key}.")}
        return {prefix.rstrip(".")}

    shipped = leaves(yaml.safe_load((ROOT / "business.yml").read_text(encoding="utf-8")))
    groups = {key[:-1] for key in documented if key.endswith(".*")}  # e.g. webchat.labels.*
    undocumented = {key for key in shipped if key not in documented and not key.startswith(tuple(groups))}
    assert not undocumented, undocumented
    assert {key for key in documented if not key.endswith(".*")} <= shipped  # nothing stale
    assert "webchat.labels.*" in documented and "slack.*" in documented  # slack: commented out


# --------------------------------------------------------------------------- business.yml


def test_business_yml_is_top_level_and_not_training_data() -> None:
    from bot.training import training_data_files

    assert (ROOT / "business.yml").is_file() and not (ROOT / "nlu_data" / "business.yml").exists()
    assert all(path.name != "business.yml" for path in training_data_files())
    rasa_keys = {"version", "nlu", "rules", "stories", "responses"}
    for path in (ROOT / "nlu_data").rglob("*.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert set(document) <= rasa_keys, f"{path} is not Rasa training data: {set(document) - rasa_keys}"


def test_business_yml_values_may_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_business_file(tmp_path / "business.yml", internal_note_prefix="${NOTE_PREFIX:-//}")
    assert load_business_settings(path).handoff.internal_note_prefix == "//"
    monkeypatch.setenv("SHOP_NAME", "Acme Home")
    named = tmp_path / "named.yml"
    named.write_text(path.read_text(encoding="utf-8").replace("name: Hearthlink", "name: ${SHOP_NAME}"))
    assert load_business_settings(named).name == "Acme Home"


def test_a_bad_upset_threshold_names_the_key(tmp_path: Path) -> None:
    from bot.business import BusinessSettingsError

    path = write_business_file(tmp_path / "business.yml", upset_threshold=6)
    with pytest.raises(BusinessSettingsError, match=r"handoff\.upset_threshold must be in \(0, 1\]"):
        load_business_settings(path)


# --------------------------------------------------------------------------- one order-number pattern


def test_the_order_number_pattern_is_the_entity_regex() -> None:
    document = yaml.safe_load((ROOT / "nlu_data" / "entities.yml").read_text(encoding="utf-8"))
    (entry,) = [item for item in document["nlu"] if item.get("regex") == "order_number"]
    listed = [line.strip()[2:] for line in entry["examples"].splitlines() if line.strip()]
    assert list(order_numbers.expressions()) == listed


def test_store_and_x_use_the_one_pattern() -> None:
    from bot.channels.x_text import is_personal
    from bot.customers import normalise_order_number

    for spelling in ("HL-104233", "hl104233", "#104233", "104233", " hl-104233 ", "order HL 104233 pls"):
        assert normalise_order_number(spelling) == "HL-104233", spelling
        assert is_personal(f"about {spelling.strip()}: shipped"), spelling
    for not_one in ("12345", "HL-1042331", "not a number", "", None):
        assert normalise_order_number(not_one) is None, not_one
    assert not is_personal("Our team is in Mon–Sat 08:00–20:00, call 1-800-555-0142")


def test_every_demo_order_matches_the_pattern() -> None:
    demo = yaml.safe_load((ROOT / "bot" / "customers" / "demo_customers.yml").read_text(encoding="utf-8"))
    numbers = re.findall(r"HL-\d+", yaml.safe_dump(demo))
    assert numbers
    for number in numbers:
        assert order_numbers.pattern().fullmatch(number) and order_numbers.normalise(number) == number


# --------------------------------------------------------------------------- texts from domain.yml


def test_texts_our_code_sends_are_domain_responses() -> None:
    used = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").glob("*.py")]:
        used |= set(re.findall(r'render\(\s*"(utter_\w+)"', path.read_text(encoding="utf-8")))
    assert {"utter_empty_message", "utter_not_text", "utter_attachment_only", "utter_agent_joined"} <= used
    assert used <= responses.names(), used - responses.names()


def test_channel_texts_come_from_domain_yml() -> None:
    from bot.channels import bad_input, x_text

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    assert bad_input.problem_with("  ") == domain["utter_empty_message"][0]["text"]
    assert bad_input.problem_with(42) == domain["utter_not_text"][0]["text"]

    def variant(name: str, language: str | None = None) -> str:
        for v in domain[name]:
            if [c["value"] for c in v.get("condition") or ()] == ([language] if language else []):
                return v["text"]
        raise AssertionError(f"{name} has no {language} variant")

    moved = x_text.public_reply("maria", ["Your order HL-104233 shipped"])
    assert moved == [f"@maria {variant('utter_x_moved_to_dm')}"]
    long = x_text.public_reply("maria", ["word " * 400])
    assert len(long) == 3 and long[-1].endswith(variant("utter_x_more_in_dm"))
    # the texts the channel adds speak the mention's language
    assert x_text.public_reply("ana", ["Tu pedido HL-104233 salió"], "es") == [
        f"@ana {variant('utter_x_moved_to_dm', 'es')}"
    ]
    assert x_text.public_reply("jo", ["Wort " * 400], "de")[-1].endswith(variant("utter_x_more_in_dm", "de"))
    assert x_text.move_to_dm_reply("jo", "de") == [f"@jo {variant('utter_x_moved_to_dm', 'de')}"]


def test_placeholders_are_filled_once_and_missing_ones_are_named() -> None:
    text = responses.render("utter_agent_joined", agent_name="{agent_name} <!channel>")
    assert text == "{agent_name} <!channel> from our support team has joined the conversation."
    with pytest.raises(
        responses.ResponseError, match=r"utter_agent_joined .* needs a value for \{agent_name\}"
    ):
        responses.render("utter_agent_joined")
    with pytest.raises(responses.ResponseError, match="no response 'utter_nothing'"):
        responses.render("utter_nothing")


def test_no_customer_text_left_in_python() -> None:
    """The texts moved to domain.yml are not also kept in Python (one copy)."""
    moved = [
        "arrived empty",
        "only read text",
        "open pictures",
        "sent you a DM",
        "(more in DM)",
        "has joined the",
    ]
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert not [text for text in moved if text in source], path


# --------------------------------------------------------------------------- the hours the bot quotes


def test_the_quoted_hours_are_the_hours_the_bot_computes_with(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.store_info import ActionSupportHours

    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(ROOT / "business.yml"))  # the real hours
    hours = load_business_settings().handoff.business_hours
    assert (hours.timezone, hours.opens.hour, hours.closes.hour) == ("Europe/London", 8, 20)
    dispatcher = CollectingDispatcher()
    tracker = Tracker("maria", {}, {}, [], False, None, {}, "action_listen")
    asyncio.run(ActionSupportHours().run(dispatcher, tracker, {}))
    (message,) = dispatcher.messages
    assert message["response"] == "utter_support_hours" and message["hours"] == hours.describe()
    said = responses.fill(responses.template("utter_support_hours"), message)
    assert "Mon–Sat 08:00–20:00 (Europe/London time)" in said
    # A Saturday at 10:00 in London is inside the quoted hours; Sunday is not.
    assert hours.is_open(datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc))
    domain = (ROOT / "domain.yml").read_text(encoding="utf-8")
    assert "Eastern" not in domain and "8am" not in domain  # no second, hard-coded schedule
