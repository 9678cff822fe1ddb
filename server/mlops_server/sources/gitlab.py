"""Projects from GitLab (REST v4 through python-gitlab), and per-token memberships.

A service token (``MLOPS_GITLAB_TOKEN``; an administrator's, or one that sees every project to
catalog) reads projects, their full repository tree (keyset-paginated, no 100-file cap) and
README. Downloads stream ``/repository/files/:path/raw?lfs=true`` so LFS pointers resolve to
their content. ``memberships`` asks GitLab, with the caller's own token, which projects it is
a member of (directly, through a group or a group share) and with which role.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote

import gitlab
import gitlab.exceptions
import requests

from mlops_server.access import (
    GITLAB_DEVELOPER,
    GITLAB_GUEST,
    GITLAB_MAINTAINER,
    GITLAB_OWNER,
    GITLAB_REPORTER,
    InvalidToken,
    Membership,
)
from mlops_server.sources.base import (
    Project,
    ProjectFile,
    ProjectFileNotFound,
    ProjectNotFound,
)

log = logging.getLogger(__name__)

README_NAMES = ("README.md", "readme.md")
PER_PAGE = 100
# Roles above guest, lowest first: the ``min_access_level`` listings that resolve a role.
HIGHER_ROLES = (GITLAB_REPORTER, GITLAB_DEVELOPER, GITLAB_MAINTAINER, GITLAB_OWNER)


def _datetime(value: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (a streamed response)."""

    def __init__(
        self, response: requests.Response, on_close: Callable[[], None] | None = None
    ) -> None:
        self._response = response
        self._on_close = on_close
        self._chunks = response.iter_content(chunk_size=1 << 16)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._response.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        super().close()


def _streamed(
    response: requests.Response, name: str, on_close: Callable[[], None] | None = None
) -> ProjectFile:
    """A ProjectFile reading a streamed GitLab response."""
    # requests decodes compressed bodies, so a compressed length would be wrong.
    size = (
        None if response.headers.get("Content-Encoding") else response.headers.get("Content-Length")
    )

    def opener() -> BinaryIO:
        return io.BufferedReader(_ChunkReader(response, on_close))

    return ProjectFile(name=name, size=int(size) if size and size.isdigit() else None, open=opener)


