"""HTTP routes of the server extension under ``<base_url>/jupyter-mlops/``.

Handlers are thin: parse the request, call the plain-Python client API, map its typed errors to
the JSON error shape ``{"message", "reason"}``. Every verb is authenticated.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from . import __version__
from .catalog import CatalogAPI, relink_pages
from .errors import MLOpsError
from .platform import Platform

NAMESPACE = "jupyter-mlops"


class MLOpsHandler(APIHandler):
    """Base handler: access to the platform and one error shape."""

    @property
    def platform(self) -> Platform:
        platform: Platform = self.settings["jupyter_mlops"]["platform"]
        return platform

    def route(self, *parts: str) -> str:
        """Absolute path of one of our routes, under the server's base URL."""
        path: str = url_path_join(self.base_url, NAMESPACE, *parts)
        return path

    def fail(self, error: MLOpsError) -> None:
        self.set_status(error.status)
        self.finish(json.dumps({"message": error.message, "reason": error.reason}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never send a traceback or an upstream body to the browser: log it, answer the shape.
        self.set_header("Content-Type", "application/json")
        message = self._reason or "Unexpected error"
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], tornado.web.HTTPError):
            message = exc_info[1].log_message or message
        self.finish(json.dumps({"message": message, "reason": self._reason or "error"}))


class InfoHandler(MLOpsHandler):
    """``GET /jupyter-mlops/info[?version=<frontend version>]``.

    The version handshake of the frontend and a description of the platform: ``version``,
    ``embedded``, ``status`` (``starting|ready|failed|unconfigured``), ``sharinghub_url``,
    ``mlflow_url``, ``gitlab_url`` (``null`` when unknown or absent), and ``message``/``reason``
    when the platform failed. No secret is ever part of it.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        # Make sure a connection attempt is under way; answer at once with the current state.
        self.platform.start()
        body: dict[str, Any] = {"version": __version__, **self.platform.describe()}
        frontend = self.get_query_argument("version", None)
        if frontend is not None and frontend != __version__:
            body["version_mismatch"] = (
                f"The frontend is version {frontend} but the server extension is {__version__};"
                " reinstall jupyter-mlops and reload the page."
            )
        self.finish(json.dumps(body))


class CatalogSearchHandler(MLOpsHandler):
    """``GET /jupyter-mlops/catalog/search?<STAC search parameters>``.

    Forwards an item search to the platform's ``/api/stac/search`` with the user's credentials and
    returns the FeatureCollection; paging links point back to this route.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        params = [
            (key, value.decode())
            for key, values in self.request.query_arguments.items()
            for value in values
            # JupyterLab's ServerConnection adds a bare "?<timestamp>" to defeat caches.
            if not (key.isdigit() and not value)
        ]
        try:
            endpoints = await self.platform.endpoints()
            assert endpoints.sharinghub_url is not None
            timeout = self.platform.config.request_timeout
            catalog = CatalogAPI(endpoints.sharinghub_url, timeout=timeout)
            result = await catalog.search(params)
        except MLOpsError as error:
            self.fail(error)
            return
        relink_pages(result, catalog.search_url, self.route("catalog", "search"))
        self.finish(json.dumps(result))


def setup_route_handlers(web_app: tornado.web.Application) -> None:
    """Register our handlers under the server's base URL."""
    base_url = web_app.settings["base_url"]
    handlers: list[tuple[str, type[MLOpsHandler]]] = [
        (url_path_join(base_url, NAMESPACE, "info"), InfoHandler),
        (url_path_join(base_url, NAMESPACE, "catalog", "search"), CatalogSearchHandler),
    ]
    web_app.add_handlers(".*$", handlers)
