"""Intent accuracy and out-of-scope handling on held-out examples, with the shipped
config.yml pipeline (trained without the held-out fifth; cached by content)."""

from __future__ import annotations

from pathlib import Path

from bot.evaluation import (
    answered_share,
    as_scored_items,
    english_only,
    evaluate,
    held_out_model,
    load_examples,
    load_out_of_domain,
    load_out_of_scope,
    outcome,
    score,
    stratified_split,
)
from bot.training import shipped_fallback_threshold

MIN_ACCURACY = 0.90
MIN_OUT_OF_SCOPE_RECALL = 0.75
# bench/oos_threshold.py measures 6.5 % (goal: at most 10 %, which this test holds); the bot
# answered 72 % before it learnt other domains.
MAX_OUT_OF_DOMAIN_ANSWERED = 0.10
# The floors are the English ones (bot.evaluation.english_only): Spanish and German are
# measured on bench/data/languages.yml (tests/test_languages_conversation.py, bench/languages.py).


def test_held_out_intent_accuracy_is_at_least_90_percent(tmp_path: Path) -> None:
    train, test = stratified_split(load_examples(), test_fraction=0.2, seed=7)
    assert len(test) >= 150  # a fifth of the examples, every intent represented
    assert {e.intent for e in test} == {e.intent for e in train}
    model, held_out = held_out_model(tmp_path)
    assert held_out == test

    report = evaluate(model, english_only(test))

    print("\n" + report.summary())
    assert report.accuracy >= MIN_ACCURACY, report.summary()


def test_the_shipped_threshold_turns_away_out_of_scope_messages_it_never_saw(tmp_path: Path) -> None:
    """bench/oos_threshold.py picked config.yml's threshold; this keeps it honest."""
    model, held_out = held_out_model(tmp_path)
    scored = score(
        model, as_scored_items(english_only(held_out)) + [(text, None) for text in load_out_of_scope()]
    )
    shipped = outcome(scored, shipped_fallback_threshold())
    print(
        f"\nthreshold {shipped.threshold}: in-scope accuracy {shipped.in_scope_accuracy:.1%}, "
        f"out-of-scope recall {shipped.out_of_scope_recall:.1%} ({shipped.out_of_scope} messages)"
    )
    assert shipped.out_of_scope >= 100
    assert shipped.out_of_scope_recall >= MIN_OUT_OF_SCOPE_RECALL
    assert shipped.in_scope_accuracy >= MIN_ACCURACY - 0.03  # the threshold costs little


def test_messages_about_other_businesses_are_not_answered_as_support_questions(tmp_path: Path) -> None:
    """ "cancel my table booking at the sushi place" is not cancel_order (the measuring half)."""
    model, _ = held_out_model(tmp_path)
    by_domain = load_out_of_domain()
    assert len(by_domain) >= 25 and sum(map(len, by_domain.values())) >= 300
    scored = score(model, [(text, None) for texts in by_domain.values() for text in texts])
    answered = answered_share(scored, shipped_fallback_threshold())
    examples = [s.text for s in scored if s.predicted != "out_of_scope"][:5]
    print(f"\nout-of-domain answered: {answered:.1%} of {len(scored)}, e.g. {examples}")
    assert answered <= MAX_OUT_OF_DOMAIN_ANSWERED, examples
