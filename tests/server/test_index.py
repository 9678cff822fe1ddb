"""The index on both engines: membership filters, single-project upserts and removals."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import shapely
from mlops_server.filters import parse_filter
from mlops_server.index import Index, IndexQuery, ItemRow, _clause_sql
from mlops_server.settings import load_settings
from mlops_server.sources.base import Project, ProjectFile
from sqlalchemy import create_engine, select, text

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


def test_property_filters_follow_upserts_and_removals(index: Index) -> None:
    # Given a pytorch model and a jax model
    settings = load_settings()
    first, second = (
        _with_front_matter(n + 1, FILTER_PROJECTS[n][0], "sharinghub:aimodel") for n in (0, 1)
    )
    index.rebuild(Source([first, second]), settings)
    predicate = parse_filter("mlm:framework = 'pytorch'")
    query = IndexQuery(visibilities=["public"], categories=["ai-model"], predicate=predicate)
    assert [item.path for item in index.search(query).items] == ["g/p1"]
    # When the jax model moves to pytorch and the first one is removed
    index.upsert(_with_front_matter(2, FILTER_PROJECTS[0][0], "sharinghub:aimodel"), settings)
    index.remove(project_id=1)
    # Then the filter finds the new value only
    assert [item.path for item in index.search(query).items] == ["g/p2"]
    jax = IndexQuery(
        visibilities=["public"],
        categories=["ai-model"],
        predicate=parse_filter("mlm:framework = 'jax'"),
    )
    assert index.search(jax).items == []


def test_postgres_property_filters_use_the_gin_index(postgres_url: str) -> None:
    # Given a PostgreSQL index of many models, one in twenty with framework jax
    index = Index(_own_database(postgres_url, "gin_tests"))
    settings = load_settings()
    projects = [
        _with_front_matter(n, FILTER_PROJECTS[1 if n % 20 == 0 else 0][0], "sharinghub:aimodel")
        for n in range(1, 2001)
    ]
    index.rebuild(Source(projects), settings)
    try:
        # When the planner is asked how it runs a jax filter
        predicate = parse_filter("mlm:framework = 'jax'")
        assert predicate is not None
        assert predicate.prefilter is not None
        condition = _clause_sql(predicate.prefilter, "postgresql")
        statement = select(ItemRow.path).where(condition)
        compiled = statement.compile(index.engine)
        values = {
            k: json.dumps(v) if isinstance(v, dict) else v for k, v in compiled.params.items()
        }
        with index.engine.connect() as connection:
            explained = connection.exec_driver_sql(f"EXPLAIN {compiled}", values)
            plan = "\n".join(row[0] for row in explained)
            found = connection.scalars(statement).all()
        # Then it reads the GIN index on the properties, and finds the 100 jax models
        assert "ix_items_properties" in plan
        assert len(found) == 100
    finally:
        index.rebuild(Source([]), settings)
        index.dispose()


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


def test_box_search_agrees_with_shapely_around_every_side(index: Index) -> None:
    # Given triangles and boxes scattered over and around a box: inside it, across one or
    # two of its sides, around a corner, outside it with a bbox that meets it
    rng = random.Random(3)
    shapes = []
    for n in range(200):
        if n < 120:  # around a corner of (0, 0, 10, 10), where a bbox meets it most often
            cx, cy = rng.choice([0.0, 10.0]), rng.choice([0.0, 10.0])
            x, y = cx - rng.uniform(0.2, 3), cy - rng.uniform(0.2, 3)
        else:
            x, y = rng.uniform(-4, 14), rng.uniform(-4, 14)
        w, h = rng.uniform(0.5, 6), rng.uniform(0.5, 6)
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        if rng.random() < 0.7:  # a triangle: its box minus one corner, any of the four
            del corners[rng.randrange(4)]
            shapes.append(shapely.Polygon(corners))
        else:
            shapes.append(shapely.box(x, y, x + w, y + h))
    settings = load_settings()
    projects = [
        _with_front_matter(n + 1, f"extent:\n  spatial: '{shape.wkt}'\n", "sharinghub:dataset")
        for n, shape in enumerate(shapes)
    ]
    index.rebuild(Source(projects), settings)
    for bbox in [(0.0, 0.0, 10.0, 10.0), (2.5, -1.0, 7.5, 3.0), (-3.0, 8.0, 1.0, 12.0)]:
        # When searching the box
        query = IndexQuery(visibilities=["public"], categories=["dataset"], bbox=bbox, limit=200)
        found = {item.path for item in index.search(query).items}
        # Then the items are exactly the shapes that intersect it (edges included)
        expected = {
            f"g/p{n + 1}" for n, shape in enumerate(shapes) if shape.intersects(shapely.box(*bbox))
        }
        assert found == expected
        # (and the case is not trivial: some shapes' bboxes meet the box, not their shapes)
        box_hits = {
            f"g/p{n + 1}"
            for n, shape in enumerate(shapes)
            if shapely.box(*shape.bounds).intersects(shapely.box(*bbox))
        }
        assert box_hits - expected


def _placed(project_id: int, box: str, title: str) -> Project:
    return _with_front_matter(
        project_id, f"title: {title}\nextent:\n  spatial: {box}\n", "sharinghub:dataset"
    )


def test_spatial_and_text_indexes_follow_upserts_and_removals(index: Index) -> None:
    # Given a project over Toulouse whose title has a word, and one elsewhere
    settings = load_settings()
    scars = _placed(1, "[1.2, 43.4, 1.6, 43.8]", "Wildfire scars")
    index.rebuild(Source([scars, _placed(2, "[10, 10, 11, 11]", "Crop types 50%_off")]), settings)
    toulouse = (1.0, 43.0, 2.0, 44.0)
    public = {"visibilities": ["public"]}
    # When searching by box and by words (trigram index, short and LIKE-special words too)
    # Then each finds what contains it
    assert paths(index, **public, bbox=toulouse) == {"g/p1"}
    assert paths(index, **public, words=["ldfir"]) == {"g/p1"}
    assert paths(index, **public, words=["50%_"]) == {"g/p2"}
    assert paths(index, **public, words=["0%"]) == {"g/p2"}
    assert paths(index, **public, words=["%"]) == {"g/p2"}
    assert paths(index, **public, words=["_"]) == {"g/p2"}
    assert paths(index, **public, words=["5_%"]) == set()
    # When the project moves and is renamed (webhook upsert)
    index.upsert(_placed(1, "[20, 20, 21, 21]", "Flood maps"), settings)
    # Then the old box and word no longer find it, the new ones do
    assert paths(index, **public, bbox=toulouse) == set()
    assert paths(index, **public, words=["wildfire"]) == set()
    assert paths(index, **public, bbox=(20.5, 20.5, 30.0, 30.0)) == {"g/p1"}
    assert paths(index, **public, words=["flood"]) == {"g/p1"}
    # When it is removed
    index.remove(project_id=1)
    # Then neither finds it
    assert paths(index, **public, bbox=(20.5, 20.5, 30.0, 30.0)) == set()
    assert paths(index, **public, words=["flood"]) == set()


def test_count_stops_at_the_limit_and_paging_still_reaches_every_item(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five public datasets and an index that counts at most three matches
    settings = load_settings()
    index.rebuild(Source([project(n, f"g/p{n}", "public") for n in range(1, 6)]), settings)
    monkeypatch.setattr("mlops_server.index.COUNT_LIMIT", 3)
    seen: list[str] = []
    offset = 0
    while True:
        # When paging two by two
        query = IndexQuery(visibilities=["public"], categories=["dataset"], offset=offset, limit=2)
        page = index.search(query)
        # Then no page claims a count (there are more than three) ...
        assert page.matched is None
        seen += [item.path for item in page.items]
        if not page.more:
            break
        offset += 2
    # ... and the pages hold every item once, in order
    assert seen == [f"g/p{n}" for n in range(1, 6)]
    # When the limit is above the number of matches, the count is exact on every page
    monkeypatch.setattr("mlops_server.index.COUNT_LIMIT", 10)
    for offset in (0, 2, 4):
        query = IndexQuery(visibilities=["public"], categories=["dataset"], offset=offset, limit=2)
        assert index.search(query).matched == 5
        assert index.search(query).more is (offset < 4)
    # Past the end, a page is empty and still counts (or says it did not)
    past = IndexQuery(visibilities=["public"], categories=["dataset"], offset=7, limit=2)
    page = index.search(past)
    assert (page.items, page.matched, page.more) == ([], 5, False)
    monkeypatch.setattr("mlops_server.index.COUNT_LIMIT", 3)
    page = index.search(past)
    assert (page.items, page.matched, page.more) == ([], None, False)
    # A search without match counts zero
    none = IndexQuery(visibilities=["public"], categories=["processor"], limit=2)
    page = index.search(none)
    assert (page.items, page.matched, page.more) == ([], 0, False)


class _PausedSource(Source):
    """A source whose listing stops halfway until released (a slow GitLab sync)."""

    def __init__(self, projects: list[Project]) -> None:
        super().__init__(projects)
        self.halfway = threading.Event()
        self.release = threading.Event()

    def iter_projects(self) -> Iterator[Project]:
        yield self.projects[0]
        self.halfway.set()
        assert self.release.wait(10)
        yield from self.projects[1:]


def test_an_upsert_during_a_rebuild_waits_for_it(index: Index) -> None:
    # Given: a rebuild paused after its first project, the second one still to come
    first, second = project(401, "race/first", "public"), project(402, "race/second", "public")
    source = _PausedSource([first, second])
    rebuild = threading.Thread(target=index.rebuild, args=(source, load_settings()))
    rebuild.start()
    assert source.halfway.wait(10)

    # When a webhook re-indexes the second project meanwhile (a concurrent writer)
    errors: list[BaseException] = []

    def upsert() -> None:
        try:
            index.upsert(second, load_settings())
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    webhook = threading.Thread(target=upsert)
    webhook.start()
    source.release.set()
    rebuild.join(20)
    webhook.join(20)

    # Then neither writer fails, and the project is indexed once
    assert errors == []
    assert index.get(path="race/second") is not None
    assert index.get(project_id=402) is not None
