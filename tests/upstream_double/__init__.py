"""An upstream-shaped SharingHub 0.4 test double (see shared/reference/sharinghub-api.md).

It reproduces the behaviours a client must cope with, not our server's improvements:

* ``/api/stac/search`` wants exactly one collection (none: empty result; several: 422), pages with
  opaque ``before``/``after`` cursors only (a ``token`` parameter is ignored), and has no CQL2;
* the token is read from ``X-Gitlab-Token`` or ``?gitlab_token=`` only (``Authorization: Bearer`` is
  ignored), and private projects need it; with the header, download hrefs get
  ``gitlab_token=<token>`` appended (the secret-in-href behaviour clients must scrub);
* ``/api/config/`` has no ``mlops_server`` section.

Run it with :func:`serve_upstream` (a real uvicorn server on a free loopback port, in a thread).
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

TOKEN = "upstream-user-token"

PROJECTS: list[dict[str, Any]] = [
    {
        "id": 7,
        "path": "team/wine-model",
        "name": "wine-model",
        "collection": "ai-model",
        "private": False,
        "bbox": [6.6, 36.6, 18.5, 47.0],
        "files": {"model.onnx": b"onnx-bytes-of-wine"},
    },
    {
        "id": 8,
        "path": "team/wine-dataset",
        "name": "wine-dataset",
        "collection": "dataset",
        "private": False,
        "bbox": [6.6, 36.6, 18.5, 47.0],
        "files": {"wine.csv": b"a,b\n1,2\n"},
    },
    {
        "id": 9,
        "path": "team/secret-model",
        "name": "secret-model",
        "collection": "ai-model",
        "private": True,
        "bbox": [-5.0, 40.0, 5.0, 50.0],
        "files": {"model.onnx": b"secret"},
    },
    *[
        {
            "id": 100 + n,
            "path": f"eo/tile-model-{n:02d}",
            "name": f"tile-model-{n:02d}",
            "collection": "ai-model",
            "private": False,
            "bbox": [n, n, n + 1.0, n + 1.0],
            "files": {},
        }
        for n in range(5)
    ],
]


def _token(request: Request) -> str | None:
    return request.headers.get("x-gitlab-token") or request.query_params.get("gitlab_token")


def _visible(request: Request) -> list[dict[str, Any]]:
    authenticated = _token(request) == TOKEN
    return [p for p in PROJECTS if authenticated or not p["private"]]


def _item(request: Request, project: dict[str, Any]) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    minx, miny, maxx, maxy = project["bbox"]
    token_query = (
        f"&gitlab_token={_token(request)}" if request.headers.get("x-gitlab-token") else ""
    )
    files = f"{base}/api/download/{project['path']}/repository"
    assets = {
        name: {
            "href": f"{files}/{name}?ref=main{token_query}",
            "roles": ["data"],
        }
        for name in project["files"]
    }
    return {
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "type": "Feature",
        "id": project["path"],
        "collection": project["collection"],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]],
        },
        "bbox": project["bbox"],
        "properties": {
            "title": project["name"],
            # Upstream rewrites README images to its download API, with the token (§3.10).
            "description": f"# {project['name']}\n\n"
            f"![Logo]({files}/logo.png?ref=main&cache=300{token_query})\n"
            f'<img src="{files}/map.png?ref=main{token_query}" alt="map">\n',
            "datetime": "2025-07-01T10:00:00Z",
            "sharinghub:id": project["id"],
            "sharinghub:path": project["path"],
        },
        "links": [
            {
                "rel": "self",
                "href": f"{base}/api/stac/collections/{project['collection']}/items/"
                + project["path"],
            }
        ],
        "assets": assets,
    }


def create_app() -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        app.state.requests.append(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": dict(request.headers),
            }
        )
        response: Response = await call_next(request)
        return response

    @app.get("/api/config/")
    async def config() -> dict[str, Any]:
        return {
            "auth": "token",
            "gitlab": {"url": "https://gitlab.example.org"},
            "mlflow": {"type": "mlflow-sharinghub", "url": "https://sharinghub.example.org/mlflow"},
            "categories": {
                "ai-model": {"gitlab_topic": "sharinghub:aimodel"},
                "dataset": {"gitlab_topic": "sharinghub:dataset"},
            },
        }

    @app.get("/api/stac")
    async def root(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "type": "Catalog",
            "id": "gitlab-cs",
            "stac_version": "1.0.0",
            "description": "upstream double",
            "conformsTo": [
                "https://api.stacspec.org/v1.0.0/core",
                "https://api.stacspec.org/v1.0.0/item-search",
                "https://api.stacspec.org/v1.0.0/collections",
            ],
            "links": [
                {"rel": "self", "href": f"{base}/api/stac", "type": "application/json"},
                {"rel": "root", "href": f"{base}/api/stac", "type": "application/json"},
                {
                    "rel": "search",
                    "href": f"{base}/api/stac/search",
                    "type": "application/geo+json",
                    "method": "GET",
                },
                {"rel": "data", "href": f"{base}/api/stac/collections", "type": "application/json"},
            ],
        }

    @app.get("/api/stac/search")
    async def search(request: Request) -> JSONResponse:
        params = request.query_params
        collections = [c for c in (params.get("collections") or "").split(",") if c]
        base = str(request.base_url).rstrip("/")
        if not collections:
            return JSONResponse(
                {
                    "type": "FeatureCollection",
                    "features": [],
                    "numberMatched": 0,
                    "numberReturned": 0,
                    "links": [],
                }
            )
        if len(collections) > 1:
            raise HTTPException(422, "Search is enabled only for one collection")
        limit = int(params.get("limit") or 12)
        query = (params.get("q") or "").lower()
        matches = [
            p
            for p in _visible(request)
            if p["collection"] == collections[0] and query in p["name"].lower()
        ]
        start = int(base64.b64decode(params["after"]).decode()) if params.get("after") else 0
        page = matches[start : start + limit]
        links = [{"rel": "self", "href": str(request.url)}]
        if start + limit < len(matches):
            cursor = base64.b64encode(str(start + limit).encode()).decode()
            kept = "&".join(
                f"{k}={v}"
                for k, v in params.items()
                if k not in {"after", "before", "gitlab_token"}
            )
            links.append(
                {
                    "rel": "next",
                    "href": f"{base}/api/stac/search?{kept}&after={cursor}",
                    "type": "application/geo+json",
                }
            )
        return JSONResponse(
            {
                "type": "FeatureCollection",
                "features": [_item(request, p) for p in page],
                "numberMatched": len(matches),
                "numberReturned": len(page),
                "context": {"limit": limit, "matched": len(matches), "returned": len(page)},
                "links": links,
            }
        )

    @app.get("/api/stac/collections/{cid}/items/{path:path}")
    async def item(cid: str, path: str, request: Request) -> dict[str, Any]:
        for project in _visible(request):
            if project["path"] == path:
                if project["collection"] != cid:
                    raise HTTPException(400, f"Category mismatch for project {path}")
                return _item(request, project)
        raise HTTPException(404, "Not Found")

    @app.get("/api/download/{path:path}/repository/{name}")
    async def download(path: str, name: str, request: Request) -> Response:
        for project in _visible(request):
            if project["path"] == path and name in project["files"]:
                return Response(project["files"][name], media_type="application/octet-stream")
        raise HTTPException(404, "Not Found")

    return app


@contextmanager
def serve_upstream() -> Iterator[tuple[str, FastAPI]]:
    """Run the double on a free loopback port; yield its base URL and app.

    ``app.state.requests`` records every request (path, query, headers).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
