"""HTTP routes of the server extension under ``<base_url>/jupyter-mlops/``.

Handlers are thin: parse the request, call the plain-Python client API, map its typed errors to
the JSON error shape ``{"message", "reason"}``. Every verb is authenticated; the ones that change
state are also authorized. No handler ever writes a token into a response.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from . import __version__
from .auth import TokenManager, check_token_shape, gitlab_username
from .catalog import CatalogAPI, dumps, relink_pages
from .downloads import DownloadManager, allowed
from .errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    MLOpsError,
    NotFoundError,
    PlatformUnavailableError,
    PublishValidationError,
    UpstreamError,
)
from .oauth import GitLabOAuth
from .platform import Endpoints, Platform
from .publish import ProgressEvent, PublishRequest, execute, prepare, server_target
from .publishing.metadata import field_error
from .publishing.mlflow_source import ModelSource
from .tracking import tracking_uri

NAMESPACE = "jupyter-mlops"
#: Resource name for jupyter_server's authorizer (``@authorized``).
AUTH_RESOURCE = "jupyter_mlops"


class MLOpsHandler(APIHandler):
    """Base handler: access to the platform and tokens, one error shape."""

    auth_resource = AUTH_RESOURCE

    @property
    def platform(self) -> Platform:
        platform: Platform = self.settings["jupyter_mlops"]["platform"]
        return platform

    @property
    def tokens(self) -> TokenManager:
        tokens: TokenManager = self.settings["jupyter_mlops"]["tokens"]
        return tokens

    @property
    def downloads(self) -> DownloadManager:
        downloads: DownloadManager = self.settings["jupyter_mlops"]["downloads"]
        return downloads

    def oauth(self) -> GitLabOAuth | None:
        """The GitLab OAuth application, when one is configured and GitLab is known."""
        provider: Callable[[], GitLabOAuth | None] = self.settings["jupyter_mlops"]["oauth"]
        return provider()

    def route(self, *parts: str) -> str:
        """Absolute path of one of our routes, under the server's base URL."""
        path: str = url_path_join(self.base_url, NAMESPACE, *parts)
        return path

    async def catalog(self) -> CatalogAPI:
        """A catalog client for the platform, with the user's token (never shown)."""
        endpoints = await self.platform.endpoints()
        assert endpoints.sharinghub_url is not None
        return CatalogAPI(
            endpoints.sharinghub_url,
            token=await self.tokens.token(),
            timeout=self.platform.config.request_timeout,
            client=self.platform.http,
        )

    async def answer(self, call: Callable[[CatalogAPI], Awaitable[dict[str, Any]]]) -> None:
        """Run one catalog call and answer its JSON, or the error shape."""
        try:
            result = await call(await self.catalog())
        except MLOpsError as error:
            self.fail(error)
            return
        self.finish(dumps(result))

    def fail(self, error: MLOpsError) -> None:
        self.set_status(error.status)
        self.finish(json.dumps({"message": error.message, "reason": error.reason}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never send a traceback or an upstream body to the browser: log it, answer the shape.
        self.set_header("Content-Type", "application/json")
        message = self._reason or "Unexpected error"
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], tornado.web.HTTPError):
            message = exc_info[1].log_message or message
        self.finish(json.dumps({"message": message, "reason": self._reason or "error"}))


