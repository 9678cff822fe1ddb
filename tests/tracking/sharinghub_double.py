"""A SharingHub check-API test double served over HTTP (``uvicorn --factory``).

Projects and memberships come from the JSON file named by ``DOUBLE_CONFIG``::

    {"projects": [{"id": 1, "path": "g/p", "visibility": "private",
                   "categories": ["ai-model"]}],
     "members": {"<token>": {"g/p": 3}}}

Levels follow upstream: members get their role's level (1-4), and any caller who can see a
public or internal project reads it at least at level 2; anonymous callers see public
projects only. Unknown tokens are rejected with 401, like GitLab.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response


def create_app() -> FastAPI:
    with open(os.environ["DOUBLE_CONFIG"]) as handle:
        config: dict[str, Any] = json.load(handle)
    projects = {p["path"]: p for p in config["projects"]}
    by_id = {str(p["id"]): p for p in config["projects"]}
    members: dict[str, dict[str, int]] = config["members"]
    app = FastAPI()
    app.state.calls = 0

    def level(token: str | None, project: dict[str, Any]) -> int:
        if token is None:
            return 2 if project["visibility"] == "public" else 0
        role = members[token].get(project["path"], 0)
        if project["visibility"] in ("public", "internal"):
            return max(role, 2)
        return role

    @app.get("/api/check/{key:path}")
    def check(
        request: Request, key: str, x_gitlab_token: str | None = Header(default=None)
    ) -> Response:
        app.state.calls += 1
        if x_gitlab_token is not None and x_gitlab_token not in members:
            return JSONResponse({"detail": "Invalid token"}, 401)
        project = by_id.get(key) or projects.get(key.strip("/"))
        if project is None or level(x_gitlab_token, project) == 0:
            return JSONResponse({"detail": "Not Found"}, 404)
        return JSONResponse(
            {
                "id": project["id"],
                "name": project["path"].rsplit("/", 1)[-1],
                "path": project["path"],
                "access_level": level(x_gitlab_token, project),
                "categories": project["categories"],
            }
        )

    @app.get("/api/auth/info")
    def info(x_gitlab_token: str | None = Header(default=None)) -> Response:
        if x_gitlab_token in members:
            return JSONResponse({"access_token": x_gitlab_token})
        return JSONResponse({"detail": "Not authenticated"}, 401)

    @app.get("/calls")
    def calls() -> dict[str, int]:
        return {"calls": app.state.calls}

    return app
