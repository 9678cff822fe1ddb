"""The Jupyter server extension application: configuration, routes, platform lifecycle."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop

from .auth import TokenManager
from .config import JupyterMLOps
from .downloads import DownloadManager
from .platform import Platform
from .routes import setup_route_handlers


class JupyterMLOpsApp(ExtensionApp):
    """Loads the jupyter-mlops routes and starts (or connects to) the platform."""

    name = "jupyter_mlops"
    classes = [JupyterMLOps]  # noqa: RUF012 - traitlets convention

    def initialize_settings(self) -> None:
        config = JupyterMLOps(parent=self)
        self.platform = Platform(config)
        tokens = TokenManager.default(Path(config.credentials_path))
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