class InfoHandler(MLOpsHandler):
    """``GET /jupyter-mlops/info[?version=<frontend version>]``.

    The version handshake of the frontend and a description of the platform: ``version``,
    ``embedded``, ``status`` (``starting|ready|failed|unconfigured``), ``sharinghub_url``,
    ``mlflow_url``, ``gitlab_url`` (``null`` when unknown or absent), and ``message``/``reason``
    when the platform failed. No secret is ever part of it.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        # Make sure a connection attempt is under way; answer at once with the current state.
        self.platform.start()
        body: dict[str, Any] = {"version": __version__, **self.platform.describe()}
        frontend = self.get_query_argument("version", None)
        if frontend is not None and frontend != __version__:
            body["version_mismatch"] = (
                f"The frontend is version {frontend} but the server extension is {__version__};"
                " reinstall jupyter-mlops and reload the page."
            )
        self.finish(json.dumps(body))


class SessionHandler(MLOpsHandler):
    """Who the platform sees, and how the user logs in or out.

    ``GET`` answers ``{authenticated, source, username, token_required}``: ``source`` is where the
    token comes from (``environment``, ``jupyterhub``, ``stored``) and never the token itself.
    ``POST`` with body ``{"token": "<GitLab personal access token>"}`` checks the token against
    GitLab (when GitLab is known) and keeps it in a 0600 file. ``DELETE`` forgets a stored token.
    """

    _usernames: dict[str, str] = {}  # noqa: RUF012 - per-process cache, keyed by token digest

    async def _describe(self) -> dict[str, Any]:
        credential = await self.tokens.credential()
        username: str | None = None
        gitlab_url = self.platform.describe()["gitlab_url"]
        if credential is not None and gitlab_url:
            digest = hashlib.sha256(credential.token.encode()).hexdigest()
            if digest not in self._usernames:
                try:
                    self._usernames[digest] = await gitlab_username(gitlab_url, credential.token)
                except MLOpsError as error:
                    self.log.warning("jupyter-mlops: token check failed: %s", error.message)
            username = self._usernames.get(digest)
        return {
            "authenticated": credential is not None,
            "source": credential.source if credential else None,
            "username": username,
            "token_required": not self.platform.embedded,
            "oauth_available": self.oauth() is not None,
        }

    @tornado.web.authenticated
    async def get(self) -> None:
        self.finish(json.dumps(await self._describe()))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            token = check_token_shape(body.get("token") if isinstance(body, dict) else None)
            if self.platform.embedded:
                raise ConflictError(
                    "The embedded local platform needs no token.", reason="token_not_needed"
                )
            endpoints = await self.platform.endpoints()
            if endpoints.gitlab_url:
                await gitlab_username(endpoints.gitlab_url, token)
        except json.JSONDecodeError:
            self.fail(BadRequestError("The body is not JSON."))
            return
        except MLOpsError as error:
            self.fail(error)
            return
        self.tokens.store.save(token)
        self.log.info("jupyter-mlops: a personal access token was stored")
        self.finish(json.dumps(await self._describe()))

    @tornado.web.authenticated
    @authorized
    async def delete(self) -> None:
        forgotten = self.tokens.store.forget()
        oauth = self.oauth()
        if oauth is not None:
            forgotten = oauth.forget() or forgotten
        self.finish(json.dumps({"forgotten": forgotten, **(await self._describe())}))


class OAuthLoginHandler(MLOpsHandler):
    """``GET /jupyter-mlops/oauth/login``: redirect the browser to GitLab's consent page.

    The frontend opens it in a new window; GitLab comes back to ``oauth/callback``.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            await self.platform.endpoints()
            oauth = self.oauth()
            if oauth is None:
                raise ConflictError(
                    "GitLab login is not configured: the admin sets c.JupyterMLOps.oauth_client_id"
                    " (and GitLab's URL must be known).",
                    reason="oauth_unavailable",
                )
        except MLOpsError as error:
            self.fail(error)
            return
        callback = f"{self.request.protocol}://{self.request.host}{self.route('oauth', 'callback')}"
        self.redirect(oauth.begin(callback))


class OAuthCallbackHandler(MLOpsHandler):
    """``GET /jupyter-mlops/oauth/callback?code=&state=``: finish the GitLab login.

    Answers a small HTML page (this is a browser window, not an API call), never the token.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        error = self.get_query_argument("error_description", None) or self.get_query_argument(
            "error", None
        )
        oauth = self.oauth()
        try:
            if error:
                raise AuthenticationError(
                    f"GitLab did not log you in: {error}", reason="oauth_denied"
                )
            if oauth is None:
                raise ConflictError("GitLab login is not configured.", reason="oauth_unavailable")
            await oauth.complete(
                self.get_query_argument("state", ""), self.get_query_argument("code", "")
            )
        except MLOpsError as failure:
            self.set_status(failure.status)
            self._page("GitLab login failed", failure.message)
            return
        self._page(
            "Logged in to GitLab",
            "You can close this window and go back to JupyterLab.",
            close=True,
        )

    def _page(self, title: str, message: str, close: bool = False) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        script = "<script>window.opener && window.close()</script>" if close else ""
        self.finish(
            f"<!doctype html><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{script}"
        )


class CatalogSearchHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/search?<STAC search parameters>``.

    Forwards an item search to the platform's ``/api/stac/search`` with the user's credentials and
    returns the FeatureCollection; paging links point back to this route.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        # The Jupyter server's own token may come as "?token=" too: it must never travel
        # upstream, and it is not a STAC paging token.
        jupyter_token = getattr(self.identity_provider, "token", None)
        params = [
            (key, value.decode())
            for key, values in self.request.query_arguments.items()
            for value in values
            # JupyterLab's ServerConnection adds a bare "?<timestamp>" to defeat caches.
            if not (key.isdigit() and not value)
            and not (key == "token" and jupyter_token and value.decode() == jupyter_token)
        ]
        try:
            catalog = await self.catalog()
            wanted = [
                c for key, value in params if key == "collections" for c in value.split(",") if c
            ]
            # Upstream SharingHub (known from its /api/config/) takes one collection at a time.
            upstream = bool(self.platform.catalog_config) and not self.platform.multi_collection
            if upstream and len(wanted) != 1:
                result = await catalog.search_each(params, wanted or self.platform.categories)
            else:
                result = await catalog.search(params)
        except MLOpsError as error:
            self.fail(error)
            return
        relink_pages(result, catalog.search_url, self.route("catalog", "search"))
        self.finish(dumps(result))


class CatalogCollectionsHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/collections``: the catalog's collections."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda catalog: catalog.collections())


class CatalogItemHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/collections/<collection>/items/<project path>``."""

    @tornado.web.authenticated
    async def get(self, collection_id: str, item_id: str) -> None:
        await self.answer(lambda catalog: catalog.item(collection_id, item_id))


class CatalogCheckHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/check/<project path or id>``: the user's access level."""

    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        await self.answer(lambda catalog: catalog.check(project))


class CatalogImageHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/image/<project path>/repository/<file path>[?ref=<ref>]``.

    Streams one image of a project (README images, the preview thumbnail) from the configured
    catalog's ``/api/download/<project>/repository/<file>?ref=`` with the user's token added
    here, so the browser never talks to the platform and never holds a token. Only image files
    (by suffix), no ``.``/``..`` segments, no redirects, at most ``MAX_IMAGE_BYTES``.
    """

    @tornado.web.authenticated
    async def get(self, project: str, file_path: str) -> None:
        ref = self.get_query_argument("ref", None)
        try:
            catalog = await self.catalog()
            async with catalog.open_image(project, file_path, ref) as (media_type, chunks):
                first = await anext(chunks, b"")
                self.set_header("Content-Type", media_type)
                self.set_header("X-Content-Type-Options", "nosniff")
                # An SVG opened on its own must not run script on the Jupyter origin.
                self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
                self.set_header("Cache-Control", "private, max-age=300")
                self.write(first)
                async for chunk in chunks:
                    self.write(chunk)
                    await self.flush()
                # APIHandler.finish sets the Content-Type once more: keep the image's.
                self.finish(set_content_type=media_type)
        except MLOpsError as error:
            if self._headers_written:
                # Cut off mid-body (too large): the browser sees a broken image, nothing more.
                self.request.connection.close()  # type: ignore[union-attr]
                return
            self.clear_header("Content-Security-Policy")
            self.clear_header("Cache-Control")
            self.set_header("Content-Type", "application/json")
            self.fail(error)


class CatalogConfigHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/config``: the platform's public configuration."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda catalog: catalog.config())


class DownloadsHandler(MLOpsHandler):
    """Downloads of platform files into the workspace.

    ``GET`` lists the jobs of this server. ``POST`` with body
    ``{"href": "<asset href>", "path": "<workspace-relative file>", "overwrite": false}`` starts
    one and answers 202 with the job ``{id, href, path, status, bytes, total}``. Only hrefs on the
    platform's catalog or MLflow are accepted; the user's token is added here, never in the href.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        jobs = [job.describe() for job in self.downloads.jobs.values()]
        self.finish(json.dumps({"downloads": jobs}))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            if not isinstance(body, dict):
                raise BadRequestError("The body must be a JSON object.")
            endpoints = await self.platform.endpoints()
            href = body.get("href")
            token = await self.tokens.token()
            headers: dict[str, str] = {}
            if token and isinstance(href, str):
                if endpoints.mlflow_url and allowed(href, [endpoints.mlflow_url]):
                    headers["Authorization"] = f"Bearer {token}"
                else:
                    headers["X-Gitlab-Token"] = token
            bases = download_bases(endpoints)
            job = self.downloads.start(
                str(href or ""),
                str(body.get("path") or ""),
                bases,
                headers,
                overwrite=bool(body.get("overwrite")),
            )
        except json.JSONDecodeError:
            self.fail(BadRequestError("The body is not JSON."))
            return
        except MLOpsError as error:
            self.fail(error)
            return
        self.set_status(202)
        self.set_header("Location", self.route("downloads", job.id))
        self.finish(json.dumps(job.describe()))


