"""The HTTP API: a FastAPI app over a project source and its index.

Routes are thin: parse, ask the index/source, render, map errors. Paths follow upstream
SharingHub so its clients work unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote, urlencode

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlops_server import __version__
from mlops_server.access import (
    READ_ONLY,
    AccessPolicy,
    Caller,
    InvalidToken,
    MembershipLookup,
    access_level,
    can_see,
    visibility_filter,
)
from mlops_server.archive import archive_request, archive_response
from mlops_server.config_api import config_document
from mlops_server.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    error_body,
)
from mlops_server.filters import queryables
from mlops_server.index import Index, IndexedItem, IndexPage, IndexQuery
from mlops_server.oauth import GitLabLogin, install_auth_routes
from mlops_server.search import SearchParams, encode_cursor, parse_search
from mlops_server.sessions import EncryptedSessionMiddleware
from mlops_server.settings import Category, Settings
from mlops_server.sources.base import ProjectFileNotFound, ProjectNotFound, ProjectSource
from mlops_server.stac import catalog
from mlops_server.stac.hrefs import collection_href
from mlops_server.stac.items import STAC_VERSION, media_type, render_item
from mlops_server.stac.shaping import select_fields, shape_item
from mlops_server.tracking.stac import ModelLinks

log = logging.getLogger(__name__)

GEOJSON = "application/geo+json"


def base_url_of(request: Request) -> str:
    """The URL the client used to reach the app root (host and any path prefix)."""
    return str(request.base_url).rstrip("/")


def _reason_for(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        422: "bad_request",
    }.get(status, "error")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.message, error.reason), error.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in error.errors():
            where = [str(p) for p in problem.get("loc", ()) if p not in ("query", "path", "body")]
            problems.append(f"Parameter '{'.'.join(where)}': {problem.get('msg', 'invalid')}")
        return JSONResponse(
            error_body("; ".join(problems) or "Invalid request", "bad_request"), 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail) if error.detail else "Error"
        return JSONResponse(
            error_body(message, _reason_for(error.status_code)),
            error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("Internal server error", "internal_error"), 500)


class Catalog:
    """The request-independent core the routes share: settings, source and index."""

    def __init__(
        self, settings: Settings, source: ProjectSource, index: Index, policy: AccessPolicy
    ) -> None:
        self.settings = settings
        self.source = source
        self.index = index
        self.policy = policy
        self._resync_pending = threading.Event()
        # Starred project ids per token hash, for ``:starred`` (fetched only when asked for).
        self._starred: dict[str, tuple[float, frozenset[int]]] = {}

    def starred(self, caller: Caller) -> frozenset[int]:
        """The projects the caller starred; none for a caller without a GitLab user."""
        lookup = getattr(self.source, "starred", None)
        if caller.token is None or not caller.authenticated or lookup is None:
            return frozenset()
        key = hashlib.sha256(caller.token.encode()).hexdigest()
        cached = self._starred.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.settings.access_cache_ttl:
            return cached[1]
        try:
            ids = frozenset(lookup(caller.token))
        except InvalidToken:
            raise Unauthorized("Invalid token") from None
        self._starred[key] = (time.monotonic(), ids)
        return ids

    def resync_later(self, reason: str) -> bool:
        """Re-sync the whole source in a background thread; False when one is already waiting
        to start (it will read the source after this call anyway)."""
        if self._resync_pending.is_set():
            return False
        self._resync_pending.set()

        def run() -> None:
            self._resync_pending.clear()  # events from now on need a later re-sync
            started = time.perf_counter()
            try:
                count = self.index.rebuild(self.source, self.settings)
            except Exception:
                log.exception("%s: re-sync failed; keeping the current index", reason)
                return
            log.info(
                "%s: re-synced %d projects in %.2fs", reason, count, time.perf_counter() - started
            )

        threading.Thread(target=run, name="mlops-resync", daemon=True).start()
        return True

    def visible(self, caller: Caller, indexed: IndexedItem | None) -> IndexedItem | None:
        if indexed is None or not can_see(caller, indexed.project_id, indexed.visibility):
            return None
        return indexed

    def level(self, caller: Caller, indexed: IndexedItem) -> int:
        return access_level(caller, indexed.project_id, indexed.visibility)

    def readable(self, caller: Caller, project_path: str) -> IndexedItem:
        """A project whose repository the caller may read (404 unseen, 403 guest)."""
        indexed = self.visible(caller, self.index.get(path=project_path.strip("/")))
        if indexed is None:
            raise NotFound(f"Project not found: {project_path}")
        if self.level(caller, indexed) < READ_ONLY:
            raise Forbidden("Insufficient access level: reading files needs at least reporter")
        return indexed

    def category(self, collection_id: str) -> Category:
        category = self.settings.category(collection_id)
        if category is None:
            raise NotFound(f"Collection not found: {collection_id}")
        return category

    def collection_of(self, indexed: IndexedItem, allowed: list[str]) -> Category:
        for category in self.settings.categories:
            if category.id in indexed.categories and category.id in allowed:
                return category
        raise LookupError(indexed.path)  # the index query guarantees a match

    def search(self, caller: Caller, params: SearchParams) -> IndexPage:
        visible = visibility_filter(caller)
        page = self.index.search(
            IndexQuery(
                visibilities=visible.visibilities,
                project_ids=visible.project_ids,
                categories=params.collections,
                ids=params.ids,
                among_project_ids=sorted(self.starred(caller)) if params.starred else None,
                topics=params.topics,
                words=params.words,
                bbox=params.bbox,
                geometry=params.intersects,
                start=params.start,
                end=params.end,
                sortby=params.sortby,
                offset=params.offset,
                limit=params.limit,
                predicate=params.predicate,
            )
        )
        return page


# Paging cursors, and a token that must never be echoed into a link.
_CURSOR_KEYS = frozenset({"token", "after", "before", "gitlab_token"})


def _page_url(base: str, path: str, echo: dict[str, str], **paging: str) -> str:
    query = urlencode({**echo, **paging})
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def feature_collection(
    core: Catalog,
    request: Request,
    caller: Caller,
    params: SearchParams,
    route_path: str,
    collection_id: str | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of results. ``body`` is a POST search's JSON body: its paging links are then
    POST links carrying the same body with the page cursor (STAC API item search)."""
    page = core.search(caller, params)
    items, matched = page.items, page.matched
    base = base_url_of(request)
    features = [
        shape_item(
            render_item(
                indexed.item,
                core.collection_of(indexed, params.collections),
                base,
                core.level(caller, indexed),
                fresh=True,  # loaded for this request only
            ),
            params.mode,
        )
        for indexed in items
    ]
    if params.fields is not None:
        features = [select_fields(feature, params.fields) for feature in features]
    if request.method == "GET":
        # Never echo a token given in the query string into a link.
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "gitlab_token"]
        self_href = str(request.url.replace(query=urlencode(kept)))
    else:
        paging = {"after": encode_cursor(params.offset)} if params.offset else {}
        self_href = _page_url(base, route_path, params.echo, **paging)
    links: list[dict[str, Any]] = [
        {"rel": "self", "type": GEOJSON, "href": self_href},
        {"rel": "root", "type": "application/json", "href": f"{base}{catalog.ROOT}"},
    ]
    if collection_id is not None:
        links.append(
            {
                "rel": "collection",
                "type": "application/json",
                "href": base + collection_href(collection_id),
            }
        )

    def page_link(rel: str, cursor: str, offset: int) -> dict[str, Any]:
        if body is None:
            href = _page_url(base, route_path, params.echo, **{cursor: encode_cursor(offset)})
            return {"rel": rel, "type": GEOJSON, "href": href}
        kept = {k: v for k, v in body.items() if k not in _CURSOR_KEYS}
        return {
            "rel": rel,
            "type": GEOJSON,
            "href": f"{base}{route_path}",
            "method": "POST",
            "body": {**kept, cursor: encode_cursor(offset)},
            "merge": False,
        }

    if params.offset > 0:
        links.append(page_link("prev", "before", params.offset))
    if page.more:
        links.append(page_link("next", "after", params.offset + len(features)))
    # numberMatched (and context.matched) only when exact: the index stops counting past
    # COUNT_LIMIT matches; the next link says whether there is more.
    counted = {} if matched is None else {"matched": matched}
    document: dict[str, Any] = {
        "type": "FeatureCollection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "context": {"limit": params.limit, **counted, "returned": len(features)},
    }
    if matched is not None:
        document["numberMatched"] = matched
    document.update(numberReturned=len(features), features=features, links=links)
    return document


