"""Train Rasa models once per content: cached by a hash of everything that shapes them.

The fingerprint covers config.yml, domain.yml, the training data files, our custom NLU
components (bot/nlu/, bot/knowledge/), the help-center articles (knowledge/*.md) and the
Rasa version, so editing a response, an example or an article retrains, and a fresh
checkout with unchanged data reuses the cached model (CI included).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import yaml

from bot.settings import cache_dir, child_environment, data_dir, project_root
from bot.training_log import TrainingProgress, tail, warnings_worth_showing


class TrainingError(RuntimeError):
    """``rasa train`` failed; the message ends with the last lines of its log."""


def training_data_files(data_dir: Path | None = None) -> list[Path]:
    """The YAML files under ``nlu_data/`` (Rasa ignores the non-training ones)."""
    root = data_dir or project_root() / "nlu_data"
    return sorted(p for p in root.rglob("*.yml") if p.is_file())


def _configured_modules(root: Path) -> list[Path]:
    """The source files of our own components and policies named in config.yml (plus the
    policy base and state format they share): editing one must retrain, not reuse a stale model."""
    config = yaml.safe_load((root / "config.yml").read_text(encoding="utf-8")) or {}
    names = [str(c.get("name", "")) for key in ("pipeline", "policies") for c in config.get(key) or []]
    ours = [name for name in names if name.startswith("bot.")]
    files = [root / Path(*name.split(".")[:-1]).with_suffix(".py") for name in ours]
    shared = [root / "bot" / "rule_policy_base.py", root / "bot" / "trained_state.py"]
    return sorted(p for p in [*files, *shared] if p.is_file())


def fingerprint(files: Iterable[Path], *, nlu_only: bool = False) -> str:
    import rasa

    root = project_root()
    digest = hashlib.sha256(f"rasa={rasa.__version__};nlu_only={nlu_only}".encode())
    inputs = [root / "config.yml", root / "domain.yml", *files]
    inputs += sorted((root / "bot" / "nlu").glob("*.py")) + sorted((root / "bot" / "knowledge").glob("*.py"))
    inputs += sorted((root / "knowledge").glob("*.md"))  # the help center is indexed at training
    inputs += _configured_modules(root)  # our policies learn at training too (second_request_policy)
    for path in dict.fromkeys(inputs):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def ensure_model(
    data_files: list[Path] | None = None, *, nlu_only: bool = False, quiet: bool = False
) -> Path:
    """Path of a trained model for these data files, training it only if not cached."""
    files = data_files if data_files is not None else training_data_files()
    kind = "nlu" if nlu_only else "full"
    key = fingerprint(files, nlu_only=nlu_only)
    models = cache_dir() / "models"
    models.mkdir(parents=True, exist_ok=True)
    target = models / f"{kind}-{key}.tar.gz"
    if target.exists():
        if not quiet:
            print(f"==> model up to date ({target.name}, cached)", flush=True)
        return target
    _train(files, target, nlu_only=nlu_only, quiet=quiet)
    return target


def _train(files: list[Path], target: Path, *, nlu_only: bool, quiet: bool) -> None:
    root = project_root()
    staging = target.parent / f".training-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staged = staging / "data"
    staged.mkdir(parents=True)
    for index, path in enumerate(files):  # one folder, so Rasa sees exactly these files
        shutil.copyfile(path, staged / f"{index:03d}-{path.name}")
    command = [
        sys.executable, "-m", "rasa", "train", *(["nlu"] if nlu_only else []),
        "--config", str(root / "config.yml"),
        *([] if nlu_only else ["--domain", str(root / "domain.yml")]),
        *(["--nlu"] if nlu_only else ["--data"]), str(staged),
        "--out", str(staging), "--fixed-model-name", "model",
    ]  # fmt: skip
    what = "NLU model" if nlu_only else "model (NLU + dialogue)"
    log_path = data_dir() / "logs" / f"train-{'nlu' if nlu_only else 'full'}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "w") if quiet else nullcontext(sys.stdout) as out, log_path.open("w") as log:
        with TrainingProgress(
            f"training the {what}: data or config changed, about 1-2 minutes", log, out
        ) as run:
            child = subprocess.Popen(
                command, cwd=root, env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert child.stdout is not None
            for raw in child.stdout:  # bytes split on "\n" only: tqdm's "\r" updates stay one line
                run.feed(raw.decode("utf-8", "replace"))
            returncode = child.wait()
        trained = staging / "model.tar.gz"
        if returncode != 0 or not trained.exists():
            shutil.rmtree(staging, ignore_errors=True)
            log.flush()
            raise TrainingError(
                f"rasa train failed (exit {returncode}); the last lines of {log_path}:\n{tail(log_path)}"
            )
        trained.replace(target)  # atomic: a half-written model is never picked up
        shutil.rmtree(staging, ignore_errors=True)
        print(f"==> trained in {run.seconds:.0f} s (full output: {log_path})", file=out, flush=True)
        for warning in warnings_worth_showing(run.lines):
            print(f"    warning: {warning}", file=out, flush=True)


def _shipped_entry(section: str, name: str, config_file: Path | None) -> dict[str, Any] | None:
    """The entry of config.yml's ``section`` (pipeline, policies) named ``name`` (Rasa's name, or
    our class name at the end of a dotted path), or None when the section has none."""
    config = yaml.safe_load((config_file or project_root() / "config.yml").read_text(encoding="utf-8"))
    for entry in (config or {}).get(section) or []:
        if str(entry.get("name")).split(".")[-1] == name:
            return entry
    return None


def shipped_component(name: str, config_file: Path | None = None) -> dict[str, Any] | None:
    """The NLU pipeline entry of config.yml named ``name``, or None (see _shipped_entry)."""
    return _shipped_entry("pipeline", name, config_file)


def shipped_policy(name: str, config_file: Path | None = None) -> dict[str, Any] | None:
    """The policies entry of config.yml named ``name``, or None (see _shipped_entry)."""
    return _shipped_entry("policies", name, config_file)


def shipped_fallback_threshold(config_file: Path | None = None) -> float:
    """The FallbackClassifier threshold in config.yml (chosen by bench/oos_threshold.py)."""
    component = shipped_component("FallbackClassifier", config_file)
    if component is None:
        return 0.0
    return float(component.get("threshold", 0.3))  # Rasa's default
