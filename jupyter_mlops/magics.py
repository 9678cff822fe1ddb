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
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
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
        from .footprints import sketch

        return (
            f"{sketch((item.bbox for item in self.items), width=240)}"
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

    log = commands.add_parser(
        "log",
        help="log params, metrics and artifacts to the active run",
        description="Log to the active MLflow run (started if none). NAMEs are variables: "
        "numbers become metrics (params with --as-params), dicts and anything else params. "
        "As a cell magic "
        "(%%%%mlops log), the cell runs first and the variables it assigns are logged.",
    )
    log.add_argument("names", nargs="*", metavar="NAME", help="variables to log")
    log.add_argument("--param", action="append", default=[], metavar="K=V")
    log.add_argument("--metric", action="append", default=[], metavar="K=V")
    log.add_argument("--artifact", action="append", default=[], metavar="PATH")
    log.add_argument("--step", type=int, help="step of the metrics")
    log.add_argument(
        "-p", "--as-params", action="store_true", help="log the variables as params, numbers too"
    )
    log.set_defaults(handler=_log)

    register = commands.add_parser("register", help="register a run's model in the project")
    register.add_argument("run", nargs="?", default="last", help="run id (default: last run)")
    register.add_argument("--name", help="model name (the ' (<id>)' suffix is added)")
    register.add_argument("--alias", help="alias for the new version, e.g. champion")
    register.add_argument("--artifact-path", help="model folder in the run's artifacts")
    register.set_defaults(handler=_register)

    train = commands.add_parser(
        "train",
        help="run a training script or notebook with tracking configured",
        description="Runs SCRIPT_OR_NOTEBOOK in a subprocess (or, with --remote, as a GitLab CI "
        "pipeline of the tracked project) in a new run of the tracked project, streams its "
        "output and ends with a summary.",
    )
    train.add_argument("entry", metavar="SCRIPT_OR_NOTEBOOK")
    train.add_argument("--param", action="append", default=[], metavar="K=V")
    train.add_argument("--experiment", help="experiment name (the ' (<id>)' suffix is added)")
    train.add_argument("--remote", action="store_true", help="run as a GitLab CI pipeline")
    train.add_argument("--ref", help="branch or tag for --remote (default: default branch)")
    train.set_defaults(handler=_train)

    publish = commands.add_parser(
        "publish",
        help="publish a model or dataset to the catalog (validated first)",
        description="Same options as jupyter_mlops.publish(); see help(jupyter_mlops.publish).",
    )
    publish.add_argument("name", help="display name; the project path defaults to its slug")
    publish.add_argument("--kind", choices=["model", "dataset"], default="model")
    publish.add_argument("--namespace", help="GitLab group or user namespace")
    publish.add_argument("--path", help="project path inside the namespace")
    publish.add_argument("--title")
    publish.add_argument("--description", default="")
    publish.add_argument("--readme", help="README body (Markdown)")
    publish.add_argument("--visibility", choices=["private", "internal", "public"])
    publish.add_argument("--license", help="SPDX identifier, e.g. MIT")
    publish.add_argument("--bbox", type=_floats, help="west,south,east,north (WGS84)")
    publish.add_argument("--temporal", help="START/END, ISO dates, '..' for open")
    publish.add_argument("--keyword", action="append", default=[], dest="keywords")
    publish.add_argument("--related", action="append", default=[], metavar="KIND=PROJECT")
    publish.add_argument(
        "--file", action="append", default=[], dest="files", metavar="PATH",
        help="a file or folder to publish (repeat)",
    )  # fmt: skip
    publish.add_argument("--mlflow-model", help="models:/<name>/<version> to publish")
    publish.add_argument(
        "--mlm", action="append", default=[], metavar="FIELD=VALUE",
        help="MLM field without prefix (VALUE may be JSON), e.g. tasks='[\"classification\"]'",
    )  # fmt: skip
    publish.add_argument("--message", help="commit message")
    publish.add_argument("--dry-run", action="store_true", help="validate and show the plan")
    publish.set_defaults(handler=_publish)
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


def _tracked() -> tuple[Any, str]:
    """MLflow's client and the current tracking URI; a clear error when nothing is tracked."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        raise UsageError("No project is tracked: run %mlops track <project> first.")
    return mlflow.MlflowClient(uri, registry_uri=uri), uri


def _number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _log(args: argparse.Namespace) -> str:
    import mlflow

    from .training import parse_params

    _tracked()
    namespace: dict[str, Any] = args.user_ns
    params: dict[str, Any] = parse_params(args.param)
    metrics: dict[str, float] = {k: float(v) for k, v in parse_params(args.metric).items()}
    for name in args.names:
        if name not in namespace:
            raise UsageError(f"No variable named {name!r}.")
        value = namespace[name]
        if _number(value) and not args.as_params:
            metrics[name] = float(value)
        elif isinstance(value, dict):
            params.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            params[name] = value
    run = mlflow.active_run() or mlflow.start_run()
    if params:
        mlflow.log_params(params)
    if metrics:
        mlflow.log_metrics(metrics, step=args.step)
    for path in args.artifact:
        if os.path.isdir(path):
            mlflow.log_artifacts(path, artifact_path=os.path.basename(os.path.normpath(path)))
        else:
            mlflow.log_artifact(path)
    return (
        f"Logged {len(params)} param(s), {len(metrics)} metric(s), {len(args.artifact)}"
        f" artifact(s) to run {run.info.run_id}."
    )


def _register(args: argparse.Namespace) -> str:
    import mlflow

    from .tracking import register

    _, uri = _tracked()
    run_id = args.run
    if run_id == "last":
        last = mlflow.active_run() or mlflow.last_active_run()
        if last is None:
            raise UsageError("No run in this kernel yet: name one (%mlops register RUN_ID).")
        run_id = last.info.run_id
    done = register(
        run_id, args.name, args.alias, tracking_uri=uri, artifact_path=args.artifact_path
    )
    alias = f", alias {done.alias!r}" if done.alias else ""
    return f"Registered {done.name!r} version {done.version}{alias} from run {run_id}."


def _train(args: argparse.Namespace) -> Any:
    from tqdm.auto import tqdm

    from . import training

    client, uri = _tracked()
    params = training.parse_params(args.param)
    experiment_id = _experiment_id(client, args.experiment)
    if not args.remote and not os.path.exists(args.entry):
        raise UsageError(f"No such script or notebook: {args.entry}")
    run = client.create_run(experiment_id, tags={"mlflow.source.name": args.entry})
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    print(f"Run {run_id}: {training.run_url(uri, experiment_id, run_id)}", flush=True)
    bar: Any = None

    def show(text: str) -> None:
        nonlocal bar
        for line in text.splitlines(keepends=True):
            print(line, end="", flush=True)
            progress = training.parse_progress(line)
            if progress is None:
                continue
            unit, done, total = progress
            if bar is None or bar.total != total:
                if bar is not None:
                    bar.close()
                bar = tqdm(total=total, unit=unit, desc=args.entry, leave=True)
            bar.update(done - bar.n)

    pipeline_url = None
    try:
        if args.remote:
            status, pipeline_url = _train_remote(args, params, uri, run_id, experiment_id, show)
        else:
            env = training.environment(uri, run_id, experiment_id)
            lines = training.stream(training.command(Path(args.entry), params), env)
            code = 0
            while True:
                try:
                    show(next(lines))
                except StopIteration as finished:
                    code = finished.value
                    break
            status = "FINISHED" if code == 0 else "FAILED"
    except BaseException:
        client.set_terminated(run_id, "KILLED")
        raise
    finally:
        if bar is not None:
            bar.close()
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status)
    summary = training.summarize(client, uri, run_id, status)
    summary.pipeline_url = pipeline_url
    return summary


def _experiment_id(client: Any, experiment: str | None) -> str:
    """The experiment to train in: ``--experiment`` (suffixed), else the tracked one."""
    import mlflow

    from .tracking import project_name

    if experiment:
        project_id = _tracked_project_id()
        name = project_name(experiment, project_id)
        found = client.get_experiment_by_name(name)
        return str(found.experiment_id if found else client.create_experiment(name))
    current = mlflow.tracking.fluent._get_experiment_id()
    if current in (None, "0"):
        raise UsageError("Name an experiment: --experiment NAME (or %mlops track --experiment).")
    return str(current)


def _tracked_project_id() -> int:
    from .catalog import Catalog

    project = _tracked_project()
    return int(Catalog().check(project)["id"])


def _tracked_project() -> str:
    """The project path in the current tracking URI ``<mlflow>/<path>/tracking/``."""
    import mlflow

    from .platform import discover_endpoints

    uri = mlflow.get_tracking_uri().rstrip("/")
    base = (discover_endpoints().mlflow_url or "").rstrip("/")
    if not base or not uri.startswith(base + "/") or not uri.endswith("/tracking"):
        raise UsageError("No project is tracked: run %mlops track <project> first.")
    from urllib.parse import unquote

    return unquote(uri[len(base) + 1 : -len("/tracking")])


def _train_remote(
    args: argparse.Namespace,
    params: dict[str, str],
    uri: str,
    run_id: str,
    experiment_id: str,
    show: Callable[[str], None],
) -> tuple[str, str]:
    from . import training
    from .catalog import default_tokens, run_sync
    from .platform import discover_endpoints

    gitlab_url = discover_endpoints().gitlab_url
    if not gitlab_url:
        raise UsageError("This platform has no GitLab: --remote needs one.")
    credential = run_sync(default_tokens().credential())
    gl = training.gitlab_client(gitlab_url, credential.token if credential else None)
    pipeline = training.start_pipeline(
        gl, _tracked_project(), args.entry, params,
        tracking_uri=uri, run_id=run_id, experiment_id=experiment_id, ref=args.ref,
    )  # fmt: skip
    print(f"Pipeline {pipeline.pipeline_id}: {pipeline.web_url}", flush=True)
    status = training.follow_pipeline(gl, pipeline, show)
    return ("FINISHED" if status == "success" else "FAILED"), pipeline.web_url


def _json_or_text(value: str) -> Any:
    import json

    try:
        return json.loads(value)
    except ValueError:
        return value


def _publish(args: argparse.Namespace) -> Any:
    from .publish import publish
    from .training import parse_params

    temporal = None
    if args.temporal:
        start, sep, end = args.temporal.partition("/")
        if not sep:
            raise UsageError("--temporal is START/END ('..' for an open end).")
        temporal = [None if t in ("", "..") else t for t in (start, end)]
    result = publish(
        args.name, kind=args.kind, namespace=args.namespace, path=args.path, title=args.title,
        description=args.description, readme=args.readme, visibility=args.visibility,
        license=args.license, bbox=args.bbox, temporal=temporal, keywords=args.keywords,
        related=parse_params(args.related) or None, files=args.files,
        mlflow_model=args.mlflow_model,
        mlm={k: _json_or_text(v) for k, v in parse_params(args.mlm).items()} or None,
        message=args.message, dry_run=args.dry_run,
    )  # fmt: skip
    return result


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
            args.user_ns = self.shell.user_ns if self.shell is not None else {}
            if cell is not None and args.command == "log":
                args.names = [*args.names, *_assigned_by(self.shell, cell)]
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


def _assigned_by(shell: Any, cell: str) -> list[str]:
    """Run ``cell`` in the user namespace; the names it bound or rebound, in order."""
    import ast

    names: list[str] = []
    for node in ast.walk(ast.parse(cell)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
            names.append(node.id)
    result = shell.run_cell(cell, store_history=False)
    if not result.success:
        raise UsageError("The cell failed; nothing was logged.")
    return [name for name in names if not name.startswith("_") and name in shell.user_ns]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``."""
    ipython.register_magics(MLOpsMagics)
