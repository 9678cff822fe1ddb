"""The derived index of items: what every search reads, rebuilt from a project source.

SQLAlchemy keeps one code path for SQLite (embedded) and PostgreSQL (platform). Searches
prefilter on the bbox columns in SQL and test exact geometries with shapely.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

from mlops_server.settings import Settings
from mlops_server.sources.base import Project, ProjectSource
from mlops_server.stac.items import build_item

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class ItemRow(Base):
    __tablename__ = "items"

    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, unique=True, index=True)
    name: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(1024))
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16), index=True)
    minx: Mapped[float | None] = mapped_column(Float, nullable=True)
    miny: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxx: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxy: Mapped[float | None] = mapped_column(Float, nullable=True)
    geometry: Mapped[str | None] = mapped_column(Text, nullable=True)
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)
    datetime: Mapped[datetime] = mapped_column(DateTime)
    stars: Mapped[int] = mapped_column(Integer, default=0)
    item: Mapped[str] = mapped_column(Text)


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


# Sort keys accepted by searches, mapped to columns.
SORT_COLUMNS: dict[str, Any] = {
    "id": ItemRow.path,
    "title": ItemRow.title,
    "created": ItemRow.created,
    "updated": ItemRow.updated,
    "datetime": ItemRow.datetime,
    "start_datetime": ItemRow.start,
    "end_datetime": ItemRow.end,
    "stars": ItemRow.stars,
}


def _sqlite_wal(connection: Any, record: Any) -> None:
    del record
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class IndexQuery:
    """A search over the index, already validated."""

    visibilities: Sequence[str]
    categories: Sequence[str]
    # Projects visible whatever their visibility (the caller's memberships).
    project_ids: Sequence[int] = ()
    ids: Sequence[str] | None = None
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
    matched: int


class Index:
    """Item index over an SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite") and (url.endswith(":memory:") or url == "sqlite://"):
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite") and not kwargs:
            # Readers keep reading the last committed index while a sync or webhook writes.
            event.listen(self.engine, "connect", _sqlite_wal)
        Base.metadata.create_all(self.engine)

    # -- writing ---------------------------------------------------------------------------

    def rebuild(self, source: ProjectSource, settings: Settings) -> int:
        """Replace the whole index with the projects of the source; return their count."""
        count = 0
        with Session(self.engine) as session, session.begin():
            session.execute(delete(ItemTopicRow))
            session.execute(delete(ItemCategoryRow))
            session.execute(delete(ItemRow))
            seen_ids: dict[int, str] = {}
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
                self._add(session, project, settings)
                count += 1
        return count

    def upsert(self, project: Project, settings: Settings) -> None:
        """Index one project, replacing any entry with its path or id (renames, moves)."""
        with Session(self.engine) as session, session.begin():
            self._delete(session, path=project.path, project_id=project.id)
            self._add(session, project, settings)

    def remove(self, path: str | None = None, project_id: int | None = None) -> bool:
        """Drop a project from the index; return whether something was removed."""
        with Session(self.engine) as session, session.begin():
            return self._delete(session, path=path, project_id=project_id)

    def _delete(self, session: Session, path: str | None, project_id: int | None) -> bool:
        paths = set(
            session.scalars(
                select(ItemRow.path).where(
                    or_(ItemRow.path == path, ItemRow.project_id == project_id)
                )
            )
        )
        if not paths:
            return False
        session.execute(delete(ItemTopicRow).where(ItemTopicRow.path.in_(paths)))
        session.execute(delete(ItemCategoryRow).where(ItemCategoryRow.path.in_(paths)))
        session.execute(delete(ItemRow).where(ItemRow.path.in_(paths)))
        return True

    def _add(self, session: Session, project: Project, settings: Settings) -> None:
        built = build_item(project, settings)
        for warning in built.warnings:
            log.warning("project %s: %s", project.path, warning)
        minx, miny, maxx, maxy = built.bbox or (None, None, None, None)
        geometry = built.item.get("geometry")
        session.add(
            ItemRow(
                path=project.path,
                project_id=project.id,
                name=project.name,
                title=built.title,
                text=built.text,
                visibility=project.visibility,
                minx=minx,
                miny=miny,
                maxx=maxx,
                maxy=maxy,
                geometry=json.dumps(geometry) if geometry else None,
                start=_naive_utc(built.start),
                end=_naive_utc(built.end),
                created=_naive_utc(built.created),
                updated=_naive_utc(built.updated),
                datetime=_naive_utc(built.datetime),
                stars=project.star_count,
                item=json.dumps(built.item),
            )
        )
        session.flush()
        for category in settings.categories_for_topics(list(project.topics)):
            session.add(ItemCategoryRow(path=project.path, category=category.id))
        for topic in dict.fromkeys(project.topics):
            session.add(ItemTopicRow(path=project.path, topic=topic))

    # -- reading ---------------------------------------------------------------------------

    def _categories(self, session: Session, paths: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {p: [] for p in paths}
        if paths:
            rows = session.execute(
                select(ItemCategoryRow.path, ItemCategoryRow.category).where(
                    ItemCategoryRow.path.in_(paths)
                )
            )
            for path, category in rows:
                found[path].append(category)
        return found

    def _to_items(self, session: Session, rows: Sequence[ItemRow]) -> list[IndexedItem]:
        categories = self._categories(session, [r.path for r in rows])
        return [
            IndexedItem(
                path=r.path,
                project_id=r.project_id,
                name=r.name,
                visibility=r.visibility,
                item=json.loads(r.item),
                categories=categories[r.path],
            )
            for r in rows
        ]

    def get(self, path: str | None = None, project_id: int | None = None) -> IndexedItem | None:
        """One indexed project by full path or numeric id, whatever its visibility."""
        with Session(self.engine) as session:
            stmt = select(ItemRow)
            if project_id is not None:
                stmt = stmt.where(ItemRow.project_id == project_id)
            else:
                stmt = stmt.where(ItemRow.path == path)
            row = session.scalars(stmt).first()
            return self._to_items(session, [row])[0] if row is not None else None

    @staticmethod
    def _temporal_condition(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
        """Items whose declared temporal extent meets ``start``/``end``.

        An instant query also matches an item whose ``datetime`` property (GitLab's last
        activity, as upstream maps it) is exactly that instant, so that searching for a
        ``datetime`` read off an item finds it (STAC API). Intervals use the extent only:
        otherwise an open interval would return every recently edited project.
        """
        in_extent = and_(
            true() if start is None else ItemRow.end >= _naive_utc(start),
            true() if end is None else ItemRow.start <= _naive_utc(end),
        )
        if start is not None and start == end:
            return or_(in_extent, ItemRow.datetime == _naive_utc(start))
        return in_extent

    def search(self, query: IndexQuery) -> IndexPage:
        visible: ColumnElement[bool] = ItemRow.visibility.in_(query.visibilities)
        if query.project_ids:
            visible = or_(visible, ItemRow.project_id.in_(query.project_ids))
        conditions: list[ColumnElement[bool]] = [visible]
        conditions.append(
            exists().where(
                ItemCategoryRow.path == ItemRow.path,
                ItemCategoryRow.category.in_(query.categories),
            )
        )
        if query.ids is not None:
            conditions.append(ItemRow.path.in_(query.ids))
        for topic in query.topics:
            conditions.append(
                exists().where(ItemTopicRow.path == ItemRow.path, ItemTopicRow.topic == topic)
            )
        for word in query.words:
            conditions.append(ItemRow.text.contains(word.lower(), autoescape=True))
        area = query.geometry
        if area is None and query.bbox is not None:
            area = shapely.geometry.box(*query.bbox)
        if area is not None:
            qminx, qminy, qmaxx, qmaxy = area.bounds
            conditions.extend(
                [
                    ItemRow.minx.is_not(None),
                    ItemRow.minx <= qmaxx,
                    ItemRow.maxx >= qminx,
                    ItemRow.miny <= qmaxy,
                    ItemRow.maxy >= qminy,
                ]
            )
        if query.start is not None or query.end is not None:
            conditions.append(self._temporal_condition(query.start, query.end))

        order = []
        for name, ascending in query.sortby:
            column = SORT_COLUMNS[name]
            order.append(column.asc() if ascending else column.desc())
        order.append(ItemRow.path.asc())

        with Session(self.engine) as session:
            if area is None and query.predicate is None:
                matched = session.scalar(
                    select(func.count()).select_from(ItemRow).where(*conditions)
                )
                rows = session.scalars(
                    select(ItemRow)
                    .where(*conditions)
                    .order_by(*order)
                    .offset(query.offset)
                    .limit(query.limit)
                ).all()
                return IndexPage(self._to_items(session, rows), int(matched or 0))
            # SQL prefilters; shapely decides on exact geometries, the predicate on filters.
            kept = self._filter(session, query, area, conditions, order)
            page_paths = kept[query.offset : query.offset + query.limit]
            by_path = {
                r.path: r
                for r in session.scalars(select(ItemRow).where(ItemRow.path.in_(page_paths)))
            }
            rows = [by_path[p] for p in page_paths]
            return IndexPage(self._to_items(session, rows), len(kept))

    def _filter(
        self,
        session: Session,
        query: IndexQuery,
        area: BaseGeometry | None,
        conditions: list[ColumnElement[bool]],
        order: list[Any],
    ) -> list[str]:
        predicate = query.predicate
        columns: list[Any] = [ItemRow.path, ItemRow.geometry]
        if predicate is not None:
            columns.append(ItemRow.item)
        candidates = session.execute(select(*columns).where(*conditions).order_by(*order)).all()
        categories: dict[str, list[str]] = {}
        if predicate is not None:
            rows = session.execute(
                select(ItemCategoryRow.path, ItemCategoryRow.category).where(
                    ItemCategoryRow.path.in_(select(ItemRow.path).where(*conditions))
                )
            )
            for path, category in rows:
                categories.setdefault(path, []).append(category)
        if area is not None:
            shapely.prepare(area)
        kept = []
        for row in candidates:
            path, geometry = row[0], row[1]
            if area is not None and not (
                geometry and area.intersects(shapely.geometry.shape(json.loads(geometry)))
            ):
                continue
            if predicate is not None and not predicate(
                json.loads(row[2]), categories.get(path, [])
            ):
                continue
            kept.append(path)
        return kept

    def dispose(self) -> None:
        self.engine.dispose()
