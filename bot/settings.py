"""Where the bot finds its files and databases.

Everything comes from environment variables with embedded defaults, so the same code runs
on one laptop (SQLite under ``.data/``) and in production (PostgreSQL URLs from the
environment, as in ``docker-compose.yml``).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The checkout (or image directory) holding ``domain.yml``, ``config.yml`` and ``nlu_data/``."""
    return Path(os.environ.get("SUPPORTBOT_PROJECT_ROOT", PROJECT_ROOT))


def data_dir() -> Path:
    """Writable directory for the embedded SQLite databases."""
    path = Path(os.environ.get("SUPPORTBOT_DATA_DIR", project_root() / ".data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def customer_database_url() -> str:
    """SQLAlchemy URL of the customer store: ``SUPPORTBOT_DATABASE_URL`` or a local SQLite file."""
    url = os.environ.get("SUPPORTBOT_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'customers.db'}"


def cache_dir() -> Path:
    """Cache shared between checkouts (trained models keyed by content hash)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hearthlink-supportbot"
    path = Path(os.environ.get("SUPPORTBOT_CACHE_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path
