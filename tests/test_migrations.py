"""The migrations, on real SQLite and PostgreSQL: they make exactly the schema the models declare.

``differences`` is Alembic's autogenerate comparison: a model changed without a migration
makes it non-empty, and the first test here fails, on either dialect, until
``python -m bot db revision -m "..."`` writes the migration.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Constraint, Index, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.db import NAMING_CONVENTION, engine
from bot.migrations import (
    MIGRATIONS_DIR,
    SchemaNotCurrent,
    current_revision,
    differences,
    downgrade,
    head_revision,
    require_current,
    upgrade,
)
from bot.migrations.tables import TABLE_MODULES, metadata
from tests.support import ROOT


def tables(url: str) -> set[str]:
    return set(inspect(engine(url)).get_table_names())


def test_the_migrations_make_every_table_and_match_the_models_exactly(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert tables(empty_url) == set(metadata().tables) | {"alembic_version"}
    assert differences(empty_url) == []
    require_current(empty_url)  # what every server checks at start


def test_a_model_change_without_a_migration_is_detected(empty_url: str) -> None:
    upgrade(empty_url)
    changed = MetaData(naming_convention=NAMING_CONVENTION)
    for table in metadata().tables.values():
        table.to_metadata(changed)
    handoffs = changed.tables["handoffs"]
    handoffs.append_column(Column("priority", String(20), nullable=True))
    Index("ix_handoffs_priority", handoffs.c.priority)
    with engine(empty_url).connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), changed)
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in found}
    assert kinds == {"add_column", "add_index"}, found


def test_a_database_older_than_the_code_is_refused_with_the_command_that_fixes_it(empty_url: str) -> None:
    with pytest.raises(SchemaNotCurrent, match=r"none \(no tables yet\).*python -m bot db upgrade"):
        require_current(empty_url)
    upgrade(empty_url, "0001")
    with pytest.raises(SchemaNotCurrent, match=r"at schema revision 0001, this code needs"):
        require_current(empty_url)


def create_all_as_before_the_migrations(url: str, skip: set[str]) -> None:
    """What the old ``create_schema()`` made: 0001's tables through ``create_all``, no constraint
    names of ours (SQLite leaves them unnamed, PostgreSQL names them itself), no version table."""
    spec = importlib.util.spec_from_file_location("initial", MIGRATIONS_DIR / "versions" / "0001_initial.py")
    initial = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(initial)
    old = MetaData()
    for name, items, indexes in initial._tables():
        if name in skip:
            continue
        for item in items:
            if isinstance(item, Constraint) and item.name != "uq_identity_channel_id":  # the one named
                item.name = None
        table = Table(name, old, *items)
        for index, columns in indexes.items():
            Index(index, *(table.c[column] for column in columns))
    old.create_all(engine(url))


def add_outbox_item(connection: Connection, dedupe_key: str) -> None:
    connection.execute(
        text("INSERT INTO outbox (queue, kind, payload, dedupe_key, attempts, next_attempt_at, created_at) "
             "VALUES ('desk:1', 'desk.post_card', '{}', :key, 0, '2026-01-01', '2026-01-01')"),
        {"key": dedupe_key},
    )  # fmt: skip


def test_a_database_made_before_the_migrations_is_adopted_with_its_rows(empty_url: str) -> None:
    """Old processes ran ``create_all`` for the modules they imported: some tables, no version."""
    create_all_as_before_the_migrations(empty_url, skip={"x_choices"})  # the X channel never ran here
    with engine(empty_url).begin() as connection:
        connection.execute(text("INSERT INTO handoff_cursors (name, position) VALUES ('metrics', 17)"))
        connection.execute(text("INSERT INTO x_cursors (name, value) VALUES ('dm', '1582838213461262340')"))
        connection.execute(
            text("INSERT INTO customers (name, devices, preferences, created_at) "
                 "VALUES ('Ada', '[]', '{}', '2026-01-01 09:00:00')")
        )  # fmt: skip
        add_outbox_item(connection, dedupe_key="card:1")
    assert current_revision(empty_url) is None

    upgrade(empty_url)
    assert differences(empty_url) == []
    with engine(empty_url).connect() as connection:
        cursors = dict(connection.execute(text("SELECT name, position FROM stream_cursors")).all())
        assert connection.execute(text("SELECT name FROM customers")).scalars().all() == ["Ada"]
    assert cursors == {"metrics": 17, "x:dm": 1582838213461262340}
    with pytest.raises(IntegrityError), engine(empty_url).begin() as connection:  # still unique, now named
        add_outbox_item(connection, dedupe_key="card:1")  # the same delivery queued twice
    assert not {"handoff_cursors", "x_cursors"} & tables(empty_url)


def test_downgrading_the_cursor_table_gives_each_reader_its_old_row_back(empty_url: str) -> None:
    upgrade(empty_url)
    with engine(empty_url).begin() as connection:
        for name, position in (("rasa-event-broker", 5), ("x:mentions", 9)):
            connection.execute(
                text("INSERT INTO stream_cursors (name, position) VALUES (:name, :position)"),
                {"name": name, "position": position},
            )
    downgrade(empty_url, "0001")
    with engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT name, position FROM handoff_cursors")).all() == [
            ("rasa-event-broker", 5)
        ]
        assert connection.execute(text("SELECT name, value FROM x_cursors")).all() == [("mentions", "9")]
    downgrade(empty_url, "base")
    assert tables(empty_url) <= {"alembic_version"}


def test_processes_upgrading_one_database_at_once_migrate_it_once(empty_url: str) -> None:
    """Two ``bot run`` or a compose one-shot next to a developer's shell: the lock serialises them."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        started_at = list(pool.map(lambda _n: upgrade(empty_url), range(4)))
    assert started_at.count(None) == 1, started_at  # one migrated; the others found it done
    assert current_revision(empty_url) == head_revision()
    assert differences(empty_url) == []


def test_every_module_that_declares_a_table_is_in_the_migrations_registry() -> None:
    """A table in a module the registry misses would be invisible to the comparison above."""
    declaring = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        if re.search(r"^\s+__tablename__\s*=", path.read_text(encoding="utf-8"), re.MULTILINE):
            declaring.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert declaring == set(TABLE_MODULES)


def test_the_db_commands_upgrade_and_report_and_a_server_refuses_an_old_schema(tmp_path: Path) -> None:
    env = {**os.environ, "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'customers.db'}"}

    def bot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    before = bot("db", "current")
    assert before.returncode == 1 and "empty" in before.stdout and "db upgrade" in before.stdout
    refused = bot("worker", "--port", "0")
    assert refused.returncode == 2, refused.stderr
    assert "python -m bot db upgrade" in refused.stderr
    upgraded = bot("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"empty -> {head_revision()}" in upgraded.stdout
    again = bot("db", "upgrade")
    assert again.returncode == 0 and "already at" in again.stdout
    after = bot("db", "current")
    assert after.returncode == 0 and "up to date" in after.stdout
