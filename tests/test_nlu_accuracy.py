"""Intent accuracy on held-out examples, with the shipped config.yml pipeline."""

from __future__ import annotations

from pathlib import Path

from bot.evaluation import evaluate, load_examples, stratified_split, write_nlu_file
from bot.training import ensure_model

ROOT = Path(__file__).resolve().parent.parent
MIN_ACCURACY = 0.90


def test_held_out_intent_accuracy_is_at_least_90_percent(tmp_path: Path) -> None:
    train, test = stratified_split(load_examples(), test_fraction=0.2, seed=7)
    assert len(test) >= 150  # a fifth of the examples, every intent represented
    assert {e.intent for e in test} == {e.intent for e in train}
    train_file = write_nlu_file(train, tmp_path / "train.yml")
    model = ensure_model([train_file, ROOT / "nlu_data" / "entities.yml"], nlu_only=True)

    report = evaluate(model, test)

    print("\n" + report.summary())
    assert report.accuracy >= MIN_ACCURACY, report.summary()