class PublishHandler(MLOpsHandler):
    """``POST /jupyter-mlops/publish``: publish a model or a dataset (:mod:`jupyter_mlops.publish`).

    Body: the keyword arguments of ``publish()`` as JSON - ``name`` (required), ``kind``
    (``model``/``dataset``), ``namespace``, ``path``, ``title``, ``description``, ``readme``,
    ``visibility``, ``license``, ``bbox`` or ``geometry`` (GeoJSON or WKT), ``temporal``
    (``[start, end]``), ``keywords``, ``related``, ``files`` (workspace-relative paths),
    ``mlflow_model`` (read as the user from the tracking URI of ``mlflow_project``, default
    the published project), ``mlm``, ``message`` - plus ``dry_run``. Invalid metadata is a 400
    ``{message, reason, field, errors}`` before anything is uploaded. A dry run answers the
    plan ``{path, collection, item, files: [{path, size, lfs}], total_size, ...}``; otherwise
    the result ``{path, collection, item_url, committed, unchanged, events, ...}``. With
    ``Accept: application/x-ndjson`` the answer streams ``{"event": {step, message, done,
    total}}`` lines, then ``{"result": ...}`` or ``{"error": {message, reason}}``.
    """

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            request = PublishRequest.from_json(body)
            endpoints = await self.platform.endpoints()
            data_dir = self.platform.config.embedded_data_dir if self.platform.embedded else None
            token = await self.tokens.token()
            target = server_target(endpoints, token, Path(data_dir) if data_dir else None)
            root = Path(self.contents_manager.root_dir)
            source = None
            if request.mlflow_model:
                if not endpoints.mlflow_url:
                    raise field_error("mlflow_model", "this platform has no MLflow")
                source = ModelSource(endpoints.mlflow_url, token)
            planned = await asyncio.to_thread(prepare, request, target, root, source)
        except json.JSONDecodeError:
            self.fail(BadRequestError("The body is not JSON."))
            return
        except PublishValidationError as error:
            self.set_status(error.status)
            self.finish(
                json.dumps(
                    {
                        "message": error.message,
                        "reason": error.reason,
                        "field": error.field,
                        "errors": error.errors,
                    }
                )
            )
            return
        except MLOpsError as error:
            self.fail(error)
            return
        if body.get("dry_run"):
            self.finish(json.dumps(planned.as_dict()))
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def report(event: ProgressEvent) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event.as_dict())

        task = loop.run_in_executor(None, execute, planned, target, report)
        task.add_done_callback(lambda _: events.put_nowait(None))
        streaming = "application/x-ndjson" in self.request.headers.get("Accept", "")
        if streaming:
            self.set_header("Content-Type", "application/x-ndjson")
        seen: list[dict[str, Any]] = []
        while (event := await events.get()) is not None:
            seen.append(event)
            if streaming:
                self.write(json.dumps({"event": event}) + "\n")
                await self.flush()
        try:
            result = task.result()
        except MLOpsError as error:
            if not streaming:
                self.fail(error)
                return
            failure = {"message": error.message, "reason": error.reason}
            self.finish(json.dumps({"error": failure}) + "\n")
            return
        answer = {**result.as_dict(), "events": seen}
        self.finish(json.dumps({"result": answer}) + "\n" if streaming else json.dumps(answer))


#: MLflow REST endpoints the UI may call through the proxy, by method. Anything else is a 404:
#: the proxy is not a way to reach arbitrary MLflow (or other) routes.
MLFLOW_ROUTES: dict[str, frozenset[str]] = {
    "GET": frozenset(
        {
            "experiments/get",
            "experiments/get-by-name",
            "experiments/search",
            "runs/get",
            "metrics/get-history",
            # MLflow's own server-side downsampling of several runs' histories (charts).
            "metrics/get-history-bulk-interval",
            "artifacts/list",
            "registered-models/get",
            "registered-models/search",
            "registered-models/alias",
            "model-versions/get",
            "model-versions/search",
            "logged-models/get",
        }
    ),
    "POST": frozenset(
        {
            "experiments/search",
            "experiments/create",
            "runs/search",
            "registered-models/create",
            "registered-models/alias",
            "model-versions/create",
            "logged-models/search",
        }
    ),
    "DELETE": frozenset({"registered-models/alias"}),
}
MLFLOW_WRITES = frozenset(
    {
        "experiments/create",
        "registered-models/create",
        "registered-models/alias",
        "model-versions/create",
    }
)


