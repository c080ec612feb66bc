"""Read-only commands never create or migrate a store: a missing path, a database that is not a
tracker's and a schema at another revision are each a clear error, and nothing is written."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from tracker.cli import main
from tracker.store.db import MIGRATIONS, open_store
from tracker.store.readonly import SCHEMA_HEAD, SCHEMA_REVISIONS

READ_ONLY = [
    ("show", "RB473124829BR"),
    ("status",),
    ("events",),
    ("unclassified",),
    ("preview", "shipped", "--tracking", "RB473124829BR"),  # created the store before
]


def invoke(*argv: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(argv))
    return result.exit_code, result.stderr


def test_schema_revisions_follow_the_migrations_folder() -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(chain) == SCHEMA_REVISIONS, (
        "a migration was added or removed: list its revision in "
        "tracker/store/readonly.py SCHEMA_REVISIONS (read-only commands refuse other revisions)"
    )
    assert script.get_current_head() == SCHEMA_HEAD


@pytest.mark.parametrize("argv", READ_ONLY)
def test_missing_store_path_is_named_and_not_created(tmp_path: Path, argv: tuple[str]) -> None:
    missing = tmp_path / "no-such-folder" / "tracker.sqlite3"
    code, err = invoke(*argv, "--store", f"sqlite:///{missing}")
    assert code == 2
    assert f"store {missing} does not exist" in err
    assert not missing.parent.exists()


def test_missing_store_from_the_config_names_the_resolved_path(tmp_path: Path) -> None:
    config = tmp_path / "tracker.toml"
    config.write_text('[store]\nurl = "sqlite:///typo/tracker.sqlite3"\n')
    code, err = invoke("show", "RB473124829BR", "--config", str(config))
    assert code == 2
    assert f"store {tmp_path / 'typo' / 'tracker.sqlite3'} does not exist" in err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("argv", READ_ONLY)
def test_a_database_without_tracker_schema_is_refused_untouched(
    tmp_path: Path, argv: tuple[str]
) -> None:
    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).close()  # an empty SQLite file: no tables at all
    before = path.read_bytes()
    code, err = invoke(*argv, "--store", f"sqlite:///{path}")
    assert code == 2
    assert f"store {path} has no tracker schema" in err
    assert path.read_bytes() == before


def test_a_file_that_is_no_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    code, err = invoke("status", "--store", f"sqlite:///{path}")
    assert code == 2
    assert f"cannot read {path}: file is not a database" in err


def _set_revision(path: Path, revision: str) -> None:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def _revision(path: Path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


@pytest.mark.parametrize("argv", READ_ONLY)
def test_an_older_schema_is_reported_not_migrated(tmp_path: Path, argv: tuple[str]) -> None:
    path = tmp_path / "tracker.sqlite3"
    open_store(f"sqlite:///{path}")
    older = SCHEMA_REVISIONS[-2]
    _set_revision(path, older)
    code, err = invoke(*argv, "--store", f"sqlite:///{path}")
    assert code == 2
    expected = f"store {path} is at schema revision {older}, this tracker reads {SCHEMA_HEAD}"
    assert expected in err
    assert "tracker run" in err  # says how to upgrade it
    assert _revision(path) == older


def test_an_unknown_newer_schema_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "tracker.sqlite3"
    open_store(f"sqlite:///{path}")
    _set_revision(path, "9999_future")
    code, err = invoke("events", "--store", f"sqlite:///{path}")
    assert code == 2
    assert re.search(r"schema revision 9999_future, unknown to this tracker", err)
    assert "a newer tracker wrote it" in err


def test_a_current_store_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tracker.sqlite3"
    open_store(f"sqlite:///{path}")
    code, err = invoke("events", "--store", f"sqlite:///{path}")
    assert (code, err) == (0, f"store: {path} (--store)\n")


def test_a_password_in_an_unreachable_url_is_not_printed() -> None:
    code, err = invoke("status", "--store", "postgresql://ops:s3cret@127.0.0.1:1/tracker")
    assert code == 2
    assert "cannot read postgresql://ops:***@127.0.0.1:1/tracker" in err
    assert "s3cret" not in err


def test_shops_status_reads_the_store_without_creating_it(tmp_path: Path) -> None:
    config = tmp_path / "tracker.toml"
    config.write_text('[store]\nurl = "sqlite:///data/tracker.sqlite3"\n')
    code, err = invoke("shops", "status", "--config", str(config))
    assert code == 2
    assert f"store {tmp_path / 'data' / 'tracker.sqlite3'} does not exist" in err
    assert not (tmp_path / "data").exists()  # it created an empty database before
    (tmp_path / "data").mkdir()
    open_store(f"sqlite:///{tmp_path / 'data' / 'tracker.sqlite3'}")
    assert invoke("shops", "status", "--config", str(config))[0] == 0


def test_preview_of_a_stored_shipment_reads_without_writing(tmp_path: Path) -> None:
    config = tmp_path / "tracker.toml"
    config.write_text('[store]\nurl = "sqlite:///tracker.sqlite3"\n[carriers.correios]\n')
    order = "--carrier correios --email ana@example.com --name Ana --country BR --order A-1"
    argv = ["add", "RR123456785BR", *order.split(), "--shipped", "2026-11-20"]
    added = CliRunner().invoke(main, [*argv, "--config", str(config)])
    assert added.exit_code == 0, added.output
    store = tmp_path / "tracker.sqlite3"
    # Compared row by row, not byte by byte: the file's own bytes change when SQLite moves the
    # `add` command's write-ahead log into it, which in this one process may happen at any time.
    before = _rows(store)
    argv = ["preview", "shipped", "--tracking", "RR123456785BR", "--config", str(config)]
    result = CliRunner().invoke(main, [*argv, "--out", str(tmp_path / "preview.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "preview.html").exists()
    assert _rows(store) == before


def _rows(store: Path) -> list[str]:
    """Every schema and data row of a SQLite store, read without writing to it."""
    reader = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return list(reader.iterdump())
    finally:
        reader.close()