class GitLabSource:
    """A ``ProjectSource`` over a GitLab instance.

    Parameters
    ----------
    url
        GitLab base URL (without ``/api/v4``).
    token
        Service token used to read projects and files.
    timeout
        Seconds for each GitLab call.
    catalog_topics
        When given, only projects carrying one of these topics (the category topics) get
        their tree and README read; the others are indexed with their GitLab metadata only
        (enough for ``/api/check``), which keeps syncs of big instances cheap.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        catalog_topics: frozenset[str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.catalog_topics = catalog_topics
        self._client = self._gitlab(token)

    def _gitlab(self, token: str | None) -> gitlab.Gitlab:
        # oauth_token sends "Authorization: Bearer", which GitLab accepts for PATs too.
        return gitlab.Gitlab(
            self.url,
            oauth_token=token or None,
            timeout=self.timeout,
            keep_base_url=True,
            retry_transient_errors=True,
        )

    # -- projects ------------------------------------------------------------------------

    def iter_projects(self) -> Iterator[Project]:
        listing = self._client.projects.list(
            iterator=True,
            per_page=PER_PAGE,
            pagination="keyset",
            order_by="id",
            sort="asc",
        )
        for summary in listing:
            try:
                yield self._load(summary.asdict())
            except gitlab.exceptions.GitlabError as error:
                log.warning(
                    "skipping project %s: %s", summary.attributes.get("path_with_namespace"), error
                )

    def get_project(self, path: str) -> Project:
        """One project by full path or numeric id (as a string)."""
        try:
            found = self._client.projects.get(path.strip("/"))
        except gitlab.exceptions.GitlabGetError as error:
            raise ProjectNotFound(path) from error
        return self._load(found.asdict())

    def _load(self, data: dict[str, Any]) -> Project:
        project_id = int(data["id"])
        branch = data.get("default_branch") or "main"
        topics = data.get("topics") or data.get("tag_list") or []
        wanted = self.catalog_topics is None or bool(self.catalog_topics & set(topics))
        files = self._files(project_id, branch) if data.get("default_branch") and wanted else []
        readme = None
        for name in README_NAMES:
            if name in files:
                readme = self._text(project_id, name, branch)
                break
        return Project(
            id=project_id,
            name=str(data.get("name") or data["path_with_namespace"].rsplit("/", 1)[-1]),
            path=str(data["path_with_namespace"]),
            description=str(data.get("description") or ""),
            topics=tuple(str(t) for t in topics),
            visibility=str(data.get("visibility") or "private"),
            default_branch=branch,
            created_at=_datetime(data.get("created_at")),
            last_activity_at=_datetime(data.get("last_activity_at")),
            star_count=int(data.get("star_count") or 0),
            readme=readme,
            files=tuple(files),
            web_url=str(data["web_url"]).rstrip("/") if data.get("web_url") else None,
            name_with_namespace=str(data.get("name_with_namespace") or "") or None,
        )

    def _files(self, project_id: int, ref: str) -> list[str]:
        """Every blob of the tree, following keyset pages to the end."""
        try:
            entries = self._client.http_list(
                f"/projects/{project_id}/repository/tree",
                query_data={"recursive": "true", "ref": ref, "pagination": "keyset"},
                per_page=PER_PAGE,
                iterator=True,
            )
            return sorted(e["path"] for e in entries if e.get("type") == "blob")
        except gitlab.exceptions.GitlabHttpError as error:
            if error.response_code == 404:  # empty repository
                return []
            raise

    def _text(self, project_id: int, file_path: str, ref: str) -> str | None:
        try:
            raw = self._client.http_get(
                f"/projects/{project_id}/repository/files/{quote(file_path, safe='')}/raw",
                query_data={"ref": ref, "lfs": "true"},
                raw=True,
            )
        except gitlab.exceptions.GitlabHttpError as error:
            log.warning("cannot read %s of project %d: %s", file_path, project_id, error)
            return None
        assert isinstance(raw, requests.Response)
        return raw.content.decode("utf-8", errors="replace")

    # -- files ---------------------------------------------------------------------------

    def open_file(self, project_path: str, file_path: str, ref: str | None = None) -> ProjectFile:
        """Start streaming a repository file (LFS resolved) at ``ref``."""
        path = f"/projects/{quote(project_path.strip('/'), safe='')}/repository/files/"
        path += f"{quote(file_path, safe='')}/raw"
        query: dict[str, Any] = {"lfs": "true"}
        if ref:
            query["ref"] = ref
        try:
            response = self._client.http_get(path, query_data=query, streamed=True, raw=True)
        except gitlab.exceptions.GitlabHttpError as error:
            if error.response_code in (403, 404):
                raise ProjectFileNotFound(file_path) from error
            raise
        assert isinstance(response, requests.Response)
        return _streamed(response, file_path.rsplit("/", 1)[-1])

    def open_archive(
        self, project_path: str, fmt: str, ref: str | None, token: str | None
    ) -> ProjectFile:
        """Start streaming GitLab's archive of the repository (LFS objects included) at
        ``ref``, read with the caller's own token (anonymously when None)."""
        client = self._gitlab(token)
        path = f"/projects/{quote(project_path.strip('/'), safe='')}/repository/archive.{fmt}"
        try:
            response = client.http_get(
                path, query_data={"sha": ref} if ref else {}, streamed=True, raw=True
            )
        except gitlab.exceptions.GitlabHttpError as error:
            client.session.close()
            if error.response_code in (403, 404):
                raise ProjectFileNotFound(f"archive of {project_path} at {ref}") from error
            raise
        assert isinstance(response, requests.Response)
        return _streamed(response, f"archive.{fmt}", on_close=client.session.close)

    # -- permissions ---------------------------------------------------------------------

    def memberships(self, token: str) -> Membership:
        """Admin and external flags, and role per project id, of the token's user.

        One paginated call in the common case. GitLab's ``permissions`` of a project name
        the direct membership and the direct parent group's only: access through a group
        share or a higher ancestor group leaves both empty, and those projects' roles are
        then resolved by ``_resolve_roles``. A blocked user's token is refused with a 403,
        which counts as an invalid token.
        """
        client = self._gitlab(token)
        try:
            try:
                user = client.http_get("/user")
            except gitlab.exceptions.GitlabHttpError as error:
                if error.response_code == 403:  # a blocked user
                    raise InvalidToken from error
                raise
            roles: dict[int, int] = {}
            unresolved: set[int] = set()
            for project in self._member_projects(client, GITLAB_GUEST):
                permissions = project.get("permissions") or {}
                levels = [
                    int((permissions.get(kind) or {}).get("access_level") or 0)
                    for kind in ("project_access", "group_access")
                ]
                project_id = int(project["id"])
                roles[project_id] = max([*levels, GITLAB_GUEST])
                if not any(levels):
                    unresolved.add(project_id)
            roles.update(self._resolve_roles(client, unresolved))
        except gitlab.exceptions.GitlabAuthenticationError as error:
            raise InvalidToken from error
        except gitlab.exceptions.GitlabHttpError as error:
            if error.response_code == 401:
                raise InvalidToken from error
            raise
        finally:
            client.session.close()
        profile = user if isinstance(user, dict) else {}
        public = {k: profile.get(k) for k in ("id", "username", "name", "avatar_url", "web_url")}
        return Membership(
            admin=bool(profile.get("is_admin")),
            roles=roles,
            user=public,
            external=bool(profile.get("external")),
        )

    def starred(self, token: str) -> frozenset[int]:
        """Ids of the projects the token's user starred (upstream's ``:starred``)."""
        client = self._gitlab(token)
        try:
            pages = client.http_list(
                "/projects",
                query_data={"starred": "true", "simple": "true", "order_by": "id", "sort": "asc"},
                per_page=PER_PAGE,
                iterator=True,
            )
            return frozenset(int(project["id"]) for project in pages)
        except gitlab.exceptions.GitlabAuthenticationError as error:
            raise InvalidToken from error
        except gitlab.exceptions.GitlabHttpError as error:
            if error.response_code in (401, 403):
                raise InvalidToken from error
            raise
        finally:
            client.session.close()

    @staticmethod
    def _member_projects(
        client: gitlab.Gitlab, level: int, *, simple: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The projects where the client's user has at least ``level``, by id."""
        query: dict[str, Any] = {"min_access_level": level, "order_by": "id", "sort": "asc"}
        if simple:
            query["simple"] = "true"
        yield from client.http_list("/projects", query_data=query, per_page=PER_PAGE, iterator=True)

    def _resolve_roles(self, client: gitlab.Gitlab, project_ids: set[int]) -> dict[int, int]:
        """Roles of projects whose ``permissions`` are empty: the highest role whose
        ``min_access_level`` listing still holds each project (stopping as soon as none is
        left, so a guest costs one more call)."""
        roles: dict[int, int] = {}
        remaining = set(project_ids)
        for level in HIGHER_ROLES:
            if not remaining:
                break
            listed = {
                int(project["id"]) for project in self._member_projects(client, level, simple=True)
            }
            remaining &= listed
            roles.update(dict.fromkeys(remaining, level))
        return roles
