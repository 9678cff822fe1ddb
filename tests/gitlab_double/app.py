"""The HTTP side of the GitLab test double: a Starlette app speaking GitLab REST v4.

Only what the platform uses is implemented, each following GitLab's documented behaviour:
authentication by ``PRIVATE-TOKEN`` / ``Authorization: Bearer`` (an unknown token is a 401 on
every route), visibility rules (an invisible project is a 404, repository reads by guests
of a private project a 403), offset pagination headers (``X-Total``, ``X-Next-Page``,
``Link``...) and keyset pagination (``pagination=keyset``) for projects and trees.

Publishing uses the write side: ``GET /namespaces/:id``, ``GET /groups/:id/members/all/:uid``,
``POST /projects``, ``PUT /projects/:id``, ``POST /projects/:id/repository/commits`` (actions
``create``/``update``/``delete``, ``text``/``base64`` encoding, all-or-nothing), and the Git LFS
batch API outside ``/api/v4``: ``POST /<path>.git/info/lfs/objects/batch`` (HTTP Basic with a
token as password) answering upload actions ``PUT /<path>.git/gitlab-lfs/objects/<oid>/<size>``
for objects the project does not have yet. Every write step can be made to fail on demand
(``GitLabState.fail``), before or after it takes effect.

Paths keep their URL encoding until routing (``group%2Fproject`` is one project id), so the
app dispatches on the raw path itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.gitlab_double.archive import repository_archive
from tests.gitlab_double.model import (
    DEVELOPER,
    MAINTAINER,
    OWNER,
    VISIBILITIES,
    GitLabState,
    Group,
    Project,
    User,
    blob_id,
)
from tests.gitlab_double.oauth import OAuthProvider
from tests.gitlab_double.pipelines import CIError, CIRunner

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
_POINTER = re.compile(
    rb"^version https://git-lfs.github.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n$"
)
_PROJECT_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ApiError(Exception):
    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


class GitLabApp:
    """Request handling over a ``GitLabState``; ``app`` is the ASGI application."""

    def __init__(self, state: GitLabState) -> None:
        self.state = state
        # (method, decoded path after /api/v4, username or None) of every call, for counting.
        self.requests: list[tuple[str, str, str | None]] = []
        self.web = "http://gitlab.example"
        self._pending_after: dict[str, Any] = {}
        self.oauth = OAuthProvider(state)  # /oauth/authorize, /oauth/token, /oauth/revoke
        self.ci = CIRunner(state)  # pipelines and jobs (see pipelines.py)
        self.app = Starlette(
            routes=[
                *self.oauth.routes,
                Route("/api/v4/{rest:path}", self.dispatch, methods=["GET", "HEAD", "POST", "PUT"]),
                # Git over HTTP: the LFS batch API and its object transfers (publishing).
                Route("/{rest:path}", self.git_dispatch, methods=["POST", "PUT"]),
            ]
        )

    # -- plumbing --------------------------------------------------------------------------

    def _user(self, request: Request) -> User | None:
        token = request.headers.get("private-token")
        auth = request.headers.get("authorization", "")
        if token is None and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if token is None:
            token = request.query_params.get("private_token") or request.query_params.get(
                "access_token"
            )
        if token is None or token == "":
            return None
        user = self.state.user_for_token(token)
        if user is None:
            raise ApiError(401, "401 Unauthorized")
        if user.state == "blocked":
            raise ApiError(403, "403 Forbidden")
        return user

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        raw = raw.split("?", 1)[0]
        parts = [unquote(p) for p in raw.split("/")[3:] if p != ""]  # after /api/v4
        self.web = str(request.base_url).rstrip("/")
        try:
            user = self._user(request)
            self.requests.append((request.method, "/".join(parts), user and user.username))
            if request.method in ("POST", "PUT"):
                body = await self._body(request)
                with self.state.lock:
                    return self._write(request, user, parts, body)
            with self.state.lock:
                return self._route(request, user, parts)
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        """JSON or form parameters, as python-gitlab and curl send them."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data = await request.json()
            except ValueError:
                raise ApiError(400, "400 Bad request - invalid JSON") from None
            if not isinstance(data, dict):
                raise ApiError(400, "400 Bad request - expected an object")
            return data
        form = await request.form()
        return {key: form.getlist(key) if key.endswith("[]") else form[key] for key in form}

    def _route(self, request: Request, user: User | None, parts: list[str]) -> Response:
        match parts:
            case ["namespaces"]:
                return self._page(request, self._namespaces(user))
            case ["namespaces", ref]:
                return JSONResponse(self._namespace(user, ref))
            case ["groups", ref, "members", "all", user_id]:
                group = self._group_visible(user, ref)
                for name, level in group.members.items():
                    member = self.state.users.get(name)
                    if member is not None and str(member.id) == user_id:
                        return JSONResponse({**self._user_json(member), "access_level": level})
                raise ApiError(404, "404 Not found")
            case ["user"]:
                if user is None:
                    raise ApiError(401, "401 Unauthorized")
                return JSONResponse(self._user_json(user, full=True))
            case ["users"]:
                wanted = request.query_params.get("username")
                users = [u for u in self.state.users.values() if wanted in (None, u.username)]
                return self._page(request, [self._user_json(u) for u in users])
            case ["projects"]:
                return self._projects(request, user)
            case ["topics"]:
                return self._topics(request)
            case ["projects", ref]:
                project = self._visible(user, ref)
                return JSONResponse(self._project_json(project, user))
            case ["projects", ref, "members"] | ["projects", ref, "members", "all"]:
                project = self._visible(user, ref)
                members = [
                    {**self._user_json(self.state.users[name]), "access_level": level}
                    for name, level in sorted(project.members.items())
                    if name in self.state.users
                ]
                return self._page(request, members)
            case ["projects", ref, "repository", "tree"]:
                return self._tree(request, self._code(user, ref))
            case ["projects", ref, "repository", "files", file_path]:
                return self._file(request, self._code(user, ref), file_path)
            case ["projects", ref, "repository", "files", file_path, "raw"]:
                return self._raw(request, self._code(user, ref), file_path)
            case ["projects", ref, "repository", "commits"]:
                project = self._code(user, ref)
                return self._page(request, self._history_json(project))
            case ["projects", ref, "repository", "commits", sha]:
                project = self._code(user, ref)
                if sha not in (project.commit_sha, project.commit_sha[:8], project.default_branch):
                    raise ApiError(404, "404 Commit Not Found")
                return JSONResponse(self._commit_json(project))
            case ["projects", ref, "repository", name] if name.startswith("archive"):
                return repository_archive(request, self._code(user, ref), name)
            case ["projects", ref, ("pipelines" | "jobs"), *_]:
                return self._ci_read(request, self._code(user, ref), parts[2:])
        raise ApiError(404, "404 Not Found")

    # -- publishing: namespaces, project writes, commits ------------------------------------

    def _namespace_json(self, group: Group | None, user: User | None = None) -> dict[str, Any]:
        if group is not None:
            parent = self.state.group(group.path.rsplit("/", 1)[0]) if "/" in group.path else None
            return {
                "id": group.id,
                "name": group.name,
                "path": group.path.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": group.path,
                "parent_id": parent.id if parent else None,
                "avatar_url": None,
                "web_url": f"{self.web}/groups/{group.path}",
            }
        assert user is not None
        return {
            "id": self.state.user_namespace_id(user),
            "name": user.name,
            "path": user.username,
            "kind": "user",
            "full_path": user.username,
            "parent_id": None,
            "avatar_url": None,
            "web_url": f"{self.web}/{user.username}",
        }

    def _namespaces(self, user: User | None) -> list[dict[str, Any]]:
        """The namespaces of the authenticated user (all of them for an admin)."""
        if user is None:
            raise ApiError(401, "401 Unauthorized")
        rows = [self._namespace_json(None, user)]
        for group in sorted(self.state.groups.values(), key=lambda g: g.id):
            if user.admin or user.username in group.members:
                rows.append(self._namespace_json(group))
        return rows

    def _namespace(self, user: User | None, ref: str) -> dict[str, Any]:
        if user is None:
            raise ApiError(401, "401 Unauthorized")
        for row in self._namespaces(user):
            if ref in (str(row["id"]), row["full_path"]):
                return row
        raise ApiError(404, "404 Namespace Not Found")

    def _group_visible(self, user: User | None, ref: str) -> Group:
        group = self.state.group(ref)
        if group is None:
            raise ApiError(404, "404 Group Not Found")
        if group.visibility == "private" and not (
            user is not None and (user.admin or user.username in group.members)
        ):
            raise ApiError(404, "404 Group Not Found")
        return group

    def _failure(self, step: str, *, after: bool) -> None:
        failure = self.state.failure_for(step) if not after else None
        if after:
            failure = self._pending_after.pop(step, None)
        elif failure is not None and failure.after:
            self._pending_after[step] = failure
            return
        if failure is not None:
            raise ApiError(failure.status, f"{failure.status} injected failure of {step}")

    def _write(
        self, request: Request, user: User | None, parts: list[str], body: dict[str, Any]
    ) -> Response:
        if user is None:
            raise ApiError(401, "401 Unauthorized")
        match request.method, parts:
            case "POST", ["projects"]:
                return self._create_project(user, body)
            case "PUT", ["projects", ref]:
                return self._update_project(user, ref, body)
            case "POST", ["projects", ref, "repository", "commits"]:
                return self._create_commit(user, ref, body)
            case "POST", ["projects", ref, "pipeline"]:
                try:
                    created = self.ci.create(self.web, user, self._visible(user, ref), body)
                except CIError as error:
                    raise ApiError(error.status, error.message) from None
                return JSONResponse(created, 201)
        raise ApiError(404, "404 Not Found")

    def _ci_read(self, request: Request, project: Project, rest: list[str]) -> Response:
        """GET pipelines/:id, pipelines/:id/jobs, jobs/:id, jobs/:id/trace (pipelines.py)."""
        try:
            match rest:
                case ["pipelines", pipeline_id]:
                    pipeline = self.ci.pipeline(project, pipeline_id)
                    return JSONResponse(self.ci.pipeline_json(self.web, pipeline))
                case ["pipelines", pipeline_id, "jobs"]:
                    pipeline = self.ci.pipeline(project, pipeline_id)
                    jobs = [self.ci.job_json(self.web, pipeline, job) for job in pipeline.jobs]
                    return self._page(request, jobs)
                case ["jobs", job_id]:
                    return JSONResponse(self.ci.job_json(self.web, *self.ci.job(project, job_id)))
                case ["jobs", job_id, "trace"]:
                    _, job = self.ci.job(project, job_id)
                    return Response(job.trace, media_type="text/plain")
        except CIError as error:
            raise ApiError(error.status, error.message) from None
        raise ApiError(404, "404 Not Found")

    def _create_project(self, user: User, body: dict[str, Any]) -> Response:
        self._failure("create_project", after=False)
        name = str(body.get("name") or "")
        leaf = str(body.get("path") or name.lower().replace(" ", "-"))
        if not leaf or not _PROJECT_PATH.match(leaf):
            raise ApiError(400, {"path": ["can contain only letters, digits, '_', '-' and '.'"]})
        namespace_id = str(body.get("namespace_id") or self.state.user_namespace_id(user))
        if namespace_id == str(self.state.user_namespace_id(user)):
            namespace, group = user.username, None
        else:
            group = self.state.group(namespace_id)
            if group is None and user.admin:
                owner = next(
                    (u for u in self.state.users.values()
                     if str(self.state.user_namespace_id(u)) == namespace_id),
                    None,
                )  # fmt: skip
                if owner is None:
                    raise ApiError(404, "404 Namespace Not Found")
                namespace = owner.username
            elif group is None:
                raise ApiError(404, "404 Namespace Not Found")
            else:
                namespace = group.path
                if not user.admin and group.members.get(user.username, 0) < DEVELOPER:
                    raise ApiError(403, "403 Forbidden")
        path = f"{namespace}/{leaf}"
        if self.state.project(path) is not None:
            raise ApiError(
                400, {"name": ["has already been taken"], "path": ["has already been taken"]}
            )
        visibility = str(body.get("visibility") or "private")
        if visibility not in VISIBILITIES:
            raise ApiError(400, "visibility does not have a valid value")
        topics = body.get("topics") or body.get("topics[]") or []
        if isinstance(topics, str):
            topics = [t.strip() for t in topics.split(",") if t.strip()]
        project = Project(
            path,
            visibility=visibility,
            topics=list(topics),
            name=name or leaf,
            description=str(body.get("description") or ""),
            members={user.username: OWNER if group is None else MAINTAINER},
            lfs_enabled=_flag(str(body.get("lfs_enabled", "true"))),
        )
        self.state.add_project(project, empty=True)
        self._failure("create_project", after=True)
        return JSONResponse(self._project_json(project, user), 201)

    def _update_project(self, user: User, ref: str, body: dict[str, Any]) -> Response:
        project = self._visible(user, ref)
        if not user.admin and self.state.access_level(user, project) < MAINTAINER:
            raise ApiError(403, "403 Forbidden")
        self._failure("update_project", after=False)
        changes: dict[str, Any] = {}
        if "topics" in body or "topics[]" in body:
            topics = body.get("topics", body.get("topics[]")) or []
            if isinstance(topics, str):
                topics = [t.strip() for t in topics.split(",") if t.strip()]
            changes["topics"] = list(topics)
        if "description" in body:
            changes["description"] = str(body["description"])
        if "visibility" in body:
            if body["visibility"] not in VISIBILITIES:
                raise ApiError(400, "visibility does not have a valid value")
            changes["visibility"] = body["visibility"]
        if "name" in body:
            changes["name"] = str(body["name"])
        if changes:
            self.state.update_project(project.path, **changes)
        self._failure("update_project", after=True)
        return JSONResponse(self._project_json(project, user))

    def _create_commit(self, user: User, ref: str, body: dict[str, Any]) -> Response:
        project = self._visible(user, ref)
        if not user.admin and self.state.access_level(user, project) < DEVELOPER:
            raise ApiError(403, "403 Forbidden")
        branch = body.get("branch")
        message = body.get("commit_message")
        actions = body.get("actions")
        if not branch or not message or not isinstance(actions, list) or not actions:
            raise ApiError(400, "branch, commit_message, actions are missing")
        if branch != project.default_branch:
            raise ApiError(400, "You can only commit to the default branch in this double")
        self._failure("commit", after=False)
        files = dict(project.files)
        lfs = set(project.lfs)
        done: list[tuple[str, str]] = []
        for number, action in enumerate(actions):
            kind, path = action.get("action"), action.get("file_path")
            if kind not in ("create", "update", "delete") or not isinstance(path, str) or not path:
                raise ApiError(400, f"actions[{number}] is invalid")
            if kind == "create" and path in files:
                raise ApiError(400, "A file with this name already exists")
            if kind in ("update", "delete") and path not in files:
                raise ApiError(400, "A file with this name doesn't exist")
            if kind == "delete":
                files.pop(path)
                lfs.discard(path)
            else:
                data = self._decode(action, number)
                pointer = _POINTER.match(data)
                if pointer and pointer[1].decode() in project.lfs_objects:
                    files[path] = project.lfs_objects[pointer[1].decode()]
                    lfs.add(path)
                else:
                    files[path] = data
                    lfs.discard(path)
            done.append((kind, path))
        project.files, project.lfs = files, lfs
        self.state.commit(project, str(message), done)
        self._failure("commit", after=True)
        history = self._history_json(project)
        return JSONResponse({**history[0], "stats": {"total": len(done)}}, 201)

    @staticmethod
    def _decode(action: dict[str, Any], number: int) -> bytes:
        content = action.get("content") or ""
        if not isinstance(content, str):
            raise ApiError(400, f"actions[{number}][content] is invalid")
        encoding = action.get("encoding") or "text"
        if encoding == "text":
            return content.encode()
        if encoding == "base64":
            try:
                return base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, f"actions[{number}][content] is not base64") from None
        raise ApiError(400, f"actions[{number}][encoding] does not have a valid value")

    def _history_json(self, project: Project) -> list[dict[str, Any]]:
        rows = []
        for commit in reversed(project.history):
            rows.append(
                {
                    **self._commit_json(project),
                    "id": commit["id"],
                    "short_id": commit["id"][:8],
                    "title": commit["message"].splitlines()[0],
                    "message": commit["message"],
                    "web_url": f"{self.web}/{project.path}/-/commit/{commit['id']}",
                }
            )
        return rows

    # -- Git LFS (outside /api/v4) ---------------------------------------------------------

    def _lfs_user(self, request: Request) -> User | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            username, _, token = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "HTTP Basic: Access denied") from None
        user = self.state.user_for_token(token)
        if user is None or username not in (user.username, "oauth2"):
            raise ApiError(401, "HTTP Basic: Access denied")
        return user

    async def git_dispatch(self, request: Request) -> Response:
        path = request.url.path.lstrip("/")
        self.web = str(request.base_url).rstrip("/")
        try:
            user = self._lfs_user(request)
            self.requests.append((request.method, path, user and user.username))
            repo, sep, rest = path.partition(".git/")
            if not sep:
                raise ApiError(404, "Not Found")
            if request.method == "POST" and rest == "info/lfs/objects/batch":
                body = await request.json()
                with self.state.lock:
                    return self._lfs_batch(request, user, repo, body)
            match rest.split("/"):
                case ["gitlab-lfs", "objects", oid, size] if request.method == "PUT":
                    data = await request.body()
                    with self.state.lock:
                        return self._lfs_upload(user, repo, oid, size, data)
                case ["gitlab-lfs", "objects", oid, size, "verify"] if request.method == "POST":
                    with self.state.lock:
                        return self._lfs_verify(user, repo, oid, size)
            raise ApiError(404, "Not Found")
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status, media_type=LFS_MEDIA_TYPE)

    def _lfs_project(self, user: User | None, repo: str, *, write: bool) -> Project:
        project = self.state.project(repo)
        if project is None or not self.state.can_see(user, project):
            raise ApiError(404, "Not Found")
        if not project.lfs_enabled:
            raise ApiError(501, "Git LFS is not enabled on this GitLab server")
        if write and (
            user is None or (not user.admin and self.state.access_level(user, project) < DEVELOPER)
        ):
            raise ApiError(403, "Access forbidden. Check your access level.")
        return project

    def _lfs_batch(
        self, request: Request, user: User | None, repo: str, body: dict[str, Any]
    ) -> Response:
        operation = body.get("operation")
        if operation not in ("upload", "download"):
            raise ApiError(422, "operation must be upload or download")
        project = self._lfs_project(user, repo, write=operation == "upload")
        self._failure("lfs_batch", after=False)
        base = f"{self.web}/{project.path}.git/gitlab-lfs/objects"
        header = {"Authorization": request.headers.get("authorization", "")}
        objects = []
        for entry in body.get("objects") or []:
            oid, size = str(entry.get("oid")), int(entry.get("size") or 0)
            row: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if operation == "upload":
                if oid not in project.lfs_objects:
                    actions: dict[str, Any] = {
                        "upload": {"href": f"{base}/{oid}/{size}", "header": header,
                                   "expires_in": 3600}
                    }  # fmt: skip
                    if self.state.lfs_verify:
                        actions["verify"] = {
                            "href": f"{base}/{oid}/{size}/verify",
                            "header": header,
                            "expires_in": 3600,
                        }
                    row["actions"] = actions
            elif oid in project.lfs_objects:
                row["actions"] = {"download": {"href": f"{base}/{oid}", "header": header}}
            else:
                row["error"] = {"code": 404, "message": "Object does not exist on the server"}
            objects.append(row)
        self._failure("lfs_batch", after=True)
        return Response(
            json.dumps({"transfer": "basic", "objects": objects}), media_type=LFS_MEDIA_TYPE
        )

    def _lfs_upload(
        self, user: User | None, repo: str, oid: str, size: str, data: bytes
    ) -> Response:
        project = self._lfs_project(user, repo, write=True)
        self._failure("lfs_upload", after=False)
        if hashlib.sha256(data).hexdigest() != oid or str(len(data)) != size:
            raise ApiError(422, "Unprocessable Entity: the content does not match oid/size")
        project.lfs_objects[oid] = data
        self._failure("lfs_upload", after=True)
        return Response(status_code=200)

    def _lfs_verify(self, user: User | None, repo: str, oid: str, size: str) -> Response:
        project = self._lfs_project(user, repo, write=True)
        self._failure("lfs_verify", after=False)
        stored = project.lfs_objects.get(oid)
        if stored is None or str(len(stored)) != size:
            raise ApiError(404, "Object does not exist on the server")
        self._failure("lfs_verify", after=True)
        return Response(status_code=200)

    def _visible(self, user: User | None, ref: str) -> Project:
        project = self.state.project(ref)
        if project is None or not self.state.can_see(user, project):
            raise ApiError(404, "404 Project Not Found")
        return project

    def _code(self, user: User | None, ref: str) -> Project:
        project = self._visible(user, ref)
        if not self.state.can_read_code(user, project):
            raise ApiError(403, "403 Forbidden")
        return project

    def _check_ref(self, request: Request, project: Project, *, required: bool = False) -> None:
        ref = request.query_params.get("ref")
        if ref is None and required:
            raise ApiError(400, "ref is missing")
        if ref not in (None, "", project.default_branch, project.commit_sha, "HEAD"):
            raise ApiError(404, "404 Commit Not Found")

    # -- pagination ------------------------------------------------------------------------

    def _per_page(self, request: Request) -> int:
        try:
            per_page = int(request.query_params.get("per_page", DEFAULT_PER_PAGE))
        except ValueError:
            raise ApiError(400, "per_page is invalid") from None
        return max(1, min(per_page, MAX_PER_PAGE))

    def _page(self, request: Request, rows: Sequence[Any]) -> Response:
        """Offset pagination with GitLab's headers."""
        per_page = self._per_page(request)
        try:
            page = max(1, int(request.query_params.get("page", 1)))
        except ValueError:
            raise ApiError(400, "page is invalid") from None
        total = len(rows)
        pages = max(1, -(-total // per_page))
        chunk = list(rows[(page - 1) * per_page : page * per_page])

        def url(number: int) -> str:
            query = {**request.query_params, "page": str(number), "per_page": str(per_page)}
            return f"{str(request.url).split('?', 1)[0]}?{urlencode(query)}"

        links = []
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(pages)}>; rel="last"')
        headers = {
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Per-Page": str(per_page),
            "X-Page": str(page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(links),
        }
        return JSONResponse(chunk, headers=headers)

    def _keyset(
        self, request: Request, rows: Sequence[Any], key: Callable[[Any], str], param: str
    ) -> Response:
        """Keyset pagination: a ``Link: rel="next"`` carrying the cursor, no totals."""
        per_page = self._per_page(request)
        cursor = request.query_params.get(param)
        start = 0
        if cursor:
            keys = [key(row) for row in rows]
            if cursor not in keys:
                raise ApiError(400, f"{param} is invalid")
            start = keys.index(cursor) + 1
        chunk = list(rows[start : start + per_page])
        headers = {"X-Per-Page": str(per_page)}
        if start + per_page < len(rows) and chunk:
            query = {**request.query_params, param: key(rows[start + per_page - 1])}
            next_url = f"{str(request.url).split('?', 1)[0]}?{urlencode(query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    # -- projects --------------------------------------------------------------------------

    def _projects(self, request: Request, user: User | None) -> Response:
        params = request.query_params
        projects = [p for p in self.state.projects.values() if self.state.can_see(user, p)]
        if user is not None and (_flag(params.get("membership")) or params.get("min_access_level")):
            minimum = int(params.get("min_access_level") or 1)
            projects = [p for p in projects if self.state.access_level(user, p) >= minimum]
        elif user is None and (_flag(params.get("membership")) or params.get("min_access_level")):
            projects = []
        if _flag(params.get("starred")):
            starred = user.starred if user is not None else set()
            projects = [p for p in projects if p.path in starred]
        if params.get("visibility"):
            projects = [p for p in projects if p.visibility == params["visibility"]]
        if params.get("topic"):
            wanted = {t.strip() for t in params["topic"].split(",") if t.strip()}
            projects = [p for p in projects if wanted <= set(p.topics)]
        if params.get("search"):
            needle = params["search"].lower()
            projects = [
                p
                for p in projects
                if needle in p.name.lower()
                or needle in p.path.lower()
                or needle in p.description.lower()
            ]
        order_by = params.get("order_by", "created_at")
        keys: dict[str, Callable[[Project], Any]] = {
            "id": lambda p: p.id,
            "name": lambda p: p.name,
            "path": lambda p: p.path,
            "created_at": lambda p: (p.created_at, p.id),
            "updated_at": lambda p: (p.last_activity_at, p.id),
            "last_activity_at": lambda p: (p.last_activity_at, p.id),
            "star_count": lambda p: (p.star_count, p.id),
        }
        if order_by not in keys:
            raise ApiError(400, "order_by does not have a valid value")
        projects.sort(key=keys[order_by], reverse=params.get("sort", "desc") == "desc")
        simple = _flag(params.get("simple"))
        rows = [self._project_json(p, user, simple=simple) for p in projects]
        if params.get("pagination") == "keyset":
            if order_by != "id":
                raise ApiError(405, "405 Method Not Allowed")
            return self._keyset(request, rows, lambda r: str(r["id"]), "id_after")
        return self._page(request, rows)

    def _project_json(
        self, project: Project, user: User | None, *, simple: bool = False
    ) -> dict[str, Any]:
        namespace = project.namespace
        web_url = f"{self.web}/{project.path}"
        body: dict[str, Any] = {
            "id": project.id,
            "description": project.description,
            "name": project.name,
            "name_with_namespace": " / ".join([*namespace.split("/"), project.name])
            if namespace
            else project.name,
            "path": project.path.rsplit("/", 1)[-1],
            "path_with_namespace": project.path,
            "created_at": _iso(project.created_at),
            "default_branch": project.default_branch,
            "tag_list": list(project.topics),
            "topics": list(project.topics),
            "ssh_url_to_repo": f"git@localhost:{project.path}.git",
            "http_url_to_repo": f"{web_url}.git",
            "web_url": web_url,
            "readme_url": f"{web_url}/-/blob/{project.default_branch}/README.md"
            if "README.md" in project.files
            else None,
            "avatar_url": None,
            "forks_count": 0,
            "star_count": project.star_count,
            "last_activity_at": _iso(project.last_activity_at),
            "namespace": self._project_namespace(namespace),
        }
        if simple:
            return body
        body.update(
            {
                "visibility": project.visibility,
                "empty_repo": not project.history,
                "archived": False,
                "lfs_enabled": project.lfs_enabled,
                "_links": {"self": f"{self.web}/api/v4/projects/{project.id}"},
            }
        )
        if user is not None:
            level = project.members.get(user.username, 0)
            group = self.state.group(namespace) if namespace else None
            inherited = group.members.get(user.username, 0) if group is not None else 0
            body["permissions"] = {
                "project_access": {"access_level": level, "notification_level": 3}
                if level
                else None,
                "group_access": {"access_level": inherited, "notification_level": 3}
                if inherited
                else None,
            }
        return body

    def _project_namespace(self, namespace: str) -> dict[str, Any]:
        group = self.state.group(namespace) if namespace else None
        if group is not None:
            return self._namespace_json(group)
        owner = self.state.users.get(namespace)
        if owner is not None:
            return self._namespace_json(None, owner)
        return {
            "id": abs(hash(namespace)) % 100000,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": namespace,
        }

    def _topics(self, request: Request) -> Response:
        counts: dict[str, int] = {}
        for project in self.state.projects.values():
            for topic in project.topics:
                counts[topic] = counts.get(topic, 0) + 1
        search = (request.query_params.get("search") or "").lower()
        rows = [
            {
                "id": int(hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:6], 16),
                "name": name,
                "title": name,
                "description": None,
                "total_projects_count": count,
                "avatar_url": None,
            }
            for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if search in name.lower()
        ]
        return self._page(request, rows)

    # -- repository ------------------------------------------------------------------------

    def _tree(self, request: Request, project: Project) -> Response:
        self._check_ref(request, project)
        base = (request.query_params.get("path") or "").strip("/")
        recursive = _flag(request.query_params.get("recursive"))
        entries: dict[str, dict[str, Any]] = {}
        for file_path in sorted(project.files):
            if base and not file_path.startswith(base + "/"):
                continue
            relative = file_path[len(base) + 1 :] if base else file_path
            parts = relative.split("/")
            prefix = base
            for depth, part in enumerate(parts):
                full = f"{prefix}/{part}" if prefix else part
                is_blob = depth == len(parts) - 1
                if full not in entries:
                    entries[full] = {
                        "id": blob_id(project, full)
                        if is_blob
                        else hashlib.sha1(full.encode(), usedforsecurity=False).hexdigest(),
                        "name": part,
                        "type": "blob" if is_blob else "tree",
                        "path": full,
                        "mode": "100644" if is_blob else "040000",
                    }
                if not recursive:
                    break
                prefix = full
        if base and not entries:
            raise ApiError(404, "404 Tree Not Found")
        # GitLab lists trees before blobs at each level; a stable path order is enough here.
        rows = sorted(entries.values(), key=lambda e: (e["type"] != "tree", e["path"]))
        if request.query_params.get("pagination") == "keyset":
            return self._keyset(request, rows, lambda r: str(r["path"]), "page_token")
        return self._page(request, rows)

    def _file(self, request: Request, project: Project, file_path: str) -> Response:
        self._check_ref(request, project, required=True)
        if file_path not in project.files:
            raise ApiError(404, "404 File Not Found")
        stored = project.stored(file_path)
        return JSONResponse(
            {
                "file_name": file_path.rsplit("/", 1)[-1],
                "file_path": file_path,
                "size": len(stored),
                "encoding": "base64",
                "content": base64.b64encode(stored).decode(),
                "content_sha256": hashlib.sha256(stored).hexdigest(),
                "ref": request.query_params["ref"],
                "blob_id": blob_id(project, file_path),
                "commit_id": project.commit_sha,
                "last_commit_id": project.commit_sha,
                "execute_filemode": False,
            }
        )

    def _raw(self, request: Request, project: Project, file_path: str) -> Response:
        self._check_ref(request, project)
        if file_path not in project.files:
            raise ApiError(404, "404 File Not Found")
        lfs = _flag(request.query_params.get("lfs"))
        data = project.content(file_path) if lfs else project.stored(file_path)
        name = file_path.rsplit("/", 1)[-1]
        return Response(
            data,
            media_type="text/plain; charset=utf-8",
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "X-Gitlab-File-Name": name,
                "X-Gitlab-File-Path": file_path,
                "X-Gitlab-Ref": request.query_params.get("ref", project.default_branch),
                "X-Gitlab-Blob-Id": blob_id(project, file_path),
                "X-Gitlab-Commit-Id": project.commit_sha,
                "X-Gitlab-Size": str(len(data)),
            },
        )

    def _commit_json(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.commit_sha,
            "short_id": project.commit_sha[:8],
            "title": project.commit_message.splitlines()[0],
            "message": project.commit_message,
            "author_name": "Root",
            "author_email": "root@example.org",
            "authored_date": _iso(project.last_activity_at),
            "committed_date": _iso(project.last_activity_at),
            "created_at": _iso(project.last_activity_at),
            "parent_ids": [],
            "web_url": f"{self.web}/{project.path}/-/commit/{project.commit_sha}",
        }

    def _user_json(self, user: User, *, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "state": user.state,
            "avatar_url": None,
            "web_url": f"{self.web}/{user.username}",
        }
        if full:
            body.update({"email": user.email, "is_admin": user.admin, "external": user.external})
        return body
