"""What a person sees of a ``rasa train`` run: one progress line and the warnings that matter.

A first ``./scripts/run.sh`` printed 133 lines of training output before the bot was up
(measured 2026-12-01): library deprecation warnings, 47 "utterance is not used in any story"
warnings, progress bars, a BERT load report. All of it still goes to the log file; the
terminal gets a progress line (the component being trained) and the warnings left after
dropping the known noise below, each with the reason it is noise here.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "path.py:12: UserWarning: text" (Python warnings) or "2026-… WARNING  logger - text" (logging).
_PY_WARNING = re.compile(r":\d+: (?P<category>\w*(?:Warning|Error)): (?P<message>.*)")
_LOG_WARNING = re.compile(r"^\S+ \S+ (?:WARNING|ERROR)\s+\S+\s+- (?P<message>.*)")
_DEPRECATION = re.compile(r"Deprecation|MovedIn20")
_COMPONENT = re.compile(r"Starting to train component '(?P<name>[^']+)'")

#: (pattern, why it is not worth a newcomer's attention); matched against the warning's message.
NOISE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"pkg_resources is deprecated"), "libraries' own deprecations; nothing to do for us"),
    (re.compile(r"The utterance 'utter_\w+' is not used in any story or rule"),
     "our custom actions send these responses by name, which Rasa's validator does not see"),
    (re.compile(r"The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU"),
     "EXTERNAL_ intents are triggered by the relay, never typed by a customer"),
    (re.compile(r"The intent 'knowledge_question' is listed in the domain file, but is not found in the NLU"),
     "set by the help-center search (bot/nlu/knowledge_retriever.py), never classified from examples"),
    (re.compile(r"The intent 'other_language' is listed in the domain file, but is not found in the NLU"),
     "set by the language detector (bot/nlu/language_detector.py), never classified from examples"),
    (re.compile(r"training data consisting of (entity examples|lookup tables), but your NLU configuration"),
     "entities come from RegexEntityExtractor (regexes + lookup table, config.yml), which this check skips"),
)  # fmt: skip


def warnings_worth_showing(lines: Iterable[str]) -> list[str]:
    """The warnings and errors in Rasa's output that are not known noise, each once, in order."""
    shown: list[str] = []
    for raw in lines:
        line = _ANSI.sub("", raw).strip()
        match = _PY_WARNING.search(line) or _LOG_WARNING.search(line)
        if match is None:
            continue
        if _DEPRECATION.search(match.groupdict().get("category") or ""):
            continue  # libraries' own DeprecationWarning, MovedIn20Warning, PyparsingDeprecationWarning…
        message = match["message"].strip()
        if any(pattern.search(message) for pattern, _why in NOISE) or message in shown:
            continue
        shown.append(message)
    return shown


class TrainingProgress:
    """Copies Rasa's output to the log file and shows one line of progress on a terminal.

    On a terminal the line updates every second (elapsed time and the component in training);
    elsewhere (CI, a pipe) it prints only a start and an end line.
    """

    def __init__(self, title: str, log: IO[str], out: IO[str] | None = None) -> None:
        self.title = title
        self.log = log
        self.out = out or sys.stdout
        self.lines: list[str] = []
        self.step = "starting Rasa"
        self.started = time.monotonic()
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        self.interactive = self.out.isatty()

    def __enter__(self) -> TrainingProgress:
        if self.interactive:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        else:
            print(f"==> {self.title} ...", file=self.out, flush=True)
        return self

    def feed(self, line: str) -> None:
        self.log.write(line)
        self.lines.append(line)
        found = _COMPONENT.search(line)
        if found:
            self.step = f"training {found['name']}"

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join()
            print(f"\r\x1b[2K==> {self.title}", file=self.out, flush=True)  # the ticker's line, kept

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def _tick(self) -> None:
        while not self._done.wait(1.0):
            line = f"==> {self.title} ... {self.seconds:.0f} s ({self.step})"
            print(f"\r\x1b[2K{line}", end="", file=self.out, flush=True)


def tail(path: Path, count: int = 30) -> str:
    """The last ``count`` lines of a log, for error messages."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-count:]
    return "\n".join(_ANSI.sub("", line) for line in lines)
