"""Log this notebook: one MLflow run recording a notebook as it is saved, with its context.

The JupyterLab frontend executes :func:`simple_variables` and :func:`log_notebook` silently in the
notebook's kernel once one-click tracking (:mod:`jupyter_mlops.notebook_tracking`) is active. The
run holds the saved ``.ipynb`` and the kernel's environment (``pip freeze``, or ``conda list
--export`` in a conda environment) as artifacts, the git commit of the repository the notebook
lives in as tags (remote URL without credentials), and the variables the user selected as
parameters. Both answers display as small JSON documents the frontend reads; neither holds a
token.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import notebook_tracking
from .errors import BadRequestError

#: MIME type of the variable list the frontend reads.
VARIABLES_MIME = "application/vnd.jupyter-mlops.variables+json"
#: MIME type of the logged run the frontend reads.
LOGGED_MIME = "application/vnd.jupyter-mlops.logged-run+json"

#: Types of the values that can be logged as parameters.
SIMPLE_TYPES = (bool, int, float, str)
#: MLflow's limit of a parameter value.
MAX_PARAM_LENGTH = 6000
#: Names of the IPython namespace that are no user variables.
_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
#: ``scheme://user:password@`` in a URL, anywhere in a text.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


class TrackingNotActiveError(BadRequestError):
    """The kernel is not tracking a project: there is nowhere to log the run."""

    default_reason = "not_tracking"


@dataclass
class Variable:
    """A simple variable of the kernel, as the parameter picker offers it."""

    name: str
    type: str
    repr: str


@dataclass
class VariableList:
    """The kernel's simple variables (displays as JSON for the frontend)."""

    variables: list[Variable]

    def as_dict(self) -> dict[str, Any]:
        return {"variables": [asdict(variable) for variable in self.variables]}

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        lines = [f"{v.name}: {v.type} = {v.repr}" for v in self.variables]
        return {VARIABLES_MIME: self.as_dict(), "text/plain": "\n".join(lines) or "(none)"}


@dataclass
class LoggedRun:
    """The run :func:`log_notebook` recorded (no secret in it)."""

    run_id: str
    run_name: str
    experiment_id: str
    experiment: str
    project: str
    run_url: str
    artifacts: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    git: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        text = f"Logged notebook as run {self.run_name} ({self.run_id}): {self.run_url}"
        return {LOGGED_MIME: self.as_dict(), "text/plain": text}

    def __repr__(self) -> str:
        return f"LoggedRun(run_id={self.run_id!r}, run_url={self.run_url!r})"


