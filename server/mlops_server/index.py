"""The derived index of items: what every search reads, rebuilt from a project source.

SQLAlchemy keeps one code path for SQLite (embedded) and PostgreSQL (platform). Searches
prefilter on the bbox columns in SQL and test exact geometries with shapely.

Each database gets the access paths its planner can use, kept in step with ``items`` by the
database itself (triggers, index maintenance), so that every write path stays one insert:

- SQLite: an R*Tree over the item bboxes (``items_rtree``) and an FTS5 trigram table over the
  searchable text (``items_text``, substring ``LIKE`` through an index);
- PostgreSQL: a GiST index on the bbox as a ``box``, a ``pg_trgm`` GIN index on the text and
  a GIN index on the items' short string properties (``items.properties``, ``jsonb``).

CQL2 equality filters on properties read ``item_properties`` (name, value, path) on SQLite;
on PostgreSQL they test ``items.properties @> {name: value}`` through the GIN index, which
finds the matching rows without probing ``items`` once per match.

They only narrow the candidates: the exact conditions on the ``items`` columns always run too,
so results do not depend on them. ``numberMatched`` is counted exactly up to ``COUNT_LIMIT``
matches and left out above (as GitLab leaves out ``X-Total`` above 10,000 results): counting is
O(matches), paging is not.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    inspect,
    not_,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy import Index as SqlIndex
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

from mlops_server.filters import PROPERTY_VALUE_MAX, UNINDEXED_PROPERTIES, Clause, CqlFilter
from mlops_server.settings import Settings
from mlops_server.sources.base import Project, ProjectSource
from mlops_server.stac.items import build_item

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


# Separates the category ids in ``items.categories`` (and ends it on both sides).
CATEGORY_SEPARATOR = "\n"


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        # Covering the conditions of searches, so that the candidates of a spatial or text
        # index (by project id) or of a property filter (by path) are tested without reading
        # the wide rows.
        SqlIndex(
            "ix_items_filter",
            "project_id",
            "visibility",
            "categories",
            "start",
            "end",
            "minx",
            "maxx",
            "miny",
            "maxy",
            "rectangular",
            "path",
        ),
        SqlIndex("ix_items_path_filter", "path", "visibility", "categories", "project_id"),
    )

    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, unique=True, index=True)
    name: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(1024))
    text: Mapped[str] = mapped_column(Text)
    # No index: three values; SQLite would prefer it to the path order of pages.
    visibility: Mapped[str] = mapped_column(String(16))
    minx: Mapped[float | None] = mapped_column(Float, nullable=True)
    miny: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxx: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxy: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The footprint as WKB: parsed about 8x faster than GeoJSON text when checked exactly.
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)
    datetime: Mapped[datetime] = mapped_column(DateTime)
    stars: Mapped[int] = mapped_column(Integer, default=0)
    # The geometry equals its bounding box (a box, a point...): bbox overlap is exact.
    rectangular: Mapped[bool] = mapped_column(Boolean, default=False)
    # The item's category ids, each between separators: a search tests its collections on
    # the row (or a covering index) instead of probing ``item_categories`` per candidate.
    categories: Mapped[str] = mapped_column(String(1024), default=CATEGORY_SEPARATOR)
    # PostgreSQL only (NULL on SQLite, which has ``item_properties`` instead): the short
    # string properties, what CQL2 equality filters test (GIN ``jsonb_path_ops`` index).
    properties: Mapped[dict[str, str] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql"), nullable=True
    )


class ItemDocumentRow(Base):
    """The stored item JSON, apart so that scans of ``items`` stay narrow."""

    __tablename__ = "item_documents"

    path: Mapped[str] = mapped_column(
        ForeignKey("items.path", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[str] = mapped_column(Text)


class ItemPropertyRow(Base):
    """Short string properties of items, so that CQL2 equality filters run in SQL (SQLite;
    PostgreSQL keeps them in ``items.properties``)."""

    __tablename__ = "item_properties"
    # Covering: an equality filter reads the matching paths off the index alone.
    __table_args__ = (SqlIndex("ix_item_properties_name_value_path", "name", "value", "path"),)

    path: Mapped[str] = mapped_column(
        ForeignKey("items.path", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(PROPERTY_VALUE_MAX))


class ItemCategoryRow(Base):
    __tablename__ = "item_categories"

    path: Mapped[str] = mapped_column(
        ForeignKey("items.path", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class ItemTopicRow(Base):
    __tablename__ = "item_topics"

    path: Mapped[str] = mapped_column(
        ForeignKey("items.path", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class IndexStateRow(Base):
    """Facts about the index itself (``layout``: the version of its accelerators)."""

    __tablename__ = "index_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


# The index tables as SQLAlchemy Core tables: searches build and run Core statements, which
# skip the ORM's compilation and row loading (about 0.5 ms of Python per statement).
ITEMS = ItemRow.__table__
DOCUMENTS = ItemDocumentRow.__table__
PROPERTIES = ItemPropertyRow.__table__
CATEGORIES = ItemCategoryRow.__table__
TOPICS = ItemTopicRow.__table__
# PostgreSQL: the expression of the GiST index ix_items_box (``&&`` includes touching edges).
_ITEM_BOX = func.box(func.point(ITEMS.c.minx, ITEMS.c.miny), func.point(ITEMS.c.maxx, ITEMS.c.maxy))

# Bumped when the tables or accelerators change: an index of another layout is recreated.
LAYOUT = "7"

# SQLite accelerators (virtual tables, filled by triggers on ``items``; id = project id).
_ACCELERATORS = MetaData()
RTREE = Table(
    "items_rtree",
    _ACCELERATORS,
    Column("id", Integer),
    Column("minx", Float),
    Column("maxx", Float),
    Column("miny", Float),
    Column("maxy", Float),
)
TEXT = Table("items_text", _ACCELERATORS, Column("rowid", Integer), Column("text", Text))

_SQLITE_ACCELERATORS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS items_rtree USING rtree(id, minx, maxx, miny, maxy)",
    "CREATE TRIGGER IF NOT EXISTS items_rtree_insert AFTER INSERT ON items"
    " WHEN new.minx IS NOT NULL BEGIN INSERT INTO items_rtree"
    " VALUES (new.project_id, new.minx, new.maxx, new.miny, new.maxy); END",
    "CREATE TRIGGER IF NOT EXISTS items_rtree_delete AFTER DELETE ON items"
    " BEGIN DELETE FROM items_rtree WHERE id = old.project_id; END",
    "CREATE TRIGGER IF NOT EXISTS items_rtree_update AFTER UPDATE ON items BEGIN"
    " DELETE FROM items_rtree WHERE id = old.project_id;"
    " INSERT INTO items_rtree SELECT new.project_id, new.minx, new.maxx, new.miny, new.maxy"
    " WHERE new.minx IS NOT NULL; END",
    "CREATE VIRTUAL TABLE IF NOT EXISTS items_text USING fts5(text, tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS items_text_insert AFTER INSERT ON items"
    " BEGIN INSERT INTO items_text(rowid, text) VALUES (new.project_id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS items_text_delete AFTER DELETE ON items"
    " BEGIN DELETE FROM items_text WHERE rowid = old.project_id; END",
    "CREATE TRIGGER IF NOT EXISTS items_text_update AFTER UPDATE ON items BEGIN"
    " DELETE FROM items_text WHERE rowid = old.project_id;"
    " INSERT INTO items_text(rowid, text) VALUES (new.project_id, new.text); END",
)
_POSTGRES_ACCELERATORS = (
    # Covering (PostgreSQL 12+): a box search tests its other conditions in an index-only
    # scan instead of reading each candidate's wide row (visible rows: after VACUUM).
    "CREATE INDEX IF NOT EXISTS ix_items_box ON items"
    " USING gist (box(point(minx, miny), point(maxx, maxy)))"
    ' INCLUDE (project_id, visibility, categories, start, "end", minx, maxx, miny, maxy,'
    " rectangular, path)",
    "CREATE INDEX IF NOT EXISTS ix_items_text_trgm ON items USING gin (text gin_trgm_ops)",
    # CQL2 equality filters (``properties @> '{"name": "value"}'``); jsonb_path_ops: smaller
    # and faster than the default operator class, and containment is all it is used for.
    "CREATE INDEX IF NOT EXISTS ix_items_properties ON items USING gin (properties jsonb_path_ops)",
)
_ACCELERATOR_TABLES = ("items_rtree", "items_text")

# Connections kept open per engine (as many again may open under load, then close).
POOL_SIZE = 16

# numberMatched is exact up to this many matches and omitted above.
COUNT_LIMIT = 10_000

# Sort keys accepted by searches, mapped to columns.
SORT_COLUMNS: dict[str, Any] = {
    "id": ITEMS.c.path,
    "title": ITEMS.c.title,
    "created": ITEMS.c.created,
    "updated": ITEMS.c.updated,
    "datetime": ITEMS.c.datetime,
    "start_datetime": ITEMS.c.start,
    "end_datetime": ITEMS.c.end,
    "stars": ITEMS.c.stars,
}


def _sqlite_wal(connection: Any, record: Any) -> None:
    del record
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Read through the OS page cache, shared by connections and processes, rather than
    # copying pages into each connection's small cache (2 MB by default): the search
    # indexes of 100,000 items are tens of MB. Address space only; 0 where unsupported.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


def _layout_differs(engine: Engine) -> bool:
    """Whether tables of the index exist with another layout than this version's."""
    inspector = inspect(engine)
    existing = [t for t in Base.metadata.sorted_tables if inspector.has_table(t.name)]
    if not existing:
        return False
    for table in existing:
        found = {column["name"] for column in inspector.get_columns(table.name)}
        if found != set(table.columns.keys()):
            return True
    if len(existing) < len(Base.metadata.sorted_tables):
        return True
    with engine.connect() as connection:
        layout = connection.scalar(select(IndexStateRow.value).where(IndexStateRow.key == "layout"))
    return layout != LAYOUT


