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

See ``model.py`` for the seeding dataclasses and ``app.py`` for the routes implemented.
"""

from tests.gitlab_double.model import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    GitLabState,
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
    "GitLabDouble",
    "GitLabState",
    "Hook",
    "Project",
    "User",
]
