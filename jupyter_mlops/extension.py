"""The Jupyter server extension application: configuration, routes, platform lifecycle."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop

from .auth import TokenManager
from .config import JupyterMLOps
from .downloads import DownloadManager
from .oauth import GitLabOAuth, OAuthTokenSource
from .platform import Platform
from .routes import setup_route_handlers


class JupyterMLOpsApp(ExtensionApp):
    """Loads the jupyter-mlops routes and starts (or connects to) the platform."""

    name = "jupyter_mlops"
    classes = [JupyterMLOps]  # noqa: RUF012 - traitlets convention

    def initialize_settings(self) -> None:
        config = JupyterMLOps(parent=self)
        self.platform = Platform(config)
        self._oauth: GitLabOAuth | None = None

        def oauth() -> GitLabOAuth | None:
            """The GitLab OAuth application, once a client id and GitLab's URL are known."""
            known = self.platform.known
            if not config.oauth_client_id or known is None or not known.gitlab_url:
                return None
            if self._oauth is None or self._oauth.gitlab_url != known.gitlab_url:
                self._oauth = GitLabOAuth(
                    known.gitlab_url,
                    config.oauth_client_id,
                    Path(config.credentials_path).with_name("oauth-token.json"),
                    client_secret=os.environ.get("MLOPS_OAUTH_CLIENT_SECRET") or None,
                )
            return self._oauth

        tokens = TokenManager.default(Path(config.credentials_path), oauth=OAuthTokenSource(oauth))
        assert self.serverapp is not None
        self.downloads = DownloadManager(
            Path(self.serverapp.root_dir), timeout=config.request_timeout
        )
        self.settings.update(
            {
                "jupyter_mlops": {
                    "config": config,
                    "platform": self.platform,
                    "tokens": tokens,
                    "downloads": self.downloads,
                    "oauth": oauth,
                }
            }
        )
        # Start the platform as soon as the server's loop runs, not on the first request.
        IOLoop.current().add_callback(self.platform.start)
        where = config.sharinghub_url or (
            "the embedded platform" if self.platform.embedded else "nothing"
        )
        self.log.info("jupyter-mlops: talking to %s", where)

    def initialize_handlers(self) -> None:
        assert self.serverapp is not None
        setup_route_handlers(self.serverapp.web_app)

    async def stop_extension(self) -> None:
        await self.downloads.close()
        await self.platform.stop()