def _create_accelerators(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            for statement in _SQLITE_ACCELERATORS:
                connection.execute(text(statement))
    elif engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(_POSTGRES_ACCELERATORS[0]))
            connection.execute(text(_POSTGRES_ACCELERATORS[2]))
        try:  # pg_trgm is a trusted extension (PostgreSQL 13+), but may not be installed
            with engine.begin() as connection:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                connection.execute(text(_POSTGRES_ACCELERATORS[1]))
        except DBAPIError as error:  # searches stay exact, only slower
            log.warning("no pg_trgm index for free-text search: %s", error)


def _ensure_schema(engine: Engine) -> None:
    """Create the index tables; recreate them when they were made by another version (the
    index is derived data: the start-up rebuild fills it again)."""
    if _layout_differs(engine):
        log.info("the index has another layout: recreating it")
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                for name in _ACCELERATOR_TABLES:  # their triggers go with ``items``
                    connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    _create_accelerators(engine)
    with engine.begin() as connection:  # left by older layouts
        connection.execute(text("DROP INDEX IF EXISTS ix_items_visibility"))
        connection.execute(text("DROP INDEX IF EXISTS ix_item_properties_name_value"))
        connection.execute(delete(IndexStateRow).where(IndexStateRow.key == "layout"))
        connection.execute(insert(IndexStateRow).values(key="layout", value=LAYOUT))


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class _Rows(NamedTuple):
    """Rows of one project in each index table."""

    item: dict[str, Any]
    document: dict[str, Any]
    categories: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    properties: list[dict[str, Any]]


