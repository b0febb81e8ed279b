"""The help center's threshold is fitted with every out-of-domain domain weighing the same."""

from __future__ import annotations

from bot.evaluation import domain_balanced_threshold


def test_a_domain_with_more_lines_does_not_set_the_threshold_for_all() -> None:
    # "stores": 40 lines, 10 of them scoring 0.6; ten other domains of 4 lines scoring 0.2
    scores = [0.6] * 10 + [0.1] * 30 + [0.2] * 40
    domains = ["stores"] * 40 + [f"d{n}" for n in range(10) for _ in range(4)]
    # per message 10/80 = 12.5 % score 0.6; per domain (1/11) * (10/40) = 2.3 %
    assert domain_balanced_threshold(scores, domains, budget=0.03) == 0.21
    assert domain_balanced_threshold(scores, domains, budget=0.02) == 0.61


def test_nothing_found_is_never_answered_and_an_even_set_counts_per_message() -> None:
    assert domain_balanced_threshold([-1.0] * 5, ["a"] * 5, budget=0.0) == 0.0
    scores = [0.5, 0.4, 0.3, 0.2]
    assert domain_balanced_threshold(scores, ["a", "b", "c", "d"], budget=0.25) == 0.41
    assert domain_balanced_threshold(scores, ["a", "b", "c", "d"], budget=0.5) == 0.31
