"""Choosing the fallback threshold from scored messages (bot/evaluation.py), no model needed."""

from __future__ import annotations

from bot.evaluation import Scored, answered_share, fit_threshold, halves, outcome


def scored(expected: str | None, predicted: str, confidence: float, text: str = "") -> Scored:
    return Scored(text or f"{expected}-{predicted}-{confidence}", expected, predicted, confidence)


def test_outcome_counts_what_the_customer_gets_at_a_threshold() -> None:
    items = [
        scored("greet", "greet", 0.9),  # right and confident
        scored("greet", "greet", 0.2),  # right but would fall back below 0.3
        scored("refund", "greet", 0.8),  # wrong
        scored(None, "greet", 0.25),  # out of scope, low confidence: caught
        scored(None, "out_of_scope", 0.9),  # recognised as out of scope: caught
        scored(None, "order_status", 0.7),  # answered as if understood: missed
    ]
    at_03 = outcome(items, 0.3)
    assert (at_03.in_scope_accuracy, at_03.out_of_scope_recall) == (1 / 3, 2 / 3)
    at_0 = outcome(items, 0.0)
    assert (at_0.in_scope_accuracy, at_0.out_of_scope_recall) == (2 / 3, 1 / 3)
    assert (at_0.in_scope, at_0.out_of_scope) == (3, 3)


def test_the_fitted_threshold_separates_the_classes_and_prefers_the_lowest_on_a_tie() -> None:
    inside = [scored("greet", "greet", c, f"in{n}") for n, c in enumerate([0.55, 0.6, 0.7, 0.9, 0.95])]
    outside = [scored(None, "greet", c, f"out{n}") for n, c in enumerate([0.1, 0.2, 0.3, 0.4])]
    fitted = fit_threshold(inside + outside)
    assert fitted.threshold == 0.41  # the lowest that turns every out-of-scope message away
    assert fitted.in_scope_accuracy == 1.0 and fitted.out_of_scope_recall == 1.0
    assert fit_threshold(inside).threshold == 0.0  # nothing to turn away: never fall back


def test_the_fitted_threshold_turns_away_at_most_the_budgeted_share_of_answerable_questions() -> None:
    # 100 in-scope messages, one at each confidence 0.01 … 1.00; 10 out of scope at 0.5 … 0.95.
    inside = [scored("greet", "greet", n / 100, f"in{n}") for n in range(1, 101)]
    outside = [scored(None, "greet", 0.5 + n * 0.05, f"out{n}") for n in range(10)]

    fitted = fit_threshold(inside + outside, max_in_scope_loss=0.03)

    assert fitted.in_scope_accuracy >= 0.97 - 1e-9  # never more than 3 of 100 turned away
    assert fitted.threshold == 0.0 and fitted.out_of_scope_recall == 0.0  # nothing caught cheaply
    generous = fit_threshold(inside + outside, max_in_scope_loss=0.5)
    assert generous.threshold == 0.51 and generous.out_of_scope_recall == 0.1


def test_halves_are_deterministic_and_keep_both_kinds_in_each_half() -> None:
    items = [scored("greet", "greet", 0.9, f"g{n}") for n in range(10)]
    items += [scored(None, "greet", 0.1, f"o{n}") for n in range(10)]
    fit, held_out = halves(items)
    assert halves(list(reversed(items))) == (fit, held_out)
    assert not set(fit) & set(held_out) and len(fit) + len(held_out) == 20
    for half in (fit, held_out):
        assert sum(s.expected is None for s in half) == 5


def test_a_message_with_no_known_word_is_never_counted_as_answered() -> None:
    # UnknownWordsGuard sets confidence 0 ("helloooo"): the bot asks to rephrase at any
    # threshold, so "no threshold" must not count it as answered either.
    items = [scored("greet", "greet", 0.0), scored("greet", "greet", 0.9), scored(None, "greet", 0.0)]
    at_0 = outcome(items, 0.0)
    assert (at_0.in_scope_accuracy, at_0.out_of_scope_recall) == (1 / 2, 1.0)
    assert answered_share(items, 0.0) == 0.0
