"""Reading survey answers the way customers type them (bot/surveys/answers.py), and the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.surveys.answers import is_decline, is_no_comment, looks_like_score, read_answer
from bot.surveys.models import CES, CSAT, NPS
from bot.surveys.settings import SurveySettingsError, load_survey_settings, parse_survey_settings


@pytest.mark.parametrize(
    ("kind", "text", "score"),
    [
        (NPS, "9", 9),
        (NPS, " nine ", 9),
        (NPS, "Ten!", 10),
        (NPS, "10/10", 10),
        (NPS, "10 / 10 thanks", 10),
        (NPS, "9 out of 10", 9),
        (NPS, "I'd give it a 9!", 9),
        (NPS, "0", 0),
        (NPS, "zero", 0),
        (NPS, "definitely", 10),
        (NPS, "extremely likely", 10),
        (NPS, "meh", 5),
        (CSAT, "5 stars", 5),
        (CSAT, "4 star", 4),
        (CSAT, "⭐⭐⭐⭐", 4),
        (CSAT, "⭐ ⭐ ⭐", 3),
        (CSAT, "👍", 5),
        (CSAT, "👍🏽", 5),
        (CSAT, "👎", 1),
        (CSAT, "meh", 3),
        (CSAT, "Very satisfied!", 5),
        (CSAT, "I'm really happy with the help", 5),
        (CSAT, "satisfied", 4),
        (CSAT, "not happy", 2),
        (CSAT, "4/5", 4),
        (CSAT, "5", 5),
        (CES, "Strongly agree", 7),
        (CES, "strongly disagree", 1),
        (CES, "so so", 4),
        (CES, "very easy", 7),
        (CES, "6", 6),
        (CES, "6/7", 6),
    ],
)
def test_messy_answers_are_read_as_their_score(kind: str, text: str, score: int) -> None:
    assert read_answer(text, kind) == score


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (NPS, "11"),  # out of range
        (NPS, "-1"),
        (CSAT, "6"),
        (CSAT, "0"),
        (CES, "8"),
        (CSAT, "10 stars"),
        (NPS, "4/5"),  # a fraction over another scale says nothing about 0-10
        (NPS, "5 stars"),  # stars are a 5-point scale, not NPS
        (CSAT, "4.5"),
        (CSAT, "I have 2 routers and both are down"),
        (CSAT, "where is my order HL-100234"),
        (CSAT, "12345"),
        (NPS, "my order 104233"),
        (CSAT, "can I talk to a human"),
        (CSAT, ""),
        (NPS, "1 or 2 things went wrong"),
    ],
)
def test_what_is_not_a_score_in_range_reads_as_none(kind: str, text: str) -> None:
    assert read_answer(text, kind) is None


def test_an_attempted_score_is_told_apart_from_a_new_question() -> None:
    assert looks_like_score("11") and looks_like_score("4.5") and looks_like_score("6/7")
    assert not looks_like_score("where is my order?")
    assert not looks_like_score("I have 2 routers")


@pytest.mark.parametrize(
    "text",
    ["no thanks", "No thanks!", "stop", "not now", "Not now.", "nope", "skip", "Nein", "nein danke",
     "Jetzt nicht.", "No, gracias", "ahora no"],
)  # fmt: skip
def test_declines(text: str) -> None:
    assert is_decline(text)


@pytest.mark.parametrize("text", ["9", "where is my order", "no signal on my router", "not happy"])
def test_not_declines(text: str) -> None:
    assert not is_decline(text)


def test_nothing_to_add_ends_the_comment() -> None:
    assert is_no_comment("Nothing else") and is_no_comment("no") and not is_no_comment("the agent was rude")
    assert is_no_comment("Nichts weiter.") and is_no_comment("nada más") and is_no_comment("nein")


# --- settings -----------------------------------------------------------------------------


def test_the_shipped_business_file_has_a_valid_surveys_section() -> None:
    settings = load_survey_settings(Path(__file__).resolve().parent.parent / "business.yml")
    assert settings.enabled and settings.after_bot_resolved in ("csat", "ces", "nps", "none")
    assert settings.nps_throttle_days == 30


def test_defaults_when_the_section_is_missing() -> None:
    settings = parse_survey_settings(None)
    assert settings.enabled and settings.after_agent == "csat" and settings.nps_throttle_days == 30


def test_a_full_section_is_parsed() -> None:
    settings = parse_survey_settings({
        "enabled": True, "after_bot_resolved": "CES", "after_agent": "nps",
        "nps": {"share": 0.5, "throttle_days": 14}, "throttle_days": 2, "sample_rate": 0.25,
        "expire_minutes": 10, "ask_comment": False, "followup_channel": "C0FOLLOWUP",
    })  # fmt: skip
    assert (settings.after_bot_resolved, settings.after_agent) == ("ces", "nps")
    assert (settings.nps_share, settings.nps_throttle_days, settings.throttle_days) == (0.5, 14, 2)
    assert (settings.sample_rate, settings.expire_minutes, settings.ask_comment) == (0.25, 10, False)
    assert settings.followup_channel == "C0FOLLOWUP"
    assert settings.kind_for("after_agent") == "nps" and settings.kind_for("bot_resolved") == "ces"


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"after_agent": "smiley"}, "surveys.after_agent"),
        ({"sample_rate": 1.5}, "surveys.sample_rate"),
        ({"sample_rate": "half"}, "surveys.sample_rate"),
        ({"nps": {"share": -0.1}}, "surveys.nps.share"),
        ({"nps": {"throttle": 30}}, "surveys.nps.throttle"),
        ({"expire_minutes": 0}, "surveys.expire_minutes"),
        ({"enabled": "yes"}, "surveys.enabled"),
        ({"followup_channel": "#support"}, "surveys.followup_channel"),
        ({"sampel_rate": 0.5}, "surveys.sampel_rate"),
        (["csat"], "'surveys'"),
    ],
)
def test_errors_name_the_key(raw: object, names: str) -> None:
    with pytest.raises(SurveySettingsError, match=names.replace(".", r"\.")):
        parse_survey_settings(raw, where="business.yml")


def test_supportbot_business_file_points_at_another_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "business.yml"
    other.write_text("surveys:\n  after_bot_resolved: none\n", encoding="utf-8")
    monkeypatch.setenv("SUPPORTBOT_BUSINESS_FILE", str(other))  # settings() is cached on the variables
    assert load_survey_settings().after_bot_resolved == "none"
