# mypy: disable-error-code="no-untyped-call"
"""Training runs started from a notebook: a script or notebook in a subprocess, or a GitLab CI job.

The kernel creates the MLflow run first (in the project's experiment, with the ``--param``
values logged as parameters) and hands its id to the training through ``MLFLOW_RUN_ID``, so a
plain ``mlflow.start_run()`` in the script continues that run and the caller knows where the
results are. Tracking reaches the subprocess through the environment only
(``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_AUTH`` and the token sources); nothing is written to
the command line or printed. Scripts run under :mod:`jupyter_mlops.resilient`, so a tracking
blip neither slows nor kills them.

Notebooks are executed with nbclient by ``python -m jupyter_mlops.training NOTEBOOK``: parameters
go into a cell injected after the cell tagged ``parameters`` (papermill's convention), and cell
outputs are printed as they arrive so the caller can stream them.

Remotely, the same training runs as a GitLab CI pipeline of the project
(:data:`CI_TEMPLATE`, see :func:`ci_template`): :func:`start_pipeline` triggers it with
python-gitlab and :func:`follow_pipeline` streams the job log.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import BadRequestError, UpstreamError

#: "epoch 3/10", "Epoch 3 of 10", "step: 120/1000", "iteration 5/50" in a training's output.
PROGRESS = re.compile(r"\b(epoch|step|iter(?:ation)?)\s*[:=]?\s*(\d+)\s*(?:/|of)\s*(\d+)", re.I)

#: The shipped ``.gitlab-ci.yml`` template for ``%mlops train --remote``.
CI_TEMPLATE = "gitlab-ci-train.yml"

#: Name of the job the template defines (and whose log is streamed).
CI_JOB = "mlops-train"


def parse_progress(line: str) -> tuple[str, int, int] | None:
    """``("epoch", 3, 10)`` for a line reporting progress, else ``None``."""
    match = PROGRESS.search(line)
    if match is None:
        return None
    done, total = int(match[2]), int(match[3])
    if total <= 0 or done > total:
        return None
    return match[1].lower(), done, total


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}``."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadRequestError(f"A parameter is key=value, not {pair!r}.", reason="bad_param")
        params[key.strip()] = value
    return params


def command(path: Path, params: dict[str, str], python: str = sys.executable) -> list[str]:
    """The subprocess command line for a script (``--key=value`` arguments) or a notebook."""
    if path.suffix == ".ipynb":
        pairs = [f"{k}={v}" for k, v in params.items()]
        return [python, "-m", "jupyter_mlops.training", str(path), *_flags("--param", pairs)]
    if path.suffix != ".py":
        raise BadRequestError(f"{path.name}: train runs a .py script or an .ipynb notebook.")
    args = [f"--{key}={value}" for key, value in params.items()]
    return [python, "-m", "jupyter_mlops.resilient", str(path), *args]


def _flags(flag: str, values: list[str]) -> list[str]:
    return [item for value in values for item in (flag, value)]


def environment(
    tracking_uri: str, run_id: str, experiment_id: str, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The subprocess environment: MLflow pointed at the run; credentials from token sources."""
    from .tracking import AUTH_PROVIDER

    env = dict(os.environ if base is None else base)
    env.update(
        MLFLOW_TRACKING_URI=tracking_uri,
        MLFLOW_TRACKING_AUTH=AUTH_PROVIDER,
        MLFLOW_RUN_ID=run_id,
        MLFLOW_EXPERIMENT_ID=experiment_id,
        PYTHONUNBUFFERED="1",
    )
    return env


