"""The seeding model of the GitLab test double: users, tokens, projects, files, members.

Everything a test needs to describe a GitLab instance is a plain dataclass; ``GitLabState``
holds them, assigns ids, answers permission questions the way GitLab does, and exposes
mutators (``push``, ``set_member``, ``update_project``, ...) that also fire the webhooks a
real GitLab would send.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# GitLab role access levels (REST API ``access_level`` values).
GUEST = 10
REPORTER = 20
DEVELOPER = 30
MAINTAINER = 40
OWNER = 50

VISIBILITIES = ("public", "internal", "private")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


@dataclass
class User:
    """A GitLab user and the personal access tokens that authenticate as it.

    Parameters
    ----------
    username
        Unique login name.
    tokens
        Personal access (or OAuth) tokens; each is accepted as ``PRIVATE-TOKEN`` or
        ``Authorization: Bearer``.
    admin
        Administrators see every project (like a service token on a real instance).
    state
        ``active`` or ``blocked``: every API call of a blocked user answers 403.
    external
        External users see internal projects only where they are members.
    starred
        Full paths of the projects the user starred.
    """

    username: str
    tokens: list[str] = field(default_factory=list)
    name: str = ""
    email: str = ""
    admin: bool = False
    id: int = 0
    state: str = "active"
    external: bool = False
    starred: set[str] = field(default_factory=set)


@dataclass
class Project:
    """A GitLab project with one branch of files.

    Parameters
    ----------
    path
        Full path (``namespace[/subgroup]/name``), GitLab's ``path_with_namespace``.
    visibility
        ``public``, ``internal`` or ``private``.
    files
        Repository files of the default branch: path -> content (``str`` is UTF-8).
    lfs
        Paths of ``files`` stored through Git LFS: the repository holds a pointer, and
        ``/raw?lfs=true`` returns the content.
    members
        Direct members: username -> access level (``GUEST`` ... ``OWNER``).
    """

    path: str
    visibility: str = "private"
    topics: list[str] = field(default_factory=list)
    files: dict[str, bytes | str] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)
    members: dict[str, int] = field(default_factory=dict)
    #: Groups the project is shared with: group full path -> highest role the share grants.
    shared_with_groups: dict[str, int] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    default_branch: str = "main"
    star_count: int = 0
    created_at: datetime = _EPOCH
    last_activity_at: datetime = _EPOCH
    id: int = 0
    commit_message: str = "Initial commit"
    commit_sha: str = ""
    #: Commits, oldest first: ``{"id", "message", "actions": [(action, path), ...]}``.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Git LFS objects linked to the project: oid -> content.
    lfs_objects: dict[str, bytes] = field(default_factory=dict)
    lfs_enabled: bool = True

    @property
    def namespace(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    def content(self, file_path: str) -> bytes:
        value = self.files[file_path]
        return value.encode() if isinstance(value, str) else value

    def stored(self, file_path: str) -> bytes:
        """The bytes in the Git repository: an LFS pointer for LFS files."""
        data = self.content(file_path)
        if file_path not in self.lfs:
            return data
        oid = hashlib.sha256(data).hexdigest()
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
        ).encode()


@dataclass
class Group:
    """A GitLab group (a namespace for projects) and its direct members.

    Members of a group have their role on every project of the group (inherited membership).
    """

    path: str
    members: dict[str, int] = field(default_factory=dict)
    visibility: str = "private"
    name: str = ""
    id: int = 0


@dataclass
class Failure:
    """An injected failure: the ``skip``+1-th call of ``step`` answers ``status``.

    Steps: ``create_project``, ``update_project``, ``commit``, ``lfs_batch``, ``lfs_upload``,
    ``lfs_verify``. With ``after`` the call takes effect first, then fails (the answer is
    lost, as when a proxy times out): the retry must cope with work already done.
    """

    step: str
    status: int = 500
    after: bool = False
    skip: int = 0
    times: int = 1


@dataclass
class Hook:
    """A webhook receiver: ``project`` None means a system hook (all projects)."""

    url: str
    token: str | None = None
    project: str | None = None


Sender = Callable[[Hook, str, dict[str, Any]], None]


class GitLabState:
    """The whole instance, shared by the HTTP app and the test (thread-safe)."""

    def __init__(self, users: list[User] | None = None, projects: list[Project] | None = None):
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.projects: dict[int, Project] = {}
        self.hooks: list[Hook] = []
        self.groups: dict[int, Group] = {}
        self.failures: list[Failure] = []
        #: Whether LFS batch answers carry a ``verify`` action (the LFS spec allows it; GitLab
        #: itself sends upload actions only).
        self.lfs_verify = True
        self.sender: Sender | None = None
        self._next_user = 1
        self._next_project = 1
        self._next_group = 1
        for user in users or []:
            self.add_user(user)
        for project in projects or []:
            self.add_project(project)

    # -- seeding ---------------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self.lock:
            if not user.id:
                user.id = self._next_user
            self._next_user = max(self._next_user, user.id) + 1
            user.name = user.name or user.username.title()
            user.email = user.email or f"{user.username}@example.org"
            self.users[user.username] = user
            return user

    def add_project(
        self, project: Project, *, notify: bool = False, empty: bool = False
    ) -> Project:
        """Add a project; ``empty`` for one created without a repository commit (API)."""
        with self.lock:
            if project.visibility not in VISIBILITIES:
                raise ValueError(f"visibility must be one of {VISIBILITIES}")
            if not project.id:
                project.id = self._next_project
            self._next_project = max(self._next_project, project.id) + 1
            project.name = project.name or project.path.rsplit("/", 1)[-1]
            if not empty:
                self._new_commit(project)
            self.projects[project.id] = project
        if notify:
            self._fire(project, "project_create", {})
        return project

    def add_group(self, group: Group) -> Group:
        with self.lock:
            if group.visibility not in VISIBILITIES:
                raise ValueError(f"visibility must be one of {VISIBILITIES}")
            if not group.id:
                group.id = self._next_group
            self._next_group = max(self._next_group, group.id) + 1
            group.name = group.name or group.path.rsplit("/", 1)[-1]
            self.groups[group.id] = group
            return group

    def group(self, ref: str) -> Group | None:
        """A group by numeric id or full path."""
        with self.lock:
            for group in self.groups.values():
                if str(group.id) == ref or group.path == ref:
                    return group
        return None

    def user_namespace_id(self, user: User) -> int:
        """Namespace id of a user's personal namespace (distinct from group ids)."""
        return 10_000 + user.id

    def fail(
        self, step: str, status: int = 500, *, after: bool = False, skip: int = 0, times: int = 1
    ) -> Failure:
        """Inject a failure of a publish step (see :class:`Failure`)."""
        failure = Failure(step, status, after, skip, times)
        with self.lock:
            self.failures.append(failure)
        return failure

    def failure_for(self, step: str) -> Failure | None:
        """Consume the injected failure due for this call of ``step``, if any."""
        with self.lock:
            for failure in self.failures:
                if failure.step != step or failure.times <= 0:
                    continue
                if failure.skip > 0:
                    failure.skip -= 1
                    return None
                failure.times -= 1
                return failure
        return None

    def commit(self, project: Project, message: str, actions: list[tuple[str, str]]) -> None:
        """Record a commit of already-applied file changes (new sha, history, activity)."""
        with self.lock:
            project.commit_message = message
            project.last_activity_at = datetime.now(UTC)
            self._new_commit(project, actions)

    def add_hook(self, url: str, token: str | None = None, project: str | None = None) -> Hook:
        """Register a webhook; ``project`` (full path) for a project hook, else system hook."""
        hook = Hook(url, token, project)
        with self.lock:
            self.hooks.append(hook)
        return hook

    # -- lookups ---------------------------------------------------------------------------

    def user_for_token(self, token: str) -> User | None:
        with self.lock:
            for user in self.users.values():
                if token in user.tokens:
                    return user
        return None

    def project(self, ref: str) -> Project | None:
        """A project by numeric id or full path."""
        with self.lock:
            if ref.isdigit():
                return self.projects.get(int(ref))
            for project in self.projects.values():
                if project.path == ref:
                    return project
        return None

    def access_level(self, user: User | None, project: Project) -> int:
        """The user's role on the project (0 when not a member): direct, inherited from any
        ancestor group, or through a group the project is shared with (capped by the share)."""
        if user is None:
            return 0
        levels = [project.members.get(user.username, 0)]
        levels.append(self.group_role(user, project.namespace))
        for group_path, most in project.shared_with_groups.items():
            levels.append(min(self.group_role(user, group_path), most))
        return max(levels)

    def group_role(self, user: User, full_path: str) -> int:
        """The user's role in a group, direct or inherited from its ancestors."""
        parts = full_path.split("/") if full_path else []
        roles = [0]
        for depth in range(1, len(parts) + 1):
            group = self.group("/".join(parts[:depth]))
            if group is not None:
                roles.append(group.members.get(user.username, 0))
        return max(roles)

    def can_see(self, user: User | None, project: Project) -> bool:
        if project.visibility == "public" or (user is not None and user.admin):
            return True
        if project.visibility == "internal":
            return user is not None and (not user.external or self.access_level(user, project) > 0)
        return self.access_level(user, project) > 0

    def can_read_code(self, user: User | None, project: Project) -> bool:
        """GitLab's ``download_code``: guests of private projects may not."""
        if not self.can_see(user, project):
            return False
        if project.visibility != "private" or (user is not None and user.admin):
            return True
        return self.access_level(user, project) >= REPORTER

    # -- mutations that fire webhooks ------------------------------------------------------

    def push(self, path: str, files: dict[str, bytes | str], message: str = "Update") -> None:
        """Commit files (content None deletes) on the default branch; fires a push event."""
        with self.lock:
            project = self._get(path)
            for name, content in files.items():
                if content is None:
                    project.files.pop(name, None)
                else:
                    project.files[name] = content
            project.commit_message = message
            project.last_activity_at = datetime.now(UTC)
            before = project.commit_sha
            self._new_commit(project)
        self._fire(
            project,
            "push",
            {
                "before": before,
                "after": project.commit_sha,
                "ref": f"refs/heads/{project.default_branch}",
            },
        )

    def update_project(self, path: str, **changes: Any) -> None:
        """Change project attributes (topics, visibility, description, ...)."""
        with self.lock:
            project = self._get(path)
            for key, value in changes.items():
                if not hasattr(project, key) or key in ("id", "path"):
                    raise AttributeError(key)
                setattr(project, key, value)
            project.last_activity_at = datetime.now(UTC)
        self._fire(project, "project_update", {})

    def set_member(self, path: str, username: str, level: int | None) -> None:
        """Add, change (level) or remove (None) a direct member; fires a member event."""
        with self.lock:
            project = self._get(path)
            existed = username in project.members
            if level is None:
                project.members.pop(username, None)
                event = "user_remove_from_team"
            else:
                project.members[username] = level
                event = "user_update_for_team" if existed else "user_add_to_team"
            user = self.users[username]
        self._fire(
            project,
            event,
            {
                "user_username": user.username,
                "user_id": user.id,
                "access_level": level or 0,
            },
        )

    def delete_project(self, path: str) -> None:
        with self.lock:
            project = self._get(path)
            del self.projects[project.id]
        self._fire(project, "project_destroy", {})

    def rename_group(self, old_full_path: str, new_path: str) -> None:
        """Rename a group's path: every project below it moves. GitLab then sends one
        ``group_rename`` system hook event and none per project."""
        parent = old_full_path.rpartition("/")[0]
        new_full_path = f"{parent}/{new_path}" if parent else new_path
        with self.lock:
            group_id = 0
            for group in self.groups.values():
                if group.path == old_full_path:
                    group.path, group_id = new_full_path, group.id
            for project in self.projects.values():
                if project.path.startswith(f"{old_full_path}/"):
                    project.path = new_full_path + project.path[len(old_full_path) :]
        payload = {
            "event_name": "group_rename",
            "created_at": datetime.now(UTC).isoformat(),
            "name": new_path,
            "path": new_path,
            "full_path": new_full_path,
            "group_id": group_id,
            "old_path": old_full_path.rpartition("/")[2],
            "old_full_path": old_full_path,
        }
        if self.sender is not None:
            for hook in list(self.hooks):
                if hook.project is None:
                    self.sender(hook, "System Hook", payload)

    # -- internals -------------------------------------------------------------------------

    def _get(self, path: str) -> Project:
        project = self.project(path)
        if project is None:
            raise KeyError(path)
        return project

    def _new_commit(self, project: Project, actions: list[tuple[str, str]] | None = None) -> None:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(project.commit_sha.encode())
        digest.update(project.commit_message.encode())
        for name in sorted(project.files):
            digest.update(name.encode() + b"\0" + project.stored(name))
        project.commit_sha = digest.hexdigest()
        if actions is None:
            actions = [("update", name) for name in sorted(project.files)]
        project.history.append(
            {"id": project.commit_sha, "message": project.commit_message, "actions": actions}
        )

    def _fire(self, project: Project, event: str, extra: dict[str, Any]) -> None:
        if self.sender is None:
            return
        payload = event_payload(project, event, extra)
        kind = "Push Hook" if event == "push" else "System Hook"
        for hook in list(self.hooks):
            if hook.project is not None and (event != "push" or hook.project != project.path):
                continue  # project hooks get push events of their project only
            self.sender(hook, kind, payload)