class GeoJSONResponse(JSONResponse):
    """GeoJSON encoded by orjson: the same compact JSON as Starlette's, several times faster
    on a page of items."""

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _geojson(document: dict[str, Any]) -> JSONResponse:
    return GeoJSONResponse(document)


def create_app(
    settings: Settings,
    source: ProjectSource,
    index: Index,
    *,
    policy: AccessPolicy | None = None,
    webhook_secret: str | None = None,
    model_links: ModelLinks | None = None,
) -> FastAPI:
    """Build the API over a project source whose items are already in ``index``.

    Parameters
    ----------
    settings, source, index
        Configuration, where projects come from, and their index.
    policy
        Who sees what. By default: token-based GitLab permissions when the source can look
        memberships up (``memberships(token)``), else public mode (local store).
    webhook_secret
        Shared secret GitLab sends in ``X-Gitlab-Token`` to ``POST /api/webhooks/gitlab``;
        webhooks are refused when None.
    model_links
        Pulls registered models from MLflow into served items (``mlflow:model`` links and
        model assets, see ``mlops_server.tracking.stac``); None: no pull.
    """
    login = (
        GitLabLogin(settings.gitlab_url, settings.oauth)
        if settings.oauth is not None and settings.gitlab_url
        else None
    )
    if policy is None:
        lookup = cast(MembershipLookup, source) if hasattr(source, "memberships") else None
        policy = AccessPolicy(
            lookup,
            allow_public=settings.allow_public,
            default_token=settings.default_token,
            ttl=settings.access_cache_ttl,
            sessions=login,
        )
    app = FastAPI(
        title="mlops-server",
        version=__version__,
        description="SharingHub-compatible catalog of the jupyter-mlops platform.",
        # Served below: the description with its OpenAPI media type (the root's service-desc).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    core = Catalog(settings, source, index, policy)
    caller_of = policy.caller
    app.state.catalog = core
    _install_error_handlers(app)
    if login is not None:  # the OAuth login keeps its tokens in the encrypted session cookie
        app.add_middleware(EncryptedSessionMiddleware, settings=settings.session)
    install_auth_routes(app, settings, policy, login)
    if settings.store is not None:  # the DVC store needs boto3 (extra "s3")
        from mlops_server.store import install_store_routes

        install_store_routes(app, settings, index, policy)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi(), media_type=catalog.OPENAPI_MEDIA_TYPE)

    @app.get("/api/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/api/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/status")
    def status() -> list[dict[str, Any]]:
        """Health check, in upstream's shape."""
        return [{"status": "ok", "services": {}}]

    @app.get("/api/config/")
    @app.get("/api/config", include_in_schema=False)
    def config(request: Request) -> dict[str, Any]:
        """UI configuration (no auth)."""
        return config_document(settings, base_url_of(request))

    @app.get("/api/auth/info")
    def auth_info(request: Request) -> dict[str, Any]:
        """Whether the request is authenticated by a user token (200) or not (401).

        The answer names the token's source (``session`` after a GitLab login) and its
        user's public profile. Unlike upstream, the token itself is never echoed back, and
        callers served by the default token or public mode get a 401 (upstream answers 200
        with an empty token in public mode, which MLflow SharingHub mistakes for a signed-in
        user).
        """
        caller = caller_of(request)
        if caller.anonymous or caller.via == "default":
            raise Unauthorized("Not authenticated (anonymous, public mode or default token)")
        return {
            "authenticated": True,
            "token_source": caller.via,
            "admin": caller.admin,
            "user": dict(caller.user),
        }

    @app.get("/api/stac")
    @app.get("/api/stac/", include_in_schema=False)
    def stac_root(request: Request) -> dict[str, Any]:
        caller_of(request)
        return catalog.root_catalog(settings, base_url_of(request))

    @app.get("/api/stac/conformance")
    def conformance() -> dict[str, Any]:
        return {"conformsTo": catalog.CONFORMANCE}

    @app.get("/api/stac/queryables")
    def stac_queryables(request: Request) -> JSONResponse:
        """What CQL2 filters may name (JSON Schema)."""
        caller_of(request)
        return JSONResponse(queryables(base_url_of(request)), media_type="application/schema+json")

    @app.get("/api/stac/collections/{collection_id}/queryables")
    def collection_queryables(request: Request, collection_id: str) -> JSONResponse:
        caller_of(request)
        core.category(collection_id)
        return JSONResponse(
            queryables(base_url_of(request), collection_id),
            media_type="application/schema+json",
        )

    @app.get("/api/stac/collections")
    def collections(request: Request) -> dict[str, Any]:
        caller_of(request)
        return catalog.collections(settings, base_url_of(request))

    @app.get("/api/stac/collections/{collection_id}")
    def collection(request: Request, collection_id: str) -> dict[str, Any]:
        caller_of(request)
        return catalog.collection(core.category(collection_id), base_url_of(request))

    @app.get("/api/stac/collections/{collection_id}/items")
    def collection_items(request: Request, collection_id: str) -> JSONResponse:
        """Items of one collection; query: limit, bbox, datetime, after/before/token."""
        core.category(collection_id)
        params = parse_search(request.query_params, settings, collection=collection_id)
        document = feature_collection(
            core,
            request,
            caller_of(request),
            params,
            f"/api/stac/collections/{collection_id}/items",
            collection_id,
        )
        return _geojson(document)

    @app.get("/api/stac/collections/{collection_id}/items/{item_id:path}")
    def collection_item(request: Request, collection_id: str, item_id: str) -> JSONResponse:
        category = core.category(collection_id)
        caller = caller_of(request)
        indexed = core.visible(caller, core.index.get(path=item_id.strip("/")))
        if indexed is None:
            raise NotFound(f"Item not found: {item_id}")
        if category.id not in indexed.categories:
            raise BadRequest(
                f"Category mismatch for project {indexed.path}: asked {category.id} "
                f"but got {', '.join(indexed.categories) or 'none'}"
            )
        item = render_item(
            indexed.item, category, base_url_of(request), core.level(caller, indexed)
        )
        if model_links is not None:  # registered models, pulled from MLflow as the caller
            item = model_links.decorate(item, caller.token)
        return _geojson(item)

    @app.get("/api/stac/search")
    def search_get(request: Request) -> JSONResponse:
        """Item search; query: collections, ids, bbox, intersects, datetime, q, sortby,
        limit, token/after/before."""
        params = parse_search(request.query_params, settings)
        document = feature_collection(core, request, caller_of(request), params, "/api/stac/search")
        return _geojson(document)

    @app.post("/api/stac/search")
    async def search_post(request: Request) -> JSONResponse:
        """Item search with a JSON body holding the GET parameters (lists as lists);
        paging cursors may be in the body or the query string."""
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("The request body must be a JSON object") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        values = {**dict(request.query_params), **body}
        # Resolving the caller may call GitLab: keep it off the event loop.
        caller = await run_in_threadpool(caller_of, request)
        params = parse_search(values, settings, json_body=True)
        document = await run_in_threadpool(
            feature_collection, core, request, caller, params, "/api/stac/search", None, body
        )
        return _geojson(document)

    @app.get("/api/check/{project_id_or_path:path}")
    def check(request: Request, project_id_or_path: str, info: bool = False) -> Response:
        """Visibility check used by MLflow SharingHub; ``info=true`` returns details."""
        caller = caller_of(request)
        key = project_id_or_path.strip("/")
        numeric = key.isascii() and key.isdigit() and len(key) <= 18  # GitLab ids are bigint
        indexed = core.index.get(project_id=int(key)) if numeric else core.index.get(path=key)
        indexed = core.visible(caller, indexed)
        if indexed is None:
            raise NotFound(f"Project not found: {project_id_or_path}")
        if not info:
            return Response(status_code=200)
        ordered = [c.id for c in settings.categories if c.id in indexed.categories]
        return JSONResponse(
            {
                "id": indexed.project_id,
                "name": indexed.name,
                "path": indexed.path,
                "access_level": core.level(caller, indexed),
                "categories": ordered,
            }
        )

    @app.api_route("/api/download/{target:path}", methods=["GET", "HEAD"])
    def download(request: Request, target: str, ref: str | None = None) -> Response:
        """Stream a project file: ``/api/download/<project>/repository/<file>?ref=``, or an
        archive of the repository: ``<project>/archive.<fmt>`` (upstream) or
        ``<project>/repository/archive.<fmt>`` (GitLab's spelling; a repository file of that
        name wins), ``fmt`` one of zip, tar.gz, tar.bz2, tar."""
        archive = archive_request(target)
        if archive is not None and not archive.shadowable:
            caller = caller_of(request)
            indexed = core.readable(caller, archive.project_path)
            return archive_response(source, indexed, archive.fmt, ref, caller.token)
        project_path, marker, file_path = target.partition("/repository/")
        if not marker or not project_path or not file_path:
            raise NotFound(f"Not found: /api/download/{target}")
        parts = file_path.split("/")
        if file_path.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in file_path:
            raise BadRequest(f"Parameter 'file_path': invalid path {file_path!r}")
        caller = caller_of(request)
        indexed = core.readable(caller, project_path)
        try:
            found = source.open_file(indexed.path, file_path, ref)
        except (ProjectNotFound, ProjectFileNotFound):
            if archive is not None:  # no file named archive.<fmt>: the repository archive
                return archive_response(source, indexed, archive.fmt, ref, caller.token)
            raise NotFound(f"File not found: {file_path}") from None
        kind = media_type(found.name) or "application/octet-stream"
        if found.local_path is not None:
            return FileResponse(
                found.local_path,
                media_type=kind,
                filename=found.name,
                content_disposition_type="attachment",
            )

        def chunks() -> Iterator[bytes]:
            with found.open() as stream:
                while chunk := stream.read(1 << 16):
                    yield chunk

        headers = {
            "Content-Disposition": f'attachment; filename="{found.name}"; '
            f"filename*=UTF-8''{quote(found.name, safe='')}"
        }
        if found.size is not None:
            headers["Content-Length"] = str(found.size)
        return StreamingResponse(chunks(), media_type=kind, headers=headers)

    @app.post("/api/webhooks/gitlab")
    async def gitlab_webhook(request: Request) -> JSONResponse:
        """GitLab webhook (project push, system hook project/member events).

        The body is GitLab's event JSON; ``X-Gitlab-Token`` must be the shared secret. The
        event's project is re-indexed (or dropped when gone) before the response.
        """
        sent = request.headers.get("x-gitlab-token")
        if sent is None:
            raise Unauthorized("Missing X-Gitlab-Token")
        if not webhook_secret or not hmac.compare_digest(sent.encode(), webhook_secret.encode()):
            raise Forbidden("Invalid webhook token")
        try:
            event = await request.json()
        except ValueError:
            raise BadRequest("The request body must be a JSON object") from None
        if not isinstance(event, dict):
            raise BadRequest("The request body must be a JSON object")
        return JSONResponse(await run_in_threadpool(_apply_event, core, event))

    return app