def stream(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None
) -> Generator[str, None, int]:
    """Run ``cmd`` and yield its output (stdout and stderr) line by line, live.

    The process's exit code is the generator's return value.
    """
    process = subprocess.Popen(  # noqa: S603 (the user's own training, as a list)
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    try:
        yield from process.stdout
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.terminate()
        process.wait()
    return process.returncode


# -- results ---------------------------------------------------------------------------------


@dataclass
class TrainingSummary:
    """What a training produced: status, run link, final metrics and their histories."""

    run_id: str
    status: str
    run_url: str
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    pipeline_url: str | None = None

    def __repr__(self) -> str:
        lines = [f"run {self.run_id} {self.status}: {self.run_url}"]
        if self.pipeline_url:
            lines.append(f"pipeline: {self.pipeline_url}")
        lines += [f"  {key} = {value:.6g}" for key, value in sorted(self.metrics.items())]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(key)}</td><td>{value:.6g}</td>"
            f"<td>{sparkline(self.history.get(key, []))}</td></tr>"
            for key, value in sorted(self.metrics.items())
        )
        pipeline = (
            f" &middot; <a href='{html.escape(self.pipeline_url)}' target='_blank'>pipeline</a>"
            if self.pipeline_url
            else ""
        )
        return (
            f"<div class='jp-mlops-train-summary'><p>Run <a href='{html.escape(self.run_url)}'"
            f" target='_blank'><code>{html.escape(self.run_id)}</code></a>"
            f" {html.escape(self.status)}{pipeline}</p>"
            "<table><thead><tr><th>Metric</th><th>Final</th><th>History</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def sparkline(values: list[float], width: int = 160, height: int = 32) -> str:
    """A small inline SVG line chart of a metric's history (no plotting library needed)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f"<svg class='jp-mlops-sparkline' width='{width}' height='{height}' role='img'"
        f" aria-label='{len(values)} points from {values[0]:.4g} to {values[-1]:.4g}'>"
        f"<polyline fill='none' stroke='currentColor' stroke-width='1.5' points='{points}'/>"
        "</svg>"
    )


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of a run, under the project's tracking URI."""
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def summarize(client: Any, tracking_uri: str, run_id: str, status: str) -> TrainingSummary:
    """Final metrics and histories of a run, read back from the server."""
    run = client.get_run(run_id)
    history = {
        key: [m.value for m in sorted(client.get_metric_history(run_id, key), key=_order)]
        for key in list(run.data.metrics)[:8]
    }
    return TrainingSummary(
        run_id,
        status,
        run_url(tracking_uri, run.info.experiment_id, run_id),
        dict(run.data.metrics),
        history,
    )


def _order(metric: Any) -> tuple[int, int]:
    return metric.step, metric.timestamp


# -- notebooks -------------------------------------------------------------------------------


def inject_parameters(notebook: Any, params: dict[str, str]) -> None:
    """Insert a cell assigning ``params`` after the cell tagged ``parameters`` (or first)."""
    import nbformat

    if not params:
        return
    source = "# Parameters given to %mlops train\n" + "\n".join(
        f"{key} = {_literal(value)}" for key, value in params.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    tagged = [
        index
        for index, existing in enumerate(notebook.cells)
        if "parameters" in existing.get("metadata", {}).get("tags", [])
    ]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)


def _literal(value: str) -> str:
    """A number stays a number, anything else becomes a string literal."""
    for kind in (int, float):
        try:
            kind(value)
        except ValueError:
            continue
        return value
    if value in {"True", "False", "None"}:
        return value
    return repr(value)


def run_notebook(path: Path, params: dict[str, str], output: Path | None = None) -> None:
    """Execute a notebook with nbclient, printing cell outputs as they arrive."""
    import nbformat
    from nbclient import NotebookClient

    class StreamingClient(NotebookClient):
        def output(self, outs: Any, msg: dict[str, Any], display_id: Any, cell_index: int) -> Any:
            content = msg.get("content", {})
            if msg["msg_type"] == "stream":
                print(content.get("text", ""), end="", flush=True)
            elif msg["msg_type"] in ("execute_result", "display_data"):
                text = content.get("data", {}).get("text/plain")
                if text:
                    print(text, flush=True)
            elif msg["msg_type"] == "error":
                print("\n".join(content.get("traceback", [])), flush=True)
            return super().output(outs, msg, display_id, cell_index)

    notebook = nbformat.read(path, as_version=4)
    inject_parameters(notebook, params)
    client = StreamingClient(notebook, timeout=None, resources={"metadata": {"path": path.parent}})
    try:
        client.execute()
    finally:
        if output is not None:
            nbformat.write(notebook, output)


# -- GitLab CI -------------------------------------------------------------------------------


def ci_template() -> str:
    """The documented ``.gitlab-ci.yml`` template for remote training."""
    return files("jupyter_mlops").joinpath("templates", CI_TEMPLATE).read_text()


@dataclass
class Pipeline:
    """A triggered training pipeline (web URL and ids only)."""

    project: str
    pipeline_id: int
    web_url: str


def gitlab_client(gitlab_url: str, token: str | None) -> Any:
    import gitlab

    return gitlab.Gitlab(gitlab_url, oauth_token=token) if token else gitlab.Gitlab(gitlab_url)


def start_pipeline(
    gl: Any,
    project: str,
    entry: str,
    params: dict[str, str],
    *,
    tracking_uri: str,
    run_id: str,
    experiment_id: str,
    ref: str | None = None,
) -> Pipeline:
    """Trigger the project's training pipeline (``POST /projects/:id/pipeline``).

    The pipeline gets the entry point, the parameters and MLflow's run coordinates as
    variables; the token for MLflow is a masked CI/CD variable of the project
    (``MLOPS_TRACKING_TOKEN``), never sent from here.
    """
    from gitlab.exceptions import GitlabError

    variables = {
        "MLOPS_TRAIN_ENTRY": entry,
        "MLOPS_TRAIN_ARGS": " ".join(f"--param {k}={v}" for k, v in params.items()),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
    }
    try:
        remote = gl.projects.get(project)
        pipeline = remote.pipelines.create(
            {
                "ref": ref or remote.default_branch or "main",
                "variables": [{"key": k, "value": v} for k, v in variables.items()],
            }
        )
    except GitlabError as error:
        raise UpstreamError(
            f"GitLab refused the pipeline: {error.error_message}", reason="pipeline_failed"
        ) from None
    return Pipeline(project, int(pipeline.id), str(pipeline.web_url))


FINISHED = {"success", "failed", "canceled", "skipped"}


def follow_pipeline(
    gl: Any, pipeline: Pipeline, on_text: Callable[[str], None], poll: float = 1.0
) -> str:
    """Stream the training job's log (``GET /projects/:id/jobs/:id/trace``) until the
    pipeline finishes; returns the pipeline's final status."""
    remote = gl.projects.get(pipeline.project, lazy=True)
    shown = 0
    job_id: int | None = None
    while True:
        status = remote.pipelines.get(pipeline.pipeline_id).status
        if job_id is None:
            jobs = remote.pipelines.get(pipeline.pipeline_id, lazy=True).jobs.list(all=True)
            named = [j for j in jobs if j.name == CI_JOB] or jobs
            job_id = int(named[0].id) if named else None
        if job_id is not None:
            trace = remote.jobs.get(job_id, lazy=True).trace()
            text = trace.decode("utf-8", "replace") if isinstance(trace, bytes) else str(trace)
            if len(text) > shown:
                on_text(text[shown:])
                shown = len(text)
        if status in FINISHED:
            return str(status)
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    """``python -m jupyter_mlops.training NOTEBOOK [--param k=v ...] [--output OUT]``."""
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.training")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--param", action="append", default=[], help="key=value")
    parser.add_argument("--output", type=Path, help="where to write the executed notebook")
    args = parser.parse_args(argv)
    if args.notebook.suffix != ".ipynb":  # a script: run it the same way train does
        from . import resilient

        return resilient.main([str(args.notebook), *(f"--{p}" for p in args.param)])
    try:
        run_notebook(args.notebook, parse_params(args.param), args.output)
    except Exception as error:  # the cell's traceback was already streamed
        print(f"notebook failed: {type(error).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