class MLflowHandler(MLOpsHandler):
    """``/jupyter-mlops/mlflow/api/2.0/mlflow/<endpoint>[?project=<path>&...]``.

    Forwards allow-listed MLflow REST calls to the project's tracking URI
    (``<mlflow>/<project>/tracking/``), or to the read-only global view without ``project``,
    with the user's token as ``Authorization: Bearer``. The body and the other query
    parameters pass through; no browser header or cookie does.
    """

    async def _forward(self, endpoint: str) -> None:
        method = self.request.method or "GET"
        if endpoint not in MLFLOW_ROUTES.get(method, frozenset()):
            self.fail(NotFoundError(f"{method} {endpoint} is not available through this proxy."))
            return
        try:
            endpoints = await self.platform.endpoints()
            if not endpoints.mlflow_url:
                raise PlatformUnavailableError("This platform has no MLflow.", reason="no_mlflow")
            project = self.get_query_argument("project", None)
            base = (
                tracking_uri(endpoints.mlflow_url, project)
                if project
                else f"{endpoints.mlflow_url}/"
            )
            params = [
                (key, value.decode())
                for key, values in self.request.query_arguments.items()
                for value in values
                if key != "project" and not (key.isdigit() and not value)
            ]
            token = await self.tokens.token()
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = await self.platform.http.request(
                method,
                f"{base}api/2.0/mlflow/{endpoint}",
                params=tuple(params),
                content=self.request.body if method != "GET" else None,
                headers=headers,
            )
        except MLOpsError as error:
            self.fail(error)
            return
        except httpx.HTTPError as error:
            self.fail(UpstreamError(f"Could not reach MLflow: {type(error).__name__}"))
            return
        self.set_status(response.status_code if response.status_code < 500 else 502)
        if response.status_code >= 400:
            self.finish(json.dumps(_mlflow_error(response)))
            return
        self.finish(response.content)

    @tornado.web.authenticated
    async def get(self, endpoint: str) -> None:
        await self._forward(endpoint)

    @tornado.web.authenticated
    async def post(self, endpoint: str) -> None:
        if endpoint in MLFLOW_WRITES:
            await self._authorized_forward(endpoint)
        else:
            await self._forward(endpoint)

    @tornado.web.authenticated
    async def delete(self, endpoint: str) -> None:
        await self._authorized_forward(endpoint)

    @authorized
    async def _authorized_forward(self, endpoint: str) -> None:
        await self._forward(endpoint)


def _mlflow_error(response: httpx.Response) -> dict[str, str]:
    """MLflow's ``{error_code, message}`` as our ``{message, reason}``, never the raw body."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    reason = body.get("error_code") if isinstance(body, dict) else None
    return {
        "message": str(message or f"MLflow answered HTTP {response.status_code}")[:500],
        "reason": str(reason or "mlflow_error").lower(),
    }


def download_bases(endpoints: Endpoints) -> list[str]:
    """URL prefixes files may be downloaded from: the catalog's file routes and MLflow."""
    bases: list[str] = []
    if endpoints.sharinghub_url:
        bases += [
            f"{endpoints.sharinghub_url}/api/download",
            f"{endpoints.sharinghub_url}/api/store",
        ]
    if endpoints.mlflow_url:
        bases.append(endpoints.mlflow_url)
    return bases


class DownloadHandler(MLOpsHandler):
    """``GET /jupyter-mlops/downloads/<id>`` (progress) and ``DELETE`` (cancel)."""

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        try:
            self.finish(json.dumps(self.downloads.get(job_id).describe()))
        except MLOpsError as error:
            self.fail(error)

    @tornado.web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        try:
            job = await self.downloads.cancel(job_id)
        except MLOpsError as error:
            self.fail(error)
            return
        self.finish(json.dumps(job.describe()))


def setup_route_handlers(web_app: tornado.web.Application) -> None:
    """Register our handlers under the server's base URL."""
    base_url = web_app.settings["base_url"]

    def path(*parts: str) -> str:
        joined: str = url_path_join(base_url, NAMESPACE, *parts)
        return joined

    handlers: list[tuple[str, type[MLOpsHandler]]] = [
        (path("info"), InfoHandler),
        (path("session"), SessionHandler),
        (path("oauth", "login"), OAuthLoginHandler),
        (path("oauth", "callback"), OAuthCallbackHandler),
        (path("catalog", "search"), CatalogSearchHandler),
        (path("catalog", "collections"), CatalogCollectionsHandler),
        (path("catalog", "collections", "([^/]+)", "items", "(.+)"), CatalogItemHandler),
        (path("catalog", "check", "(.+)"), CatalogCheckHandler),
        (path("catalog", "config"), CatalogConfigHandler),
        (path("catalog", "image", "(.+?)", "repository", "(.+)"), CatalogImageHandler),
        (path("mlflow", "api", "2.0", "mlflow", "([a-z-]+/[a-z-]+)"), MLflowHandler),
        (path("downloads"), DownloadsHandler),
        (path("downloads", "([0-9a-f]{32})"), DownloadHandler),
        (path("publish"), PublishHandler),
    ]
    web_app.add_handlers(".*$", handlers)
