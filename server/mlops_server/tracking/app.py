"""The ``mlflow.app`` plugin: an ASGI layer in front of MLflow 3's whole server.

``mlflow server --app-name sharinghub`` runs :func:`create_app` under uvicorn. The returned app
sees every request first (REST, ajax-api, native artifact routes, UI), takes the project from
the ``/<project path>/tracking/`` prefix, strips it, asks the :class:`~.policy.Policy` and only
then hands the request to MLflow. Routes the layer does not know are refused.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_server.tracking import routes
from mlops_server.tracking.access import (
    AccessLookup,
    AuthenticationRequired,
    CachedAccess,
    CheckUnavailable,
    Credentials,
    ProjectAccess,
    SharingHubChecker,
    credentials_from_headers,
)
from mlops_server.tracking.config import TrackingConfig
from mlops_server.tracking.policy import Call, Denied, Plan, Policy, SearchFilter
from mlops_server.tracking.stores import MlflowStores, Stores

log = logging.getLogger(__name__)

TRACKING = "/tracking"
MAX_REFILL_ROUNDS = 20


def split_project(path: str) -> tuple[str | None, str]:
    """Split ``/<project path>/tracking/<rest>`` into the project path and ``/<rest>``.

    Paths without a ``/tracking`` segment belong to the global view (project ``None``).
    """
    marker = path.find(f"{TRACKING}/")
    if marker <= 0:
        if path.endswith(TRACKING) and len(path) > len(TRACKING) + 1:
            return path[1 : -len(TRACKING)], "/"
        return None, path or "/"
    return path[1:marker], path[marker + len(TRACKING) :] or "/"


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"error_code": code, "message": message, "reason": code.lower()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="mlflow"'))
    return status, headers, body


async def _send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _json_response(document: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return 200, headers, body


class SharingHubLayer:
    """ASGI app enforcing SharingHub permissions in front of an MLflow ASGI app.

    Parameters
    ----------
    mlflow_app
        MLflow's own ASGI app (``mlflow.server.fastapi_app.app``).
    access
        Resolves the caller's access to a project path (usually cached check API calls).
    stores
        Lookups of MLflow objects' projects.
    config
        Layer settings (project tag, session cookie name).
    ask_login
        Answer 401 (log in) rather than 403 when an anonymous caller cannot use a project;
        off for the embedded platform, where the anonymous local user is the owner.
    """

    def __init__(
        self,
        mlflow_app: ASGIApp,
        access: AccessLookup,
        stores: Stores,
        config: TrackingConfig,
        ask_login: bool = True,
    ) -> None:
        self.mlflow_app = mlflow_app
        self.ask_login = ask_login
        self.access = access
        self.config = config
        self.policy = Policy(access, stores, config.project_tag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.mlflow_app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            await self._handle(scope, receive, send)
        except Denied as denied:
            await _send_whole(send, *_error(denied.status, denied.code, denied.message))

    async def _project(self, credentials: Credentials, path: str) -> ProjectAccess:
        try:
            project = await self.access(credentials, path)
        except AuthenticationRequired:
            raise Denied(
                401,
                "UNAUTHENTICATED",
                "Authentication required: set MLFLOW_TRACKING_TOKEN to a GitLab token",
            ) from None
        except CheckUnavailable as error:
            log.warning("permission check failed: %s", error)
            raise Denied(502, "TEMPORARILY_UNAVAILABLE", "Permission check unavailable") from None
        if project is None:
            if credentials.anonymous and self.ask_login:
                raise Denied(
                    401,
                    "UNAUTHENTICATED",
                    f"Project {path} is not visible anonymously: set MLFLOW_TRACKING_TOKEN",
                )
            raise Denied(
                403,
                "PERMISSION_DENIED",
                f"Project {path} not found, not accessible, or not in category "
                f"'{self.config.stac_collection}'",
            )
        return project

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = str(scope.get("root_path", ""))
        full = str(scope["path"])
        path = full[len(root) :] if root and full.startswith(root) else full
        project_path, inner = split_project(path)
        method = str(scope["method"]).upper()
        matched = routes.match(method, inner)
        if matched is None:
            raise Denied(
                403,
                "PERMISSION_DENIED",
                f"{method} {inner} is not available through the SharingHub MLflow layer",
            )
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope["headers"]}
        credentials = credentials_from_headers(headers, self.config.session_cookie)
        project = None
        if project_path is not None and matched.route.kind is not routes.Kind.PUBLIC:
            project = await self._project(credentials, project_path)

        body_bytes = b""
        body: dict[str, Any] | None = None
        streams = matched.route.streams_body
        if not streams:
            body_bytes = await _read_body(receive)
            if body_bytes.strip():
                try:
                    parsed = json.loads(body_bytes)
                except ValueError:
                    raise Denied(400, "MALFORMED_REQUEST", "The request body is not JSON") from None
                body = parsed if isinstance(parsed, dict) else None
        query = parse_qs(scope.get("query_string", b"").decode("latin1"), keep_blank_values=True)
        call = Call(method, inner, query, body, credentials, project)
        plan = await self.policy.plan(call, matched)
        if plan.answer is not None:
            await _send_whole(send, *_json_response(plan.answer))
            return

        prefix = f"/{project_path}{TRACKING}" if project_path is not None else ""
        inner_scope = dict(scope)
        inner_scope["path"] = inner
        inner_scope["raw_path"] = inner.encode()
        inner_scope["root_path"] = root + prefix
        if plan.search is not None:
            await self._search(inner_scope, call, plan, plan.search, send)
            return
        if plan.query is not None:
            inner_scope["query_string"] = urlencode(plan.query, doseq=True).encode()
        if plan.body is not None:
            body_bytes = json.dumps(plan.body).encode()
        if streams:
            await self.mlflow_app(inner_scope, receive, send)
            return
        inner_scope["headers"] = _with_length(scope["headers"], len(body_bytes))
        await self.mlflow_app(inner_scope, _replay(body_bytes, receive), send)

    async def _search(
        self, scope: Scope, call: Call, plan: Plan, spec: SearchFilter, send: Send
    ) -> None:
        """Run a search page by page and keep readable entries, so pages stay full and the
        ``next_page_token`` always points right after the last entry looked at."""
        try:
            wanted = int(call.param("max_results") or spec.default_max)
        except (TypeError, ValueError):
            raise Denied(400, "INVALID_PARAMETER_VALUE", "max_results must be a number") from None
        token = call.param("page_token") or None
        kept: list[dict[str, Any]] = []
        for _ in range(MAX_REFILL_ROUNDS):
            status, headers, raw = await self._capture(
                scope, call, {"max_results": wanted - len(kept), "page_token": token}
            )
            if status != 200:
                await _send_whole(send, status, headers, raw)
                return
            document = json.loads(raw or b"{}")
            for entry in document.get(spec.list_key) or []:
                if await spec.readable(entry):
                    kept.append(entry)
            token = document.get("next_page_token") or None
            if token is None or len(kept) >= wanted:
                break
        answer: dict[str, Any] = {spec.list_key: kept}
        if token:
            answer["next_page_token"] = token
        await _send_whole(send, *_json_response(answer))

    async def _capture(
        self, scope: Scope, call: Call, changes: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        inner = dict(scope)
        body = b""
        if call.method == "GET":
            query = {k: v for k, v in call.query.items() if k not in changes}
            for key, value in changes.items():
                if value is not None:
                    query[key] = [str(value)]
            inner["query_string"] = urlencode(query, doseq=True).encode()
        else:
            document = {k: v for k, v in (call.body or {}).items() if k not in changes}
            document.update({k: v for k, v in changes.items() if v is not None})
            body = json.dumps(document).encode()
        inner["headers"] = _with_length(scope["headers"], len(body))
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.mlflow_app(inner, _replay(body, None), collect)
        return status, headers, b"".join(chunks)


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [
        (k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding")
    ]
    kept.append((b"content-length", str(length).encode()))
    return kept


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Denied(400, "MALFORMED_REQUEST", "Client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive | None) -> Receive:
    """A ``receive`` that yields ``body`` once, then waits on the real connection (if any)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is not None:
            return await receive()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return replay


def build_layer(
    mlflow_app: ASGIApp, access: AccessLookup, config: TrackingConfig, ask_login: bool = True
) -> SharingHubLayer:
    """Wrap an MLflow ASGI app with the permission layer, reading MLflow's own stores."""
    return SharingHubLayer(mlflow_app, access, MlflowStores(), config, ask_login)


def create_app() -> ASGIApp:
    """Entry point of ``mlflow server --app-name sharinghub`` (``mlflow.app`` plugin).

    MLflow runs this factory under uvicorn; configuration comes from the environment
    (``SHARINGHUB_URL`` and friends, see :class:`~.config.TrackingConfig`).

    Returns
    -------
    ASGIApp
        MLflow's FastAPI app behind the SharingHub permission layer.
    """
    from mlflow.server.fastapi_app import app as mlflow_app

    config = TrackingConfig.from_env()
    checker = SharingHubChecker(config)
    return build_layer(mlflow_app, CachedAccess(checker, config.cache_seconds), config)
