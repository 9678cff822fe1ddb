"""The embedded MLflow database appears whole or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.store.tracking import sqlalchemy_store
from mlops_server.tracking.embedded import create_database_atomically


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_an_interrupted_creation_leaves_no_database_and_the_next_start_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a first start that dies while MLflow migrates its tables
    database = tmp_path / "mlflow.db"

    class DiesMidway(sqlalchemy_store.SqlAlchemyStore):
        def __init__(self, db_uri: str, default_artifact_root: str) -> None:
            Path(db_uri.removeprefix("sqlite:///")).write_bytes(b"half a database")
            raise KeyboardInterrupt

    monkeypatch.setattr(sqlalchemy_store, "SqlAlchemyStore", DiesMidway)
    with pytest.raises(KeyboardInterrupt):
        create_database_atomically(database, "mlflow-artifacts:/")
    monkeypatch.undo()

    # Then: nothing is at the database's path, only a staging file
    assert not database.exists()
    assert len(list(tmp_path.glob("mlflow.db.*.new"))) == 1

    # When: the next start creates it
    create_database_atomically(database, "mlflow-artifacts:/")

    # Then: a complete database, and no staging file left
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= tables(database)
    assert list(tmp_path.glob("mlflow.db.*.new")) == []


def test_an_existing_database_is_left_alone(tmp_path: Path) -> None:
    # Given
    database = tmp_path / "mlflow.db"
    create_database_atomically(database, "mlflow-artifacts:/")
    before = database.stat().st_mtime_ns

    # When
    create_database_atomically(database, "mlflow-artifacts:/")

    # Then
    assert database.stat().st_mtime_ns == before
