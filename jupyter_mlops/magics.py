"""``%mlops`` / ``%%mlops``: the MLOps lifecycle one line away in any notebook.

``%load_ext jupyter_mlops`` registers the magic. Subcommands are parsed by argparse, so
``%mlops --help`` and ``%mlops <command> --help`` work; every command calls the same client API as
the server extension and uses the same token sources. Errors print one clear line, not a traceback,
and no command ever prints a token.
"""

from __future__ import annotations

import argparse
import getpass
import html
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .errors import MLOpsError

Handler = Callable[[argparse.Namespace], Any]


class _Parser(argparse.ArgumentParser):
    """An argparse parser that reports errors instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            print(message, file=sys.stderr, end="")
        raise _Exit


class UsageError(Exception):
    """A mistyped command line."""


class _Exit(Exception):
    """argparse finished (e.g. after printing --help)."""


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError("a bbox is minx,miny,maxx,maxy")
    return values


class ItemTable:
    """Search results that show as a table in notebooks (HTML) and as text elsewhere."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[index]

    def __repr__(self) -> str:
        lines = [f"{len(self.items)} item(s)"]
        lines += [
            f"  {i.collection_id or '':10} {i.id}  {i.properties.get('title', '')}"
            for i in self.items
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>".format(
                html.escape(str(item.properties.get("title", ""))),
                html.escape(str(item.collection_id or "")),
                html.escape(item.id),
                html.escape(", ".join(f"{v:.2f}" for v in item.bbox) if item.bbox else ""),
            )
            for item in self.items
        )
        return (
            f"<p>{len(self.items)} item(s)</p><table class='jp-mlops-results'>"
            "<thead><tr><th>Title</th><th>Collection</th><th>Id</th><th>Bbox</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


def _join_negative_values(tokens: list[str]) -> list[str]:
    """``--bbox -66,-15,-64,-13`` -> ``--bbox=-66,...``: argparse would read an option."""
    joined: list[str] = []
    for token in tokens:
        if joined and joined[-1] == "--bbox" and token[:1] == "-" and token[1:2].isdigit():
            joined[-1] = f"--bbox={token}"
        else:
            joined.append(token)
    return joined


def build_parser() -> _Parser:
    parser = _Parser(prog="%mlops", description="MLOps for Earth observation in notebooks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    whoami = commands.add_parser("whoami", help="where the platform is and how you are logged in")
    whoami.set_defaults(handler=_whoami)

    login = commands.add_parser(
        "login", help="store a GitLab personal access token (asked, not echoed)"
    )
    login.set_defaults(handler=_login)

    logout = commands.add_parser("logout", help="forget the stored token")
    logout.set_defaults(handler=_logout)

    search = commands.add_parser("search", help="search the catalog")
    search.add_argument("text", nargs="*", help="free text")
    search.add_argument("-c", "--collections", help="comma-separated collection ids")
    search.add_argument("--bbox", type=_floats, help="minx,miny,maxx,maxy (WGS84)")
    search.add_argument("--datetime", help="instant or interval, e.g. 2018-01-01/..")
    search.add_argument("--limit", type=int, default=100, help="most items to return")
    search.set_defaults(handler=_search)

    show = commands.add_parser("show", help="open one item")
    show.add_argument("item", help="item id (project path)")
    show.set_defaults(handler=_show)

    download = commands.add_parser("download", help="download an item's asset")
    download.add_argument("item", help="item id (project path)")
    download.add_argument("asset", nargs="?", help="asset key (default: the only or model asset)")
    download.add_argument("--to", default=".", help="folder (default: current)")
    download.set_defaults(handler=_download)

    track = commands.add_parser("track", help="log MLflow runs of this kernel to a project")
    track.add_argument("project", help="project path or id")
    track.add_argument("--experiment", help="experiment name (the ' (<id>)' suffix is added)")
    track.set_defaults(handler=_track)
    return parser


def _catalog() -> Any:
    from .catalog import Catalog

    return Catalog()


def _whoami(args: argparse.Namespace) -> str:
    from .catalog import default_tokens, run_sync
    from .platform import discover_endpoints

    endpoints = discover_endpoints()
    credential = run_sync(default_tokens().credential())
    source = credential.source if credential else "none (anonymous)"
    return (
        f"catalog: {endpoints.sharinghub_url or 'not configured'}\n"
        f"mlflow:  {endpoints.mlflow_url or 'none'}\n"
        f"gitlab:  {endpoints.gitlab_url or 'none'}\n"
        f"token:   {source}"
    )


def _login(args: argparse.Namespace) -> str:
    from .auth import check_token_shape, gitlab_username
    from .catalog import default_tokens, run_sync
    from .platform import discover_endpoints

    token = check_token_shape(getpass.getpass("GitLab personal access token: "))
    gitlab = discover_endpoints().gitlab_url
    who = run_sync(gitlab_username(gitlab, token)) if gitlab else None
    default_tokens().store.save(token)
    return f"Token stored (0600){f' for {who}' if who else ''}."


def _logout(args: argparse.Namespace) -> str:
    from .catalog import default_tokens

    return "Token forgotten." if default_tokens().store.forget() else "No stored token."


def _search(args: argparse.Namespace) -> ItemTable:
    collections = [c for c in (args.collections or "").split(",") if c]
    items = _catalog().search(
        collections=collections or None,
        bbox=args.bbox,
        datetime=args.datetime,
        q=" ".join(args.text) or None,
        max_items=args.limit,
    )
    return ItemTable(items)


def _show(args: argparse.Namespace) -> Any:
    return _catalog().item(args.item)


def _download(args: argparse.Namespace) -> str:
    catalog = _catalog()
    item = catalog.item(args.item)
    asset = args.asset
    if asset is None:
        keys = list(item.assets)
        models = [k for k in keys if "mlm:model" in (item.assets[k].roles or [])]
        if len(models) == 1 or len(keys) == 1:
            asset = (models or keys)[0]
        else:
            raise UsageError(f"{item.id} has several assets; name one of: {', '.join(keys)}")
    return str(catalog.download(item, asset, to=args.to))


def _track(args: argparse.Namespace) -> str:
    from .tracking import configure

    tracking = configure(args.project, args.experiment)
    where = f" in experiment {tracking.experiment!r}" if tracking.experiment else ""
    return f"MLflow now logs to {tracking.project}{where} ({tracking.tracking_uri})."


@magics_class
class MLOpsMagics(Magics):
    """The ``%mlops`` magic."""

    @line_cell_magic
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """MLOps for Earth observation: ``%mlops --help``."""
        try:
            args = build_parser().parse_args(_join_negative_values(shlex.split(line)))
            if args.command is None:
                build_parser().print_help()
                return None
            result = args.handler(args)
        except _Exit:
            return None
        except (UsageError, MLOpsError, ValueError) as error:
            message = error.message if isinstance(error, MLOpsError) else str(error)
            print(f"%mlops: {message}", file=sys.stderr)
            return None
        if isinstance(result, str):
            print(result)
            return None
        return result


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``."""
    ipython.register_magics(MLOpsMagics)