def _namespace(namespace: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if namespace is not None:
        return namespace
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: the caller's module globals are not reachable
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _is_simple(value: Any) -> bool:
    return type(value) in SIMPLE_TYPES


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def simple_variables(namespace: Mapping[str, Any] | None = None) -> VariableList:
    """The variables of the kernel (or ``namespace``) that can be logged as parameters.

    Only ``int``, ``float``, ``str`` and ``bool`` values, by name; names starting with ``_`` and
    IPython's own names are left out.
    """
    names = _namespace(namespace)
    found = [
        Variable(name, type(value).__name__, _short(value))
        for name, value in names.items()
        if not name.startswith("_") and name not in _IPYTHON_NAMES and _is_simple(value)
    ]
    return VariableList(sorted(found, key=lambda variable: variable.name))


def _parameters(
    params: Iterable[str] | Mapping[str, Any] | None, namespace: Mapping[str, Any] | None
) -> dict[str, str]:
    """Parameter name -> MLflow string value; refuses missing names and non-simple values."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        chosen = dict(params)
    else:
        names = _namespace(namespace)
        missing = [name for name in params if name not in names]
        if missing:
            raise BadRequestError(
                f"No variable named {', '.join(map(repr, missing))} in this kernel.",
                reason="unknown_variable",
            )
        chosen = {name: names[name] for name in params}
    values: dict[str, str] = {}
    for name, value in chosen.items():
        if not _is_simple(value):
            raise BadRequestError(
                f"Parameter {name!r} is a {type(value).__name__}: only int, float, str and "
                "bool values can be logged as parameters.",
                reason="not_a_simple_value",
            )
        text = str(value)
        if len(text) > MAX_PARAM_LENGTH:
            raise BadRequestError(
                f"Parameter {name!r} is {len(text)} characters long: MLflow keeps at most "
                f"{MAX_PARAM_LENGTH}.",
                reason="param_too_long",
            )
        values[name] = text
    return values


def strip_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>", text)


def _clean_remote(url: str) -> str:
    """A git remote URL without credentials (``git@host:path`` kept as it is)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def _git(directory: Path, *args: str) -> str | None:
    """Output of a git command in ``directory``, or None when git or the repository is missing."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 (git, fixed arguments, as a list)
            [git, "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_tags(notebook: Path) -> dict[str, str]:
    """MLflow tags of the git repository holding ``notebook`` (empty outside of one)."""
    directory = notebook.parent
    commit = _git(directory, "rev-parse", "--verify", "HEAD")
    if not commit:
        return {}
    status = _git(directory, "status", "--porcelain")
    tags = {
        "mlflow.source.git.commit": commit,
        "jupyter_mlops.git.dirty": "true" if status else "false",
    }
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags["mlflow.source.git.branch"] = branch
    remotes = (_git(directory, "remote") or "").split()
    if remotes:
        remote = "origin" if "origin" in remotes else remotes[0]
        url = _git(directory, "remote", "get-url", remote)
        if url:
            tags["mlflow.source.git.repoURL"] = _clean_remote(url)
    return tags


def _conda() -> str | None:
    """The conda executable when this kernel runs in a conda environment."""
    if not (Path(sys.prefix) / "conda-meta").is_dir():
        return None
    return os.environ.get("CONDA_EXE") or shutil.which("conda") or shutil.which("mamba")


def environment() -> tuple[str, str]:
    """(file name, content) describing the kernel's packages.

    ``conda list --export`` in a conda environment, else ``pip freeze`` of this interpreter, else
    the installed distributions read by :mod:`importlib.metadata`.
    """
    conda = _conda()
    commands = []
    if conda:
        commands.append(("conda.txt", [conda, "list", "--export", "--prefix", sys.prefix]))
    commands.append(("requirements.txt", [sys.executable, "-m", "pip", "freeze"]))
    for name, command in commands:
        try:
            done = subprocess.run(  # noqa: S603 (this interpreter's pip or conda, as a list)
                command, capture_output=True, text=True, timeout=300, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout.strip():
            return name, strip_credentials(done.stdout)
    from importlib.metadata import distributions

    lines = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()})
    return "requirements.txt", "\n".join(lines) + "\n"


def _experiment_id(mlflow: Any, name: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        experiment = mlflow.set_experiment(name)
    return str(experiment.experiment_id)


def log_notebook(
    path: str | os.PathLike[str],
    params: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    run_name: str | None = None,
    namespace: Mapping[str, Any] | None = None,
) -> LoggedRun:
    """Record a run of the saved notebook ``path`` in the project this kernel tracks.

    Parameters
    ----------
    path
        The saved ``.ipynb`` (``~`` is expanded; relative to the kernel's working directory).
    params
        Names of kernel variables to log as parameters (or a mapping name -> value); only
        ``int``, ``float``, ``str`` and ``bool`` values are accepted.
    run_name
        Name of the run; default: MLflow picks one.
    namespace
        Where the variables are looked up; default: the IPython user namespace.

    Raises
    ------
    TrackingNotActiveError
        Tracking is not active in this kernel.
    BadRequestError
        The notebook is missing, or a parameter is unknown or not a simple value.
    """
    session = notebook_tracking.state()
    if not session.active or not session.experiment or not session.tracking_uri:
        raise TrackingNotActiveError(
            "MLflow tracking is not active in this kernel: click 'Track Notebook with MLflow' "
            "(or call jupyter_mlops.notebook_tracking.start) first."
        )
    notebook = Path(os.path.expanduser(os.fspath(path))).resolve()
    if not notebook.is_file():
        raise BadRequestError(f"No notebook file at {notebook}: save it first.", "not_found")
    values = _parameters(params, namespace)

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Param, RunStatus

    from .training import run_url

    experiment_id = _experiment_id(mlflow, session.experiment)
    git = git_tags(notebook)
    tags = {
        "mlflow.source.name": notebook.name,
        "mlflow.source.type": "NOTEBOOK",
        "jupyter_mlops.logged_notebook": "true",
        **git,
    }
    client = MlflowClient(session.tracking_uri)
    run = client.create_run(experiment_id, tags=tags, run_name=run_name)
    run_id = run.info.run_id
    artifacts = [f"notebook/{notebook.name}"]
    try:
        client.log_artifact(run_id, str(notebook), "notebook")
        name, content = environment()
        with tempfile.TemporaryDirectory(prefix="jupyter-mlops-env-") as scratch:
            target = Path(scratch) / name
            target.write_text(content, encoding="utf-8")
            client.log_artifact(run_id, str(target), "environment")
        artifacts.append(f"environment/{name}")
        if values:
            client.log_batch(run_id, params=[Param(k, v) for k, v in values.items()])
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return LoggedRun(
        run_id=run_id,
        run_name=run.info.run_name,
        experiment_id=experiment_id,
        experiment=session.experiment,
        project=session.project or "",
        run_url=run_url(session.tracking_uri, experiment_id, run_id),
        artifacts=artifacts,
        params=values,
        git=git,
    )
