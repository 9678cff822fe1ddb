"""Publishing to GitLab with python-gitlab: project, topics, one commit, Git LFS batch uploads.

GitLab REST v4 calls used (all documented GitLab API): ``GET /user``, ``GET /projects/:id``,
``GET /namespaces/:id``, ``GET /groups/:id/members/all/:user_id``, ``POST /projects``,
``PUT /projects/:id``, ``GET /projects/:id/repository/tree``, ``GET .../files/:path/raw``,
``POST /projects/:id/repository/commits`` (actions, base64). Large files use the Git LFS batch
API at ``<project>.git/info/lfs/objects/batch`` (HTTP Basic with the token), then the upload
and, when given, verify actions it returns. Objects the server already has get no upload
action, which is what makes an interrupted upload resumable.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

import httpx

from ..errors import (
    AuthenticationError,
    ConflictError,
    MLOpsError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamError,
)
from .files import PlannedFile
from .targets import ByteProgress, ProjectSpec, RemoteProject

log = logging.getLogger(__name__)

DEVELOPER = 30
MAINTAINER = 40
ROLE_NAMES = {
    0: "no role",
    10: "Guest",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
}
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
T = TypeVar("T")


def _shifted(progress: ByteProgress, base: int, total: int, sent: int) -> None:
    progress(base + sent, total)


def _gitlab_error(step: str, error: Exception) -> MLOpsError:
    """A typed error for a python-gitlab failure, naming the step; never the response body."""
    import gitlab.exceptions as gle

    code = getattr(error, "response_code", None)
    if isinstance(error, gle.GitlabAuthenticationError) or code == 401:
        return AuthenticationError(f"GitLab refused the token while {step}.")
    if code == 403:
        return PermissionDeniedError(f"GitLab denied {step}.")
    if code == 404:
        return NotFoundError(f"GitLab found nothing while {step}.")
    if code is None:
        return UpstreamError(f"Could not reach GitLab while {step}.", reason="unreachable")
    return UpstreamError(f"GitLab failed while {step} (HTTP {code}); rerun to resume.")


class GitLabTarget:
    """Publish into a GitLab instance.

    Parameters
    ----------
    url
        GitLab base URL.
    token
        The user's GitLab token (personal access or OAuth token; sent as a Bearer token).
    catalog_url
        SharingHub base URL that catalogs this GitLab, for the item link of the result.
    """

    kind = "gitlab"

    def __init__(
        self, url: str, token: str | None, catalog_url: str | None = None, timeout: float = 60.0
    ) -> None:
        import gitlab

        if not token:
            raise AuthenticationError(
                "Publishing to GitLab needs your GitLab token: log in from the MLOps panel,"
                " or set GITLAB_TOKEN.",
                reason="token_required",
            )
        self.url = url.rstrip("/")
        self.catalog_url = catalog_url
        self.timeout = timeout
        self._token = token
        self.gl = gitlab.Gitlab(self.url, oauth_token=token, timeout=timeout)
        self._user: Any = None

    def __repr__(self) -> str:
        return f"GitLabTarget({self.url!r})"

    def _call(self, step: str, call: Callable[[], T]) -> T:
        import gitlab.exceptions as gle
        import requests

        try:
            return call()
        except (gle.GitlabError, requests.RequestException) as error:
            raise _gitlab_error(step, error) from None

    @property
    def user(self) -> Any:
        if self._user is None:

            def auth() -> Any:
                self.gl.auth()
                return self.gl.user

            self._user = self._call("checking your token", auth)
        return self._user

    def default_namespace(self) -> str:
        return str(self.user.username)

    # -- permission ------------------------------------------------------------------------

    def _project(self, path: str) -> Any | None:
        import gitlab.exceptions as gle

        try:
            return self.gl.projects.get(path)
        except gle.GitlabGetError as error:
            if error.response_code == 404:
                return None
            raise _gitlab_error(f"reading project {path}", error) from None
        except gle.GitlabError as error:
            raise _gitlab_error(f"reading project {path}", error) from None

    def check_access(self, spec: ProjectSpec) -> bool:
        user = self.user
        admin = bool(getattr(user, "is_admin", False))
        project = self._project(spec.path)
        if project is not None:
            permissions = getattr(project, "permissions", None) or {}
            level = max(
                (permissions.get(kind) or {}).get("access_level", 0)
                for kind in ("project_access", "group_access")
            )
            if not admin and level < MAINTAINER:
                raise PermissionDeniedError(
                    f"Updating {spec.path} needs the Maintainer role (settings and topics);"
                    f" you have {ROLE_NAMES.get(level, level)}.",
                    reason="not_maintainer",
                )
            return True
        namespace = self._namespace(spec.namespace)
        if admin:
            return False
        if namespace.kind == "user":
            if namespace.full_path != user.username:
                raise PermissionDeniedError(
                    f"You cannot create projects in {spec.namespace}, the namespace of another"
                    " user.",
                    reason="namespace_forbidden",
                )
            return False
        level = self._group_level(namespace, user.id)
        if level < DEVELOPER:
            raise PermissionDeniedError(
                f"Creating a project in group {spec.namespace} needs at least the Developer role;"
                f" you have {ROLE_NAMES.get(level, level)}.",
                reason="namespace_forbidden",
            )
        return False

    def _namespace(self, path: str) -> Any:
        import gitlab.exceptions as gle

        try:
            return self.gl.namespaces.get(path)
        except gle.GitlabGetError as error:
            if error.response_code == 404:
                raise NotFoundError(
                    f"Namespace {path} does not exist or you are not a member of it.",
                    reason="namespace_not_found",
                ) from None
            raise _gitlab_error(f"reading namespace {path}", error) from None
        except gle.GitlabError as error:
            raise _gitlab_error(f"reading namespace {path}", error) from None

    def _group_level(self, namespace: Any, user_id: int) -> int:
        import gitlab.exceptions as gle

        group = self.gl.groups.get(namespace.id, lazy=True)
        try:
            member = group.members_all.get(user_id)
        except gle.GitlabGetError as error:
            if error.response_code == 404:
                return 0
            raise _gitlab_error(f"reading your role in {namespace.full_path}", error) from None
        return int(member.access_level)

    # -- project ---------------------------------------------------------------------------

    def ensure_project(self, spec: ProjectSpec) -> RemoteProject:
        import gitlab.exceptions as gle

        project = self._project(spec.path)
        created = False
        if project is None:
            namespace = self._namespace(spec.namespace)
            try:
                project = self.gl.projects.create(
                    {
                        "name": spec.name,
                        "path": spec.path.rsplit("/", 1)[-1],
                        "namespace_id": namespace.id,
                        "description": spec.description,
                        "visibility": spec.visibility,
                        "topics": list(spec.topics),
                        "lfs_enabled": True,
                    }
                )
                created = True
            except gle.GitlabCreateError as error:
                # Taken: a previous run created it and its answer was lost. Use that one.
                project = self._project(spec.path)
                if project is None:
                    if error.response_code == 400:
                        raise ConflictError(
                            f"GitLab refused to create {spec.path}: the name or path is taken"
                            " or invalid.",
                            reason="create_refused",
                        ) from None
                    raise _gitlab_error(f"creating project {spec.path}", error) from None
            except gle.GitlabError as error:
                raise _gitlab_error(f"creating project {spec.path}", error) from None
        updated = [] if created else self._update(project, spec)
        return RemoteProject(
            path=str(project.path_with_namespace),
            id=int(project.id),
            web_url=getattr(project, "web_url", None),
            default_branch=str(getattr(project, "default_branch", None) or "main"),
            created=created,
            updated=updated,
        )

    def _update(self, project: Any, spec: ProjectSpec) -> list[str]:
        topics = list(getattr(project, "topics", None) or [])
        changes: dict[str, Any] = {}
        if not set(spec.topics) <= set(topics):
            changes["topics"] = topics + [t for t in spec.topics if t not in topics]
        if spec.description and project.description != spec.description:
            changes["description"] = spec.description
        if getattr(project, "visibility", spec.visibility) != spec.visibility:
            changes["visibility"] = spec.visibility
        if changes:
            self._call(
                f"updating the settings of {spec.path}",
                lambda: self.gl.http_put(f"/projects/{project.id}", post_data=changes),
            )
        return sorted(changes)

    # -- files -----------------------------------------------------------------------------

    def fingerprint(self, file: PlannedFile) -> str:
        return file.blob_id

    def _ref(self, project: RemoteProject) -> Any:
        return self.gl.projects.get(project.id, lazy=True)

    def current_files(self, project: RemoteProject) -> dict[str, str]:
        import gitlab.exceptions as gle

        handle = self._ref(project)
        try:
            entries = handle.repository_tree(
                recursive=True, ref=project.default_branch, get_all=True
            )
        except gle.GitlabGetError as error:
            if error.response_code == 404:  # empty repository: no tree yet
                return {}
            raise _gitlab_error(f"listing the files of {project.path}", error) from None
        except gle.GitlabError as error:
            raise _gitlab_error(f"listing the files of {project.path}", error) from None
        return {entry["path"]: entry["id"] for entry in entries if entry["type"] == "blob"}

    def read_text(self, project: RemoteProject, path: str) -> str | None:
        handle = self._ref(project)
        data = self._call(
            f"reading {path} of {project.path}",
            lambda: handle.files.raw(file_path=path, ref=project.default_branch),
        )
        return bytes(data).decode("utf-8", errors="replace")

    def commit(
        self,
        project: RemoteProject,
        changes: Sequence[PlannedFile],
        existing: set[str],
        message: str,
    ) -> str | None:
        if not changes:
            return None
        actions = []
        for file in changes:
            stored = file.stored
            try:
                text = stored.decode("utf-8")
                content, encoding = text, "text"
            except UnicodeDecodeError:
                content, encoding = base64.b64encode(stored).decode("ascii"), "base64"
            actions.append(
                {
                    "action": "update" if file.path in existing else "create",
                    "file_path": file.path,
                    "content": content,
                    "encoding": encoding,
                }
            )
        handle = self._ref(project)
        created = self._call(
            f"committing {len(actions)} file(s) to {project.path}",
            lambda: handle.commits.create(
                {"branch": project.default_branch, "commit_message": message, "actions": actions}
            ),
        )
        return str(created.id)

    # -- Git LFS ---------------------------------------------------------------------------

    def _lfs_url(self, project: RemoteProject) -> str:
        handle = self._call(
            f"reading project {project.path}", lambda: self.gl.projects.get(project.id)
        )
        repo = str(handle.http_url_to_repo)
        return repo if repo.endswith(".git") else f"{repo}.git"

    def upload_large(
        self, project: RemoteProject, files: Sequence[PlannedFile], progress: ByteProgress
    ) -> int:
        objects = {file.sha256: file for file in files if file.lfs}
        if not objects:
            return 0
        total = sum(file.size for file in objects.values())
        auth = httpx.BasicAuth(str(self.user.username), self._token)
        headers = {"Accept": LFS_MEDIA_TYPE, "Content-Type": LFS_MEDIA_TYPE}
        batch = {
            "operation": "upload",
            "transfers": ["basic"],
            "ref": {"name": f"refs/heads/{project.default_branch}"},
            "objects": [{"oid": f.sha256, "size": f.size} for f in objects.values()],
            "hash_algo": "sha256",
        }
        done = uploaded = 0
        with httpx.Client(timeout=self.timeout) as client:
            answer = self._lfs(
                "asking GitLab LFS which objects are missing",
                lambda: client.post(
                    f"{self._lfs_url(project)}/info/lfs/objects/batch",
                    json=batch,
                    headers=headers,
                    auth=auth,
                ),
            )
            for entry in answer.json().get("objects") or []:
                file = objects.get(str(entry.get("oid")))
                if file is None:
                    continue
                if entry.get("error"):
                    code = (entry["error"] or {}).get("code")
                    raise UpstreamError(
                        f"GitLab LFS refused {file.path} (code {code}); rerun to resume.",
                        reason="lfs_refused",
                    )
                actions = entry.get("actions") or {}
                upload, verify = actions.get("upload"), actions.get("verify")
                if upload:
                    self._upload(client, file, upload, partial(_shifted, progress, done, total))
                    uploaded += file.size
                if verify:
                    self._verify(client, file, verify, headers)
                done += file.size
                progress(done, total)
        return uploaded

    def _verify(
        self,
        client: httpx.Client,
        file: PlannedFile,
        action: dict[str, Any],
        headers: dict[str, str],
    ) -> None:
        self._lfs(
            f"verifying {file.path} in GitLab LFS",
            lambda: client.post(
                action["href"],
                json={"oid": file.sha256, "size": file.size},
                headers={**headers, **(action.get("header") or {})},
            ),
        )

    def _upload(
        self,
        client: httpx.Client,
        file: PlannedFile,
        action: dict[str, Any],
        progress: Callable[[int], None],
    ) -> None:
        def body() -> Iterator[bytes]:
            sent = 0
            for chunk in file.chunks():
                sent += len(chunk)
                yield chunk
                progress(sent)

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(file.size)}
        headers.update(action.get("header") or {})  # carries its own Authorization
        self._lfs(
            f"uploading {file.path} to GitLab LFS",
            lambda: client.put(action["href"], content=body(), headers=headers),
        )

    @staticmethod
    def _lfs(step: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        try:
            response = call()
        except httpx.HTTPError:
            raise UpstreamError(f"Could not reach GitLab while {step}; rerun to resume.") from None
        if response.status_code == 401:
            raise AuthenticationError(f"GitLab refused the token while {step}.")
        if response.status_code == 403:
            raise PermissionDeniedError(f"GitLab denied {step}.")
        if response.status_code >= 400:
            raise UpstreamError(
                f"GitLab failed while {step} (HTTP {response.status_code}); rerun to resume."
            )
        return response

    def finish(self, project: RemoteProject) -> None:
        # The catalog follows GitLab by itself (push webhook, periodic sync).
        return None