_BATCH = 500  # projects per multi-row INSERT during a rebuild
# Box searches exclude misses by path in SQL up to this many; beyond, all go through shapely.
_MAX_EXCLUDED = 2000


def _rows(project: Project, settings: Settings) -> _Rows:
    built = build_item(project, settings)
    for warning in built.warnings:
        log.warning("project %s: %s", project.path, warning)
    minx, miny, maxx, maxy = built.bbox or (None, None, None, None)
    geometry = built.item.get("geometry")
    shape = shapely.geometry.shape(geometry) if geometry else None
    path = project.path
    item = {
        "path": path,
        "project_id": project.id,
        "name": project.name,
        "title": built.title,
        "text": built.text,
        "visibility": project.visibility,
        "minx": minx,
        "miny": miny,
        "maxx": maxx,
        "maxy": maxy,
        "geometry": shapely.to_wkb(shape) if shape is not None else None,
        "start": _naive_utc(built.start),
        "end": _naive_utc(built.end),
        "created": _naive_utc(built.created),
        "updated": _naive_utc(built.updated),
        "datetime": _naive_utc(built.datetime),
        "stars": project.star_count,
        "rectangular": bool(shape is not None and shape.equals(shape.envelope)),
    }
    category_ids = [c.id for c in settings.categories_for_topics(list(project.topics))]
    item["categories"] = CATEGORY_SEPARATOR.join(["", *category_ids, ""])
    categories = [{"path": path, "category": category} for category in category_ids]
    topics = [{"path": path, "topic": topic} for topic in dict.fromkeys(project.topics)]
    properties = [
        {"path": path, "name": name, "value": value}
        for name, value in built.item["properties"].items()
        if isinstance(value, str)
        and len(value) <= PROPERTY_VALUE_MAX
        and name not in UNINDEXED_PROPERTIES
    ]
    document = {"path": path, "item": json.dumps(built.item)}
    return _Rows(item, document, categories, topics, properties)


def _insert(session: Session, batch: Sequence[_Rows]) -> None:
    """Insert projects' rows with one multi-row statement per table (items first)."""
    if not batch:
        return
    tables: list[tuple[type[Base], str]] = [
        (ItemCategoryRow, "categories"),
        (ItemTopicRow, "topics"),
    ]
    if session.get_bind().dialect.name == "postgresql":
        items = [
            {**rows.item, "properties": {row["name"]: row["value"] for row in rows.properties}}
            for rows in batch
        ]
    else:
        items = [rows.item for rows in batch]
        tables.append((ItemPropertyRow, "properties"))
    session.execute(insert(ItemRow), items)
    session.execute(insert(ItemDocumentRow), [rows.document for rows in batch])
    for table, field_name in tables:
        values = [row for rows in batch for row in getattr(rows, field_name)]
        if values:
            session.execute(insert(table), values)


