"""HTTP doubles for the chart's setup Job: GitLab's instance-admin API and Kubernetes Secrets.

``AdminGitLab`` serves the shared GitLab double (``tests.gitlab_double``: users, tokens,
projects, webhooks that really fire) plus the admin-only routes the Job calls: instance OAuth
applications (``/applications``, ``renew-secret``) and system hooks (``/hooks``). A system hook
created over the API is registered in the double's state, so GitLab events reach its URL.

``KubernetesDouble`` answers ``/api/v1/namespaces/<ns>/secrets`` (get, create, replace) with a
bearer token check, like the API server the Job's service account talks to; it is served by the
same loopback server.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.gitlab_double.app import ApiError
from tests.gitlab_double.model import Hook, User
from tests.gitlab_double.server import GitLabDouble


class AdminGitLab(GitLabDouble):
    """The GitLab double with instance OAuth applications and system hooks.

    Attributes
    ----------
    state
        The shared double's ``GitLabState`` (``state.hooks`` holds registered system hooks).
    applications
        Stored applications: dicts with ``id``, ``application_id``, ``application_name``,
        ``callback_url``, ``confidential``, ``scopes`` and ``secret``.
    calls
        ``(method, path)`` of every admin call, to check what a run did.
    """

    def __init__(self, users: list[User], kubernetes: KubernetesDouble | None = None) -> None:
        super().__init__(users, [])
        self.gitlab = self._app
        self.kubernetes = kubernetes or KubernetesDouble("")
        self.applications: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        #: System hooks created over the API, by id (each is also in ``state.hooks``).
        self.system_hooks: dict[int, Hook] = {}
        self._hook_events: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        app = Starlette(
            routes=[
                Route("/api/v4/applications", self._applications, methods=["GET", "POST"]),
                Route("/api/v4/applications/{id:int}", self._application, methods=["DELETE"]),
                Route("/api/v4/applications/{id:int}/renew-secret", self._renew, methods=["POST"]),
                Route("/api/v4/hooks", self._hooks, methods=["GET", "POST"]),
                Route("/api/v4/hooks/{id:int}", self._hook, methods=["DELETE"]),
                Mount("/api/v1", app=self.kubernetes.app),
                Mount("/", app=self.gitlab.app),
            ]
        )
        # Same loopback server as the plain double, serving the admin routes in front of it.
        self._server.config.app = app

    def _admin(self, request: Request) -> None:
        self.calls.append((request.method, request.url.path.removeprefix("/api/v4")))
        user = self.gitlab._user(request)
        if user is None:
            raise ApiError(401, "401 Unauthorized")
        if not user.admin:
            raise ApiError(403, "403 Forbidden")

    @staticmethod
    async def _form(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        return dict(await request.form())

    @staticmethod
    def _public(app: dict[str, Any]) -> dict[str, Any]:
        return {k: app[k] for k in ("id", "application_id", "application_name", "callback_url")} | {
            "confidential": app["confidential"]
        }

    async def _applications(self, request: Request) -> Response:
        try:
            self._admin(request)
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)
        if request.method == "GET":  # GitLab never lists secrets
            return JSONResponse([self._public(app) for app in self.applications])
        form = await self._form(request)
        app = {
            "id": next(self._ids),
            "application_id": secrets.token_hex(16),
            "application_name": form["name"],
            "callback_url": form["redirect_uri"],
            "confidential": str(form.get("confidential", True)).lower() in ("true", "1"),
            "scopes": str(form["scopes"]).split(),
            "secret": "gloas-" + secrets.token_hex(16),
        }
        self.applications.append(app)
        return JSONResponse(self._public(app) | {"secret": app["secret"]}, 201)

    def _find(self, app_id: int) -> dict[str, Any]:
        for app in self.applications:
            if app["id"] == app_id:
                return app
        raise ApiError(404, "404 Not found")

    async def _application(self, request: Request) -> Response:
        try:
            self._admin(request)
            self.applications.remove(self._find(request.path_params["id"]))
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)
        return Response(status_code=204)

    async def _renew(self, request: Request) -> Response:
        try:
            self._admin(request)
            app = self._find(request.path_params["id"])
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)
        app["secret"] = "gloas-" + secrets.token_hex(16)
        return JSONResponse(self._public(app) | {"secret": app["secret"]}, 201)

    def _hook_json(self, number: int, hook: Hook) -> dict[str, Any]:
        return {"id": number, "url": hook.url, **self._hook_events.get(number, {})}

    async def _hooks(self, request: Request) -> Response:
        try:
            self._admin(request)
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)
        if request.method == "GET":
            return JSONResponse([self._hook_json(i, h) for i, h in self.system_hooks.items()])
        form = await self._form(request)
        hook = self.state.add_hook(str(form["url"]), token=form.get("token"))
        number = next(self._ids)
        self.system_hooks[number] = hook
        self._hook_events[number] = {k: v for k, v in form.items() if k.endswith("_events")}
        return JSONResponse(self._hook_json(number, hook), 201)

    async def _hook(self, request: Request) -> Response:
        try:
            self._admin(request)
            hook = self.system_hooks.pop(request.path_params["id"], None)
            if hook is None:
                raise ApiError(404, "404 Not found")
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)
        with self.state.lock:
            self.state.hooks.remove(hook)
        return Response(status_code=204)


class KubernetesDouble:
    """``/api/v1/namespaces/<ns>/secrets``: the Secret calls of the setup Job, token-checked.

    An ASGI app (``app``), served under ``/api/v1`` of an ``AdminGitLab``: point the Job's
    ``--kube-api-url`` at the same base URL.

    Attributes
    ----------
    secrets
        ``(namespace, name) -> Secret manifest`` (``data`` base64-encoded, as the API stores it).
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        base = "/namespaces/{ns}/secrets"
        self.app = Starlette(
            routes=[
                Route(base, self._collection, methods=["POST"]),
                Route(base + "/{name}", self._item, methods=["GET", "PUT"]),
            ]
        )

    def _denied(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"kind": "Status", "code": 401}, 401)
        return None

    async def _collection(self, request: Request) -> Response:
        if denied := self._denied(request):
            return denied
        body = await request.json()
        key = (request.path_params["ns"], body["metadata"]["name"])
        if key in self.secrets:
            return JSONResponse({"kind": "Status", "code": 409}, 409)
        self.secrets[key] = body
        return JSONResponse(body, 201)

    async def _item(self, request: Request) -> Response:
        if denied := self._denied(request):
            return denied
        key = (request.path_params["ns"], request.path_params["name"])
        if request.method == "GET":
            if key not in self.secrets:
                return JSONResponse({"kind": "Status", "code": 404}, 404)
            return JSONResponse(self.secrets[key])
        if key not in self.secrets:
            return JSONResponse({"kind": "Status", "code": 404}, 404)
        self.secrets[key] = await request.json()
        return JSONResponse(self.secrets[key])