#: System hook events that move or delete every project of a group.
_GROUP_MOVES = frozenset({"group_rename", "group_destroy"})


def _event_project(event: dict[str, Any]) -> tuple[int | None, str | None]:
    project = event.get("project") if isinstance(event.get("project"), dict) else {}
    assert isinstance(project, dict)
    raw_id = event.get("project_id", project.get("id"))
    path = (
        event.get("project_path_with_namespace")
        or event.get("path_with_namespace")
        or project.get("path_with_namespace")
    )
    project_id = int(raw_id) if isinstance(raw_id, int | str) and str(raw_id).isdigit() else None
    return project_id, str(path) if path else None


def _apply_event(core: Catalog, event: dict[str, Any]) -> dict[str, Any]:
    """Re-index the project an event is about; membership events also drop cached access."""
    name = str(event.get("event_name") or event.get("object_kind") or "")
    if name.startswith("user_") or "member" in name:
        core.policy.invalidate()
    project_id, path = _event_project(event)
    if project_id is None and path is None and name in _GROUP_MOVES:
        # Every project below the group changed path (or is gone), and GitLab sends no event
        # per project: re-read them all, after this answer.
        started = core.resync_later(f"webhook {name} {event.get('full_path', '')}".rstrip())
        return {"message": f"Event {name}: full re-sync {'started' if started else 'queued'}"}
    if project_id is None and path is None:
        return {"message": f"Ignored event {name or 'unknown'}: no project"}
    key = str(project_id) if project_id is not None else str(path)
    try:
        project = core.source.get_project(key)
    except ProjectNotFound:
        removed = core.index.remove(path=path, project_id=project_id)
        log.info("webhook %s: project %s removed from the index (%s)", name, key, removed)
        return {"message": f"Project {key} removed", "project": path}
    core.index.upsert(project, core.settings)
    log.info("webhook %s: project %s re-indexed", name, project.path)
    return {"message": f"Project {project.path} re-indexed", "project": project.path}
