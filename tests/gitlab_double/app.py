"""The HTTP side of the GitLab test double: a Starlette app speaking GitLab REST v4.

Only what the platform uses is implemented, each following GitLab's documented behaviour:
authentication by ``PRIVATE-TOKEN`` / ``Authorization: Bearer`` (an unknown token is a 401 on
every route), visibility rules (an invisible project is a 404, repository reads by guests
of a private project a 403), offset pagination headers (``X-Total``, ``X-Next-Page``,
``Link``...) and keyset pagination (``pagination=keyset``) for projects and trees.

Paths keep their URL encoding until routing (``group%2Fproject`` is one project id), so the
app dispatches on the raw path itself.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.gitlab_double.model import GitLabState, Project, User, blob_id
from tests.gitlab_double.oauth import OAuthProvider

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
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
        self.oauth = OAuthProvider(state)  # /oauth/authorize, /oauth/token, /oauth/revoke
        self.app = Starlette(
            routes=[
                *self.oauth.routes,
                Route("/api/v4/{rest:path}", self.dispatch, methods=["GET", "HEAD"]),
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
        return user

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        raw = raw.split("?", 1)[0]
        parts = [unquote(p) for p in raw.split("/")[3:] if p != ""]  # after /api/v4
        self.web = str(request.base_url).rstrip("/")
        try:
            user = self._user(request)
            self.requests.append((request.method, "/".join(parts), user and user.username))
            with self.state.lock:
                return self._route(request, user, parts)
        except ApiError as error:
            return JSONResponse({"message": error.message}, error.status)

    def _route(self, request: Request, user: User | None, parts: list[str]) -> Response:
        match parts:
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
                return self._page(request, [self._commit_json(project)])
            case ["projects", ref, "repository", "commits", sha]:
                project = self._code(user, ref)
                if sha not in (project.commit_sha, project.commit_sha[:8], project.default_branch):
                    raise ApiError(404, "404 Commit Not Found")
                return JSONResponse(self._commit_json(project))
        raise ApiError(404, "404 Not Found")

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
            "namespace": {
                "id": abs(hash(namespace)) % 100000,
                "name": namespace.rsplit("/", 1)[-1],
                "path": namespace.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": namespace,
            },
        }
        if simple:
            return body
        body.update(
            {
                "visibility": project.visibility,
                "empty_repo": not project.files,
                "archived": False,
                "_links": {"self": f"{self.web}/api/v4/projects/{project.id}"},
            }
        )
        if user is not None:
            level = self.state.access_level(user, project)
            body["permissions"] = {
                "project_access": {"access_level": level, "notification_level": 3}
                if level
                else None,
                "group_access": None,
            }
        return body

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
            "state": "active",
            "avatar_url": None,
            "web_url": f"{self.web}/{user.username}",
        }
        if full:
            body.update({"email": user.email, "is_admin": user.admin})
        return body
