"""A GitLab REST v4 test double, served over real HTTP on a loopback port.

Seed it with plain Python objects, start it, and point any GitLab client at ``double.url``::

    from tests.gitlab_double import GitLabDouble, Project, User, DEVELOPER

    users = [User("alice", tokens=["alice-token"]), User("root", ["svc"], admin=True)]
    projects = [
        Project(
            "team/model",
            visibility="private",
            topics=["sharinghub:aimodel"],
            files={"README.md": "---\\ntitle: M\\n---\\n# M\\n", "w.bin": b"..."},
            lfs={"w.bin"},
            members={"alice": DEVELOPER},
        )
    ]
    with GitLabDouble(users, projects) as gitlab:
        gitlab.url            # "http://127.0.0.1:<port>"
        gitlab.state.push("team/model", {"new.txt": "hi"})      # fires push webhooks
        gitlab.state.set_member("team/model", "alice", None)  # fires member webhooks
        gitlab.state.add_hook("http://.../api/webhooks/gitlab", token="secret")

Publishing needs groups and can be made to fail at any step::

    gitlab.state.add_group(Group("team", members={"alice": DEVELOPER}))
    gitlab.state.fail("lfs_upload", 502, skip=1)            # the 2nd LFS upload fails
    gitlab.state.fail("commit", 502, after=True)             # committed, answer lost

See ``model.py`` for the seeding dataclasses and ``app.py`` for the routes implemented.
"""

from tests.gitlab_double.model import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    Failure,
    GitLabState,
    Group,
    Hook,
    Project,
    User,
)
from tests.gitlab_double.server import GitLabDouble

__all__ = [
    "DEVELOPER",
    "GUEST",
    "MAINTAINER",
    "OWNER",
    "REPORTER",
    "Failure",
    "GitLabDouble",
    "GitLabState",
    "Group",
    "Hook",
    "Project",
    "User",
]
