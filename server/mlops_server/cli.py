"""Command line: ``mlops-server serve``, ``mlops-server demo`` and ``mlops-server gitlab-setup``.

``serve`` catalogs either a local project store (``--projects DIR``) or a GitLab instance
(``--gitlab-url URL`` or ``gitlab.url`` in ``--config FILE``). Secrets come from the
environment only: ``MLOPS_GITLAB_TOKEN`` (service token for the sync),
``MLOPS_WEBHOOK_SECRET`` (shared secret of ``POST /api/webhooks/gitlab``),
``GITLAB_OAUTH_DEFAULT_TOKEN`` (upstream's default token); ``MLOPS_ACCESS_CACHE_TTL`` sets
how long a token's GitLab memberships are trusted (seconds, default 60).

With an MLflow URL (``--mlflow-url``, ``--mlflow`` or the config's ``mlflow.url``, type
``mlflow-sharinghub``) a served item carries the project's registered models, pulled from
MLflow as the caller (``mlops_server.tracking.stac``): ``MLOPS_MLFLOW_INTERNAL_URL`` is where
the catalog reaches MLflow when the public URL does not work from the server (default: the
public URL, or this server's loopback port for ``--mlflow``); ``MLOPS_MLFLOW_MODELS_TTL`` is
how long an answer is reused (seconds, default 5).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("mlops_server")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-server", description="The jupyter-mlops platform server."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="index a project store and serve the API")
    serve.add_argument("--projects", type=Path, help="local project store folder")
    serve.add_argument(
        "--gitlab-url", default=None, help="catalog this GitLab instead of a local store"
    )
    serve.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (this server's or upstream SharingHub's YAML format)",
    )
    serve.add_argument(
        "--sync-interval",
        type=float,
        default=None,
        help="seconds between full re-syncs of the source (default: 300 for GitLab, "
        "0 = never for a local store)",
    )
    serve.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="re-index a local store's projects as their files change (default: on)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL of the index (default: sqlite file PROJECTS/.mlops-index.sqlite "
        "for a local store, a temporary SQLite file for GitLab)",
    )
    serve.add_argument(
        "--mlflow-url", default=None, help="MLflow base URL, for tracking URIs and /api/config/"
    )
    # -- embedded MLflow (mlops_server.tracking) --
    serve.add_argument(
        "--mlflow",
        action="store_true",
        help="also serve MLflow (SQLite + local artifacts) behind the SharingHub layer under "
        "/mlflow/ on the same port; the local user is maintainer of every local project",
    )
    serve.add_argument(
        "--mlflow-data",
        type=Path,
        default=None,
        help="folder of the embedded MLflow's database and artifacts (default PROJECTS/.mlflow; "
        "--mlflow needs --projects)",
    )
    serve.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the parent process dies (for the embedded launcher)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])

    demo = commands.add_parser("demo", help="write the demo project store into PATH")
    demo.add_argument("path", type=Path)
    demo.add_argument("--force", action="store_true", help="overwrite an existing store")

    setup = commands.add_parser(
        "gitlab-setup",
        help="ensure GitLab's OAuth application and system hook for this platform (idempotent)",
    )
    from mlops_server.gitlab_setup import add_arguments

    add_arguments(setup)
    setup.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser


def _periodic_sync(index: Any, source: Any, settings: Any, interval: float) -> None:
    """Re-sync the whole source every ``interval`` seconds in a daemon thread."""

    def run() -> None:
        while not stop.wait(interval):
            try:
                started = time.perf_counter()
                count = index.rebuild(source, settings)
                log.info("re-synced %d projects in %.2fs", count, time.perf_counter() - started)
            except Exception:
                log.exception("periodic sync failed; keeping the current index")

    stop = threading.Event()
    threading.Thread(target=run, name="mlops-sync", daemon=True).start()


def _model_links(args: argparse.Namespace, settings: Any) -> Any:
    """Where the catalog pulls registered models from, or None (no MLflow SharingHub)."""
    from mlops_server.tracking.embedded import MOUNT_PATH
    from mlops_server.tracking.stac import ModelLinks

    if not settings.mlflow_url or settings.mlflow_type != "mlflow-sharinghub":
        return None
    internal = os.environ.get("MLOPS_MLFLOW_INTERNAL_URL", "").strip()
    if not internal and args.mlflow:
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        internal = f"http://{host}:{args.port}{MOUNT_PATH}"
    if not internal and settings.mlflow_url.startswith(("http://", "https://")):
        internal = settings.mlflow_url
    if not internal:
        log.warning("no MLflow URL reachable from the server: items carry no model links")
        return None
    return ModelLinks(internal, ttl=float(os.environ.get("MLOPS_MLFLOW_MODELS_TTL", "5")))


def _serve(args: argparse.Namespace) -> int:
    # Check the arguments before importing the web stack: usage errors answer at once.
    if args.projects is not None and not args.projects.is_dir():
        print(f"mlops-server: project store not found: {args.projects}", file=sys.stderr)
        return EXIT_USAGE
    if args.config is not None and not args.config.is_file():
        print(f"mlops-server: config file not found: {args.config}", file=sys.stderr)
        return EXIT_USAGE
    if args.mlflow and args.projects is None:
        # The embedded MLflow makes the local user maintainer of everything: never on GitLab.
        print(
            "mlops-server: --mlflow is the embedded single-user MLflow and needs a local store "
            "(--projects DIR); with GitLab, run `mlflow server --app-name sharinghub` with "
            "SHARINGHUB_URL set to this server and pass its URL as --mlflow-url",
            file=sys.stderr,
        )
        return EXIT_USAGE

    import uvicorn

    from mlops_server.app import create_app
    from mlops_server.index import Index
    from mlops_server.lifecycle import exit_with_parent
    from mlops_server.settings import load_settings
    from mlops_server.sources.base import ProjectSource
    from mlops_server.sources.local import LocalProjectSource

    try:
        settings = load_settings(
            args.config,
            mlflow_url=args.mlflow_url or ("/mlflow" if args.mlflow else None),
            gitlab_url=args.gitlab_url,
        )
    except (OSError, ValueError) as error:
        message = str(error)
        if args.config is not None and str(args.config) not in message:
            message = f"{args.config}: {message}"
        print(f"mlops-server: bad configuration: {message}", file=sys.stderr)
        return EXIT_USAGE
    source: ProjectSource
    cleanups: list[Callable[[], None]] = []  # after the index is closed
    stop_first: list[Callable[[], None]] = []  # before
    if args.projects is not None:
        store: Path = args.projects
        source = LocalProjectSource(store)
        where = str(store)
        db_url = args.db or f"sqlite:///{(store.resolve() / '.mlops-index.sqlite').as_posix()}"
        interval = args.sync_interval or 0.0
    elif settings.gitlab_url:
        from mlops_server.sources.gitlab import GitLabSource

        source = GitLabSource(
            settings.gitlab_url,
            os.environ.get("MLOPS_GITLAB_TOKEN"),
            catalog_topics=settings.category_topics,
        )
        where = settings.gitlab_url
        if args.db is None:  # a private file: sync, webhooks and reads need real connections
            scratch = Path(tempfile.mkdtemp(prefix="mlops-index-"))
            cleanups.append(lambda: shutil.rmtree(scratch, ignore_errors=True))
        db_url = args.db or f"sqlite:///{(scratch / 'index.sqlite').as_posix()}"
        interval = 300.0 if args.sync_interval is None else args.sync_interval
    else:
        print("mlops-server: give --projects DIR or --gitlab-url URL", file=sys.stderr)
        return EXIT_USAGE
    if args.exit_with_parent:
        exit_with_parent()
    index = Index(db_url)
    started = time.perf_counter()
    count = index.rebuild(source, settings)
    log.info("indexed %d projects from %s in %.2fs", count, where, time.perf_counter() - started)
    if interval > 0:
        _periodic_sync(index, source, settings, interval)
    if isinstance(source, LocalProjectSource) and args.watch:
        from mlops_server.watch import StoreWatcher

        stop_first.append(StoreWatcher(index, source, settings).start().stop)
    app = create_app(
        settings,
        source,
        index,
        webhook_secret=os.environ.get("MLOPS_WEBHOOK_SECRET") or None,
        model_links=_model_links(args, settings),
    )
    if args.mlflow:  # embedded MLflow under /mlflow/ (mlops_server.tracking.embedded)
        from mlops_server.tracking.embedded import mount_on_catalog

        mount_on_catalog(app, index, args.mlflow_data or args.projects / ".mlflow")

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                log.info("mlops-server ready on http://%s:%d", args.host, args.port)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            # uvicorn re-raises SIGTERM/SIGINT after shutdown, so atexit would never run.
            for stop in stop_first:
                stop()
            index.dispose()
            for cleanup in cleanups:
                cleanup()

    server = Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level))
    server.run()
    for stop in stop_first:
        stop()
    index.dispose()
    return 0 if server.started else 1


def _demo(args: argparse.Namespace) -> int:
    from mlops_server.demo import StoreNotEmpty, write_demo_store

    try:
        written = write_demo_store(args.path, force=args.force)
    except StoreNotEmpty as error:
        print(f"mlops-server demo: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {len(written)} demo projects into {args.path}")
    for path in written:
        print(f"  {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(getattr(args, "log_level", "info")).upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        return _serve(args)
    if args.command == "gitlab-setup":
        from mlops_server.gitlab_setup import main as gitlab_setup

        return gitlab_setup(args, dict(os.environ))
    return _demo(args)


if __name__ == "__main__":
    raise SystemExit(main())