def _clause_sql(clause: Clause, dialect: str) -> ColumnElement[bool]:
    """The SQL of a filter clause (see ``mlops_server.filters.Clause``) for ``dialect``."""
    if clause.kind == "and":
        return and_(*(_clause_sql(c, dialect) for c in clause.args))
    if clause.kind == "or":
        return or_(*(_clause_sql(c, dialect) for c in clause.args))
    if clause.kind == "not":
        return not_(_clause_sql(clause.args[0], dialect))
    if clause.kind == "id":
        return ITEMS.c.path == str(clause.args[0])
    if clause.kind == "collection":
        return ITEMS.c.path.in_(
            select(CATEGORIES.c.path).where(CATEGORIES.c.category == clause.args[0])
        )
    name, value = clause.args
    if dialect == "postgresql":  # never NULL there: {} for an item without such properties
        return type_coerce(ITEMS.c.properties, JSONB).contains({name: value})
    return ITEMS.c.path.in_(
        select(PROPERTIES.c.path).where(PROPERTIES.c.name == name, PROPERTIES.c.value == value)
    )


def _rtree_ids(bounds: tuple[float, float, float, float], *also: Any) -> Any:
    """Project ids whose R*Tree box meets ``bounds`` (and the conditions ``also``)."""
    qminx, qminy, qmaxx, qmaxy = bounds
    return select(RTREE.c.id.label("id")).where(
        RTREE.c.minx <= qmaxx,
        RTREE.c.maxx >= qminx,
        RTREE.c.miny <= qmaxy,
        RTREE.c.maxy >= qminy,
        *also,
    )


class _Candidates(NamedTuple):
    """Project ids from one of SQLite's indexes (R*Tree, FTS5) and the search condition that
    tests an item against them. A search can start from the ids (a join) instead: testing each
    item against the ids first builds a temporary index of them (about 0.7 us per id)."""

    ids: Any  # a SELECT of one column, ``id``
    condition: ColumnElement[bool]


def _candidates(ids: Any, starts: list[_Candidates] | None) -> ColumnElement[bool]:
    """The condition ``project_id IN ids``, also noted in ``starts`` when given."""
    found = _Candidates(ids, ITEMS.c.project_id.in_(ids))
    if starts is not None:
        starts.append(found)
    return found.condition


@dataclass
class IndexQuery:
    """A search over the index, already validated."""

    visibilities: Sequence[str]
    categories: Sequence[str]
    # Projects visible whatever their visibility (the caller's memberships).
    project_ids: Sequence[int] = ()
    ids: Sequence[str] | None = None
    # Only these projects, whatever else matches (``:starred``); None: no such limit.
    among_project_ids: Sequence[int] | None = None
    topics: Sequence[str] = ()
    words: Sequence[str] = ()
    bbox: tuple[float, float, float, float] | None = None
    geometry: BaseGeometry | None = None
    start: datetime | None = None
    end: datetime | None = None
    sortby: Sequence[tuple[str, bool]] = ()  # (field, ascending)
    offset: int = 0
    limit: int = 12
    # A CQL2 filter: (stored item, its categories) -> keep?
    predicate: Callable[[dict[str, Any], Sequence[str]], bool] | None = None


@dataclass
class IndexedItem:
    path: str
    project_id: int
    name: str
    visibility: str
    item: dict[str, Any]
    categories: list[str] = field(default_factory=list)


@dataclass
class IndexPage:
    items: list[IndexedItem]
    # Exact number of matches; None when there are more than ``COUNT_LIMIT``.
    matched: int | None
    # Whether items follow this page.
    more: bool = False