def event_payload(project: Project, event: str, extra: dict[str, Any]) -> dict[str, Any]:
    """A webhook body in GitLab's documented shape for push and system-hook events."""
    if event == "push":
        return {
            "object_kind": "push",
            "event_name": "push",
            "project_id": project.id,
            "user_username": "root",
            "total_commits_count": 1,
            "project": {
                "id": project.id,
                "name": project.name,
                "path_with_namespace": project.path,
                "default_branch": project.default_branch,
                "visibility_level": {"private": 0, "internal": 10, "public": 20}[
                    project.visibility
                ],
            },
            "commits": [{"id": project.commit_sha, "message": project.commit_message}],
            **extra,
        }
    payload: dict[str, Any] = {"event_name": event, "created_at": datetime.now(UTC).isoformat()}
    if event.startswith("user_"):
        payload.update(
            {
                "project_id": project.id,
                "project_name": project.name,
                "project_path": project.path.rsplit("/", 1)[-1],
                "project_path_with_namespace": project.path,
                "project_visibility": project.visibility,
            }
        )
    else:
        payload.update(
            {
                "project_id": project.id,
                "name": project.name,
                "path": project.path.rsplit("/", 1)[-1],
                "path_with_namespace": project.path,
                "project_visibility": project.visibility,
            }
        )
    payload.update(extra)
    return payload


def blob_id(project: Project, file_path: str) -> str:
    data = project.stored(file_path)
    return _sha1(b"blob %d\0" % len(data) + data)
