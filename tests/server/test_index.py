"""The index on both engines: membership filters, single-project upserts and removals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from mlops_server.index import Index, IndexQuery
from mlops_server.settings import load_settings
from mlops_server.sources.base import Project, ProjectFile
from sqlalchemy import create_engine, text

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def project(project_id: int, path: str, visibility: str) -> Project:
    return Project(
        id=project_id,
        name=path.rsplit("/", 1)[-1],
        path=path,
        description=f"{visibility} project",
        topics=("sharinghub:dataset",),
        visibility=visibility,
        default_branch="main",
        created_at=WHEN,
        last_activity_at=WHEN,
        readme="# Readme\n",
        files=("README.md",),
    )


class Source:
    def __init__(self, projects: list[Project]) -> None:
        self.projects = projects

    def iter_projects(self) -> Iterator[Project]:
        yield from self.projects

    def get_project(self, path: str) -> Project:
        raise NotImplementedError

    def open_file(self, project_path: str, file_path: str, ref: str | None = None) -> ProjectFile:
        raise NotImplementedError


def _own_database(server_url: str, name: str) -> str:
    """A database of its own in the shared cluster, so no other test sees these rows."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def index(request: pytest.FixtureRequest) -> Iterator[Index]:
    if request.param == "sqlite":
        url = "sqlite://"
    else:
        url = _own_database(request.getfixturevalue("postgres_url"), "index_tests")
    index = Index(url)
    yield index
    index.rebuild(Source([]), load_settings())  # leave the shared database empty
    index.dispose()


def paths(index: Index, **query: object) -> set[str]:
    page = index.search(IndexQuery(categories=["dataset"], **query))  # type: ignore[arg-type]
    return {item.path for item in page.items}


def test_members_see_their_private_projects_and_nobody_else_does(index: Index) -> None:
    # Given a public, an internal and two private projects
    settings = load_settings()
    index.rebuild(
        Source(
            [
                project(1, "g/open", "public"),
                project(2, "g/inside", "internal"),
                project(3, "g/mine", "private"),
                project(4, "g/theirs", "private"),
            ]
        ),
        settings,
    )
    # When / Then
    assert paths(index, visibilities=["public"]) == {"g/open"}
    assert paths(index, visibilities=["public", "internal"], project_ids=[3]) == {
        "g/open",
        "g/inside",
        "g/mine",
    }
    page = index.search(IndexQuery(visibilities=["public"], categories=["dataset"], limit=1))
    assert page.matched == 1


def test_upsert_follows_renames_and_remove_drops(index: Index) -> None:
    # Given
    settings = load_settings()
    index.rebuild(Source([project(7, "g/old-name", "public")]), settings)
    # When the project is renamed (same id, new path)
    index.upsert(project(7, "g/new-name", "public"), settings)
    # Then only the new path is indexed
    assert paths(index, visibilities=["public"]) == {"g/new-name"}
    assert index.get(project_id=7) is not None
    assert index.get(path="g/old-name") is None
    # When removed
    assert index.remove(project_id=7) is True
    assert index.remove(project_id=7) is False
    assert paths(index, visibilities=["public"]) == set()