class Index:
    """Item index over an SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        #: One writer at a time (syncs, webhooks, a watched local store): an upsert that
        #: deleted nothing must not then insert a row a concurrent rebuild just committed.
        self._writing = threading.RLock()
        # Keep as many connections open as requests run at once: past the pool's size, each
        # returned connection was closed and the next request opened (and, on SQLite, set
        # up) a new one; 8 concurrent searches spent about 5% of their time on that.
        kwargs: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE}
        if url.startswith("sqlite") and (url.endswith(":memory:") or url == "sqlite://"):
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite") and "poolclass" not in kwargs:
            # Readers keep reading the last committed index while a sync or webhook writes.
            event.listen(self.engine, "connect", _sqlite_wal)
        _ensure_schema(self.engine)

    # -- writing ---------------------------------------------------------------------------

    def rebuild(self, source: ProjectSource, settings: Settings) -> int:
        """Replace the whole index with the projects of the source; return their count."""
        with self._writing:
            return self._rebuild(source, settings)

    def _rebuild(self, source: ProjectSource, settings: Settings) -> int:
        count = 0
        with Session(self.engine) as session, session.begin():
            for table in (ItemPropertyRow, ItemTopicRow, ItemCategoryRow, ItemDocumentRow):
                session.execute(delete(table))
            session.execute(delete(ItemRow))
            seen_ids: dict[int, str] = {}
            batch: list[_Rows] = []
            for project in source.iter_projects():
                if project.id in seen_ids:
                    log.warning(
                        "skipping project %s: id %d already used by %s",
                        project.path,
                        project.id,
                        seen_ids[project.id],
                    )
                    continue
                seen_ids[project.id] = project.path
                batch.append(_rows(project, settings))
                count += 1
                if len(batch) >= _BATCH:
                    _insert(session, batch)
                    batch = []
            _insert(session, batch)
        self.analyze()
        return count

    def analyze(self) -> None:
        """Refresh the statistics the database's query planner uses (after bulk writes);
        on PostgreSQL also VACUUM the index tables, which marks their pages all-visible so
        that covering indexes answer without reading rows (and drops a rebuild's dead rows)."""
        if self.engine.dialect.name == "postgresql":
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            autocommit = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with autocommit as connection:  # VACUUM cannot run inside a transaction
                connection.execute(text(f"VACUUM (ANALYZE) {tables}"))
            return
        with self.engine.begin() as connection:
            connection.execute(text("ANALYZE"))

    def upsert(self, project: Project, settings: Settings) -> None:
        """Index one project, replacing any entry with its path or id (renames, moves)."""
        with self._writing, Session(self.engine) as session, session.begin():
            self._delete(session, path=project.path, project_id=project.id)
            _insert(session, [_rows(project, settings)])

    def remove(self, path: str | None = None, project_id: int | None = None) -> bool:
        """Drop a project from the index; return whether something was removed."""
        with self._writing, Session(self.engine) as session, session.begin():
            return self._delete(session, path=path, project_id=project_id)

    def _delete(self, session: Session, path: str | None, project_id: int | None) -> bool:
        paths = set(
            session.scalars(
                select(ITEMS.c.path).where(
                    or_(ITEMS.c.path == path, ITEMS.c.project_id == project_id)
                )
            )
        )
        if not paths:
            return False
        for table in (ItemPropertyRow, ItemTopicRow, ItemCategoryRow, ItemDocumentRow, ItemRow):
            session.execute(delete(table).where(table.path.in_(paths)))
        return True

    # -- reading ---------------------------------------------------------------------------

    # The columns an IndexedItem is made of, the stored item JSON last.
    _ITEM_COLUMNS = (
        ITEMS.c.path,
        ITEMS.c.project_id,
        ITEMS.c.name,
        ITEMS.c.visibility,
        ITEMS.c.categories,
        DOCUMENTS.c.item,
    )

    @staticmethod
    def _indexed(row: Sequence[Any]) -> IndexedItem:
        """An IndexedItem from a row of ``_ITEM_COLUMNS``."""
        path, project_id, name, visibility, categories, item = row
        return IndexedItem(
            path=path,
            project_id=project_id,
            name=name,
            visibility=visibility,
            item=orjson.loads(item),
            categories=[c for c in categories.split(CATEGORY_SEPARATOR) if c],
        )

    def _load(self, session: Connection, condition: ColumnElement[bool]) -> dict[str, IndexedItem]:
        """The items matching ``condition``, by path, with their categories (in the
        configuration's order, as the item row keeps them)."""
        rows = session.execute(
            select(*self._ITEM_COLUMNS)
            .join(DOCUMENTS, DOCUMENTS.c.path == ITEMS.c.path)
            .where(condition)
        ).all()
        return {row[0]: self._indexed(row) for row in rows}

    def _page(self, session: Connection, paths: Sequence[str]) -> list[IndexedItem]:
        by_path = self._load(session, ITEMS.c.path.in_(paths)) if paths else {}
        # A project removed since its page was chosen (SQLite reads outside a transaction:
        # each statement sees the last committed index) is left out rather than failing it.
        return [by_path[path] for path in paths if path in by_path]

    def get(self, path: str | None = None, project_id: int | None = None) -> IndexedItem | None:
        """One indexed project by full path or numeric id, whatever its visibility."""
        with self.engine.connect() as session:
            if project_id is not None:
                found = self._load(session, ITEMS.c.project_id == project_id)
            else:
                found = self._load(session, ITEMS.c.path == path)
            return next(iter(found.values()), None)

    @staticmethod
    def _temporal_condition(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
        """Items whose declared temporal extent meets ``start``/``end``.

        An instant query also matches an item whose ``datetime`` property (GitLab's last
        activity, as upstream maps it) is exactly that instant, so that searching for a
        ``datetime`` read off an item finds it (STAC API). Intervals use the extent only:
        otherwise an open interval would return every recently edited project.
        """
        in_extent = and_(
            true() if start is None else ITEMS.c.end >= _naive_utc(start),
            true() if end is None else ITEMS.c.start <= _naive_utc(end),
        )
        if start is not None and start == end:
            return or_(in_extent, ITEMS.c.datetime == _naive_utc(start))
        return in_extent

    def search(self, query: IndexQuery) -> IndexPage:
        visible: ColumnElement[bool] = ITEMS.c.visibility.in_(query.visibilities)
        if query.project_ids:
            visible = or_(visible, ITEMS.c.project_id.in_(query.project_ids))
        conditions: list[ColumnElement[bool]] = [visible]
        conditions.append(
            or_(false(), *(self._in_category(category) for category in query.categories))
        )
        if query.ids is not None:
            conditions.append(ITEMS.c.path.in_(query.ids))
        if query.among_project_ids is not None:
            conditions.append(ITEMS.c.project_id.in_(query.among_project_ids))
        for topic in query.topics:
            conditions.append(
                exists().where(TOPICS.c.path == ITEMS.c.path, TOPICS.c.topic == topic)
            )
        starts: list[_Candidates] = []  # (SQLite) where the search can start from
        for word in query.words:
            conditions.extend(self._text_conditions(word.lower(), starts))
        area = query.geometry
        if area is None and query.bbox is not None:
            area = shapely.geometry.box(*query.bbox)
        box_query = area is not None and area.equals(area.envelope)
        if area is not None:
            conditions.extend(self._box_conditions(area.bounds))
        if query.start is not None or query.end is not None:
            conditions.append(self._temporal_condition(query.start, query.end))
        predicate = query.predicate
        if isinstance(predicate, CqlFilter):
            # The filter's SQL part runs in the index; Python checks only what is left.
            if predicate.prefilter is not None:
                conditions.append(_clause_sql(predicate.prefilter, self.engine.dialect.name))
            if predicate.exact:
                predicate = None

        with self.engine.connect() as session:
            exact_area = area
            if area is not None and box_query:
                # A box query is exact in SQL for items whose geometry is its bbox or lies
                # inside the box; shapely decides on the few others (polygons on the edge).
                exact_area = self._drop_misses(session, area, conditions)
            if area is not None:
                prefilter = self._box_prefilter(area.bounds, starts=starts)
                if prefilter is not None:
                    conditions.append(prefilter)
            if exact_area is None and predicate is None:
                return self._sql_page(session, query, conditions, starts[0] if starts else None)
            # SQL prefilters; shapely decides on exact geometries, the predicate on filters.
            kept = self._filter(session, predicate, exact_area, conditions, self._order(query))
            page_paths = kept[query.offset : query.offset + query.limit]
            more = len(kept) > query.offset + query.limit
            return IndexPage(self._page(session, page_paths), len(kept), more)

    def _sql_page(
        self,
        session: Connection,
        query: IndexQuery,
        conditions: list[ColumnElement[bool]],
        start: _Candidates | None = None,
    ) -> IndexPage:
        """A page of a search that SQL answers exactly, with its count up to COUNT_LIMIT.

        One pass reads the matches (at most COUNT_LIMIT + 1 of them, in no order) into a
        materialised set, counts it, and sorts only the page out of it (a top-N sort). When
        the cap is reached, that set is not all matches: the sort is skipped (its condition
        is decided once, before any row is sorted) and the page comes from the ordered query
        itself, which a large match set answers quickly (its first rows in index order match).

        A window count over the set cost more: it sorted every match (about 40% more for
        10,000 matches on SQLite). Sorting a capped set only to drop it cost PostgreSQL about
        5 ms per 10,000 matches. Joining the page's stored items into the same statement
        made SQLite materialise the page instead of streaming it (5 ms more).

        ``start``: candidates the match set is read from (joined to the items), rather than
        tested as a condition. Only that set is: a large one in index order (the page when the
        cap is reached) reads the items in order and tests each against the candidates.
        """
        sort_columns = [SORT_COLUMNS[name] for name, _ in query.sortby]
        source: Any = ITEMS
        where = conditions
        if start is not None:
            found = start.ids.subquery("candidates")
            source = found.join(ITEMS, ITEMS.c.project_id == found.c.id)
            where = [condition for condition in conditions if condition is not start.condition]
        matches = (
            select(ITEMS.c.path, *(c.label(f"sort{n}") for n, c in enumerate(sort_columns)))
            .select_from(source)
            .where(*where)
            .limit(COUNT_LIMIT + 1)
            .cte("matches")
            .prefix_with("MATERIALIZED")  # read once, scanned twice (count, page)
        )
        # Counted once, read by the page's condition and by the result.
        total = select(func.count().label("n")).select_from(matches).cte("total")
        count = select(total.c.n).scalar_subquery()
        postgres = self.engine.dialect.name == "postgresql"
        page = (
            select(matches)
            .where(count <= COUNT_LIMIT)
            .order_by(*self._order_of(matches, query))
            .offset(query.offset)
            .limit(query.limit)
        )
        if postgres:
            # The page's stored items in the same statement (PostgreSQL: one round trip
            # and no plan for an IN list of the page's paths, about 1.5 ms of database time
            # per search), and the count on a single row when the page is empty.
            paged = page.subquery("page")
            rows = session.execute(
                select(total.c.n, *self._ITEM_COLUMNS)
                .select_from(total)
                .outerjoin(paged, true())
                .outerjoin(ITEMS, ITEMS.c.path == paged.c.path)
                .outerjoin(DOCUMENTS, DOCUMENTS.c.path == paged.c.path)
                .order_by(*self._order_of(paged, query))
            ).all()
            matched = int(rows[0][0])
            if matched <= COUNT_LIMIT:
                # A project removed since the match set was read has no row: left out.
                items = [self._indexed(row[1:]) for row in rows if row[1] is not None]
                return IndexPage(items, matched, matched > query.offset + query.limit)
        else:
            rows = session.execute(page.add_columns(count)).all()
            if rows:
                matched = int(rows[0][-1])
                paths = [row[0] for row in rows]
                more = matched > query.offset + query.limit
                return IndexPage(self._page(session, paths), matched, more)
        # No page: no match, an offset past the end, or more matches than counted.
        ordered = select(ITEMS.c.path).where(*conditions).order_by(*self._order(query))
        paths = list(session.scalars(ordered.offset(query.offset).limit(query.limit + 1)))
        more = len(paths) > query.limit
        paths = paths[: query.limit]
        # Rows at this offset mean the set was capped; none, that the offset is past its end.
        counted = None if paths else self._count(session, conditions)
        return IndexPage(self._page(session, paths), counted, more)

    @staticmethod
    def _order_of(rows: Any, query: IndexQuery) -> list[Any]:
        """The order of ``query`` over a selection with its sort keys as ``sort0``... and
        ``path`` (the tie-breaker)."""
        order = [
            rows.c[f"sort{n}"].asc() if ascending else rows.c[f"sort{n}"].desc()
            for n, (_, ascending) in enumerate(query.sortby)
        ]
        return [*order, rows.c.path.asc()]

    @staticmethod
    def _order(query: IndexQuery) -> list[Any]:
        order = []
        for name, ascending in query.sortby:
            column = SORT_COLUMNS[name]
            order.append(column.asc() if ascending else column.desc())
        order.append(ITEMS.c.path.asc())
        return order

    @staticmethod
    def _count(session: Connection, conditions: list[ColumnElement[bool]]) -> int | None:
        """The number of matches, or None past ``COUNT_LIMIT`` (it reads no more rows)."""
        capped = select(ITEMS.c.path).where(*conditions).limit(COUNT_LIMIT + 1).subquery()
        count = int(session.scalar(select(func.count()).select_from(capped)) or 0)
        return None if count > COUNT_LIMIT else count

    @staticmethod
    def _box_conditions(bounds: tuple[float, float, float, float]) -> list[Any]:
        """Items whose bbox meets ``bounds`` (edges included): the exact test on the row."""
        qminx, qminy, qmaxx, qmaxy = bounds
        return [
            ITEMS.c.minx.is_not(None),
            ITEMS.c.minx <= qmaxx,
            ITEMS.c.maxx >= qminx,
            ITEMS.c.miny <= qmaxy,
            ITEMS.c.maxy >= qminy,
        ]

    def _box_prefilter(
        self,
        bounds: tuple[float, float, float, float],
        *,
        edge_only: bool = False,
        starts: list[_Candidates] | None = None,
    ) -> Any:
        """The spatial index's candidates for a box (a superset of ``_box_conditions``), or
        None. ``edge_only`` keeps the boxes that cross the box's edge: a box that meets the
        query box without lying inside it meets one of its four sides."""
        qminx, qminy, qmaxx, qmaxy = bounds
        # The four sides as degenerate boxes: searching the index for each reads only the
        # boxes on the edge, where a filter on all boxes that meet the query box reads
        # every box inside it too (most of them, for a large box).
        sides = (
            (qminx, qminy, qminx, qmaxy),
            (qmaxx, qminy, qmaxx, qmaxy),
            (qminx, qminy, qmaxx, qminy),
            (qminx, qmaxy, qmaxx, qmaxy),
        )
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            # R*Tree boxes are rounded outwards to 32-bit floats: a superset of the matches.
            if not edge_only:
                return _candidates(_rtree_ids(bounds), starts)
            return ITEMS.c.project_id.in_(union_all(*(_rtree_ids(side) for side in sides)))
        if dialect == "postgresql":

            def overlaps(x1: float, y1: float, x2: float, y2: float) -> Any:
                return _ITEM_BOX.op("&&")(func.box(func.point(x1, y1), func.point(x2, y2)))

            if not edge_only:
                return overlaps(qminx, qminy, qmaxx, qmaxy)
            return or_(*(overlaps(*side) for side in sides))
        return None

    def _in_category(self, category: str) -> ColumnElement[bool]:
        """Items of ``category``: its id between separators in ``items.categories``, found
        with a plain substring search (LIKE folds case, and costs 30% more per row)."""
        token = f"{CATEGORY_SEPARATOR}{category}{CATEGORY_SEPARATOR}"
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return func.instr(ITEMS.c.categories, token) > 0
        if dialect == "postgresql":
            return func.strpos(ITEMS.c.categories, token) > 0
        return ITEMS.c.categories.contains(token, autoescape=True)

    def _text_conditions(self, word: str, starts: list[_Candidates] | None = None) -> list[Any]:
        """Items whose text contains ``word`` (lower case), through the trigram index."""
        if self.engine.dialect.name == "sqlite" and len(word) >= 3:
            # With the trigram tokenizer a phrase is a run of consecutive trigrams: the
            # word as a substring, answered from the index's positions alone. The text is
            # lower case, as is the word, so case folding changes nothing.
            phrase = '"' + word.replace('"', '""') + '"'
            ids = select(TEXT.c.rowid.label("id")).where(TEXT.c.text.match(phrase))
            return [_candidates(ids, starts)]
        escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
        if escaped == word:  # a constant pattern, which PostgreSQL's pg_trgm index serves
            return [ITEMS.c.text.like(f"%{word}%")]
        return [ITEMS.c.text.like(f"%{escaped}%", escape="/")]

    def _drop_misses(
        self, session: Connection, area: BaseGeometry, conditions: list[ColumnElement[bool]]
    ) -> BaseGeometry | None:
        """Exclude (in ``conditions``) the bbox candidates whose geometry misses the box
        ``area``; return None, or ``area`` when too many must be checked one by one."""
        qminx, qminy, qmaxx, qmaxy = area.bounds
        crossing: list[Any] = [
            ITEMS.c.rectangular.is_(False),
            or_(
                ITEMS.c.minx < qminx,
                ITEMS.c.maxx > qmaxx,
                ITEMS.c.miny < qminy,
                ITEMS.c.maxy > qmaxy,
            ),
        ]
        # Only the indexed boxes that cross the box's edge: few of its candidates.
        prefilter = self._box_prefilter(area.bounds, edge_only=True)
        if prefilter is not None:
            crossing.append(prefilter)
        unsure = select(ITEMS.c.path, ITEMS.c.geometry).where(*crossing, *conditions)
        rows = session.execute(unsure).all()
        misses = [path for path, geometry in rows if not geometry]
        shaped = [(path, geometry) for path, geometry in rows if geometry]
        if shaped:  # parsed and tested in GEOS, all at once
            hits = shapely.intersects(area, shapely.from_wkb([g for _, g in shaped]))
            misses += [path for (path, _), hit in zip(shaped, hits, strict=True) if not hit]
        if len(misses) > _MAX_EXCLUDED:
            return area
        if misses:
            conditions.append(ITEMS.c.path.not_in(misses))
        return None

    def _filter(
        self,
        session: Connection,
        predicate: Callable[[dict[str, Any], Sequence[str]], bool] | None,
        area: BaseGeometry | None,
        conditions: list[ColumnElement[bool]],
        order: list[Any],
    ) -> list[str]:
        columns: list[Any] = [ITEMS.c.path, ITEMS.c.geometry]
        query = select(*columns)
        if predicate is not None:
            query = select(*columns, ITEMS.c.categories, DOCUMENTS.c.item).join(
                DOCUMENTS, DOCUMENTS.c.path == ITEMS.c.path
            )
        candidates = session.execute(query.where(*conditions).order_by(*order)).all()
        if area is not None:  # all candidates parsed and tested in GEOS at once
            shapely.prepare(area)
            hits = shapely.intersects(area, shapely.from_wkb([row[1] for row in candidates]))
            candidates = [row for row, hit in zip(candidates, hits, strict=True) if hit]
        if predicate is None:
            return [row[0] for row in candidates]
        return [
            row[0]
            for row in candidates
            if predicate(orjson.loads(row[3]), [c for c in row[2].split(CATEGORY_SEPARATOR) if c])
        ]

    def dispose(self) -> None:
        self.engine.dispose()
