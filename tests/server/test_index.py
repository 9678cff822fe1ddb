"""The index on both engines: membership filters, single-project upserts and removals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from mlops_server.filters import parse_filter
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


def _with_front_matter(project_id: int, front_matter: str, topic: str) -> Project:
    base = project(project_id, f"g/p{project_id}", "public")
    return Project(
        **{**base.__dict__, "topics": (topic,), "readme": f"---\n{front_matter}---\n# P\n"}
    )


FILTER_PROJECTS = [
    ("mlm:\n  framework: pytorch\n  epochs: 3\n", "sharinghub:aimodel"),
    ("mlm:\n  framework: jax\n  epochs: 9\n", "sharinghub:aimodel"),
    ("mlm:\n  framework: 5\n", "sharinghub:aimodel"),  # a number, never equal to a string
    ("mlm:\n  framework: null\n", "sharinghub:aimodel"),
    ("mlm:\n  framework: [pytorch]\n", "sharinghub:aimodel"),
    ("mlm:\n  architecture: U-Net\n", "sharinghub:aimodel"),  # no framework at all
    ("platform: pytorch\n", "sharinghub:dataset"),
    ("extent:\n  spatial: 'POLYGON((0 0, 4 0, 0 4, 0 0))'\n", "sharinghub:dataset"),
    ("extent:\n  spatial: [3, 3, 5, 5]\n", "sharinghub:dataset"),
]


@pytest.mark.parametrize(
    "cql2",
    [
        "mlm:framework = 'pytorch'",
        "NOT (mlm:framework = 'pytorch')",
        "mlm:framework IN ('pytorch', 'jax')",
        "mlm:framework NOT IN ('pytorch', 'jax')",
        "mlm:framework = 'pytorch' OR platform = 'pytorch'",
        "collection = 'dataset' AND NOT (platform = 'pytorch')",
        "id = 'g/p2' OR id = 'g/p3'",
        "mlm:framework = 'pytorch' AND mlm:epochs > 2",  # SQL prefilter + Python
        "mlm:framework <> 'pytorch'",  # Python only
    ],
)
def test_filters_run_in_sql_with_the_predicate_meaning(index: Index, cql2: str) -> None:
    # Given items whose property is a string, a number, null, a list or missing
    settings = load_settings()
    projects = [_with_front_matter(n + 1, fm, t) for n, (fm, t) in enumerate(FILTER_PROJECTS)]
    index.rebuild(Source(projects), settings)
    predicate = parse_filter(cql2)
    assert predicate is not None
    # When searched through the index (SQL for the clauses it can run)
    query = IndexQuery(
        visibilities=["public"], categories=["ai-model", "dataset"], limit=100, predicate=predicate
    )
    found = {item.path for item in index.search(query).items}
    # Then it keeps exactly what the predicate keeps when evaluated item by item
    expected = set()
    for each in projects:
        indexed = index.get(path=each.path)
        assert indexed is not None
        if predicate(indexed.item, indexed.categories):
            expected.add(each.path)
    assert found == expected
    assert predicate.exact == ("epochs" not in cql2 and "<>" not in cql2)


def test_box_search_is_exact_for_polygons_on_its_edge(index: Index) -> None:
    # Given a triangle whose bbox meets the box but whose geometry does not, and a box
    settings = load_settings()
    projects = [_with_front_matter(n + 1, fm, t) for n, (fm, t) in enumerate(FILTER_PROJECTS)]
    index.rebuild(Source(projects), settings)
    # When searching a box inside the triangle's bbox, beyond its hypotenuse
    query = IndexQuery(visibilities=["public"], categories=["dataset"], bbox=(3.0, 3.0, 3.5, 3.5))
    page = index.search(query)
    # Then only the rectangle is found
    assert [item.path for item in page.items] == ["g/p9"]
    assert page.matched == 1
