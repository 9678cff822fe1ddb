"""Log this notebook, kernel side: what the toolbar button executes in a real IPython kernel that
tracks a project of the embedded platform (MLflow behind the SharingHub layer, over HTTP)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from jupyter_mlops.errors import BadRequestError
from jupyter_mlops.notebook_logging import (
    LOGGED_MIME,
    VARIABLES_MIME,
    log_notebook,
    simple_variables,
    strip_credentials,
)
from tests.extension.test_notebook_tracking import PROJECT, SECRET, Kernel
from tests.extension.test_notebook_tracking import kernel as kernel
from tests.tracking import conftest as tracking_fixtures

store = tracking_fixtures.store
platform = tracking_fixtures.platform

MODULE = "__import__('jupyter_mlops.notebook_logging').notebook_logging"
VARIABLES = "lr = 0.05\nepochs = 7\nmodel_name = 'resnet'\nshuffle = True\nlayers = [64, 32]\n"


def write_notebook(path: Path) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": VARIABLES, "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": "# hi"},
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, indent=1))
    return path


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def log(kernel: Kernel, path: Path, params: list[str]) -> dict[str, Any]:
    """Run ``log_notebook`` like the frontend does; the logged run's JSON document."""
    reply = kernel.run("", f"{MODULE}.log_notebook({str(path)!r}, {params!r})")
    assert reply["status"] == "ok", reply
    assert SECRET not in json.dumps(reply)
    result = reply["user_expressions"]["state"]
    assert result["status"] == "ok", result
    data: dict[str, Any] = result["data"][LOGGED_MIME]
    assert data["run_id"] in result["data"]["text/plain"]
    return data


@pytest.fixture(scope="module")
def tracked(kernel: Kernel) -> Kernel:
    started = kernel.run(
        f"import jupyter_mlops.notebook_tracking as _t; _t.start({PROJECT!r}, 'logged notebooks')"
    )
    assert started["status"] == "ok", started
    kernel.run(VARIABLES)
    return kernel


def client_of(run: dict[str, Any], platform: str) -> MlflowClient:
    return MlflowClient(f"{platform}/mlflow/{PROJECT}/tracking/")


def test_credentials_are_stripped_from_urls() -> None:
    # Given: a pip freeze line and a git remote carrying credentials
    text = "pkg @ git+https://oauth2:glpat-abc@gitlab.example/g/p.git@v1\nother==1.0\n"

    # When / Then: the user:password part is gone, the rest is kept
    assert strip_credentials(text) == "pkg @ git+https://gitlab.example/g/p.git@v1\nother==1.0\n"


def test_simple_variables_offer_only_loggable_values() -> None:
    # Given: a namespace with simple, complex, private and IPython names
    namespace = {"lr": 0.1, "n": 3, "tag": "a", "ok": False, "data": [1], "_x": 1, "In": ""}

    # When
    listed = simple_variables(namespace).as_dict()["variables"]

    # Then: the four simple values, sorted by name, with their type and repr
    assert [(v["name"], v["type"], v["repr"]) for v in listed] == [
        ("lr", "float", "0.1"),
        ("n", "int", "3"),
        ("ok", "bool", "False"),
        ("tag", "str", "'a'"),
    ]


def test_without_tracking_logging_is_a_clear_error(tmp_path: Path) -> None:
    # Given: this process does not track any project
    notebook = write_notebook(tmp_path / "n.ipynb")

    # When / Then
    with pytest.raises(BadRequestError, match="tracking is not active") as raised:
        log_notebook(notebook, {"lr": 0.1})
    assert raised.value.reason == "not_tracking"


def test_kernel_lists_its_simple_variables(tracked: Kernel) -> None:
    # When: the frontend asks the kernel for the variables it can offer
    reply = tracked.run("", f"{MODULE}.simple_variables()")

    # Then: the user's simple variables, not the list nor the tracking module alias
    listed = reply["user_expressions"]["state"]["data"][VARIABLES_MIME]["variables"]
    names = {v["name"]: v["type"] for v in listed}
    assert names == {"lr": "float", "epochs": "int", "model_name": "str", "shuffle": "bool"}


def test_log_notebook_in_a_git_repository(tracked: Kernel, platform: str, tmp_path: Path) -> None:
    # Given: a notebook committed in a git repository whose remote URL carries credentials
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    notebook = write_notebook(repo / "train.ipynb")
    git(repo, "add", "train.ipynb")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://oauth2:glpat-remote-secret@git.example/g/p.git")

    # When: the user logs the notebook with three selected variables
    logged = log(tracked, notebook, ["lr", "epochs", "shuffle"])

    # Then: the run holds exactly these parameters, as MLflow strings
    client = client_of(logged, platform)
    with tracking_fixtures.as_token(SECRET):
        run = client.get_run(logged["run_id"])
        assert run.data.params == {"lr": "0.05", "epochs": "7", "shuffle": "True"}
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == logged["experiment_id"]

        # And: the commit, a clean tree and the remote without credentials as tags
        assert run.data.tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD")
        assert run.data.tags["jupyter_mlops.git.dirty"] == "false"
        assert run.data.tags["mlflow.source.git.repoURL"] == "https://git.example/g/p.git"
        assert "glpat-remote-secret" not in json.dumps(logged)

        # And: the notebook snapshot is the saved file, the environment lists the packages
        target = tmp_path / "downloaded"
        target.mkdir()
        client.download_artifacts(logged["run_id"], "", str(target))
    assert (target / "notebook" / "train.ipynb").read_bytes() == notebook.read_bytes()
    environment = (target / "environment" / "requirements.txt").read_text()
    assert "mlflow" in environment.lower()
    assert sorted(logged["artifacts"]) == ["environment/requirements.txt", "notebook/train.ipynb"]
    assert logged["run_url"].endswith(
        f"#/experiments/{logged['experiment_id']}/runs/{run.info.run_id}"
    )

    # When: the notebook changes after the commit
    notebook.write_text(notebook.read_text() + "\n")
    dirty = log(tracked, notebook, [])

    # Then: the run says the tree was dirty
    with tracking_fixtures.as_token(SECRET):
        assert client.get_run(dirty["run_id"]).data.tags["jupyter_mlops.git.dirty"] == "true"


def test_log_notebook_outside_git_has_no_git_tags(
    tracked: Kernel, platform: str, tmp_path: Path
) -> None:
    # Given: a notebook in a plain directory
    notebook = write_notebook(tmp_path / "plain.ipynb")

    # When
    logged = log(tracked, notebook, ["model_name"])

    # Then: parameters and artifacts, but no git tag at all
    with tracking_fixtures.as_token(SECRET):
        run = client_of(logged, platform).get_run(logged["run_id"])
    assert run.data.params == {"model_name": "resnet"}
    assert logged["git"] == {}
    assert not [tag for tag in run.data.tags if "git" in tag]


def test_a_variable_that_is_no_simple_value_is_refused(tracked: Kernel, tmp_path: Path) -> None:
    # Given: a saved notebook and a list variable in the kernel
    notebook = write_notebook(tmp_path / "refused.ipynb")

    # When: the user selects the list as a parameter
    reply = tracked.run(f"{MODULE}.log_notebook({str(notebook)!r}, ['lr', 'layers'])")

    # Then: a typed error naming the variable and what is accepted
    assert reply["status"] == "error"
    assert reply["ename"] == "BadRequestError"
    assert "'layers' is a list" in reply["evalue"]
    assert "int, float, str and bool" in reply["evalue"]


def test_no_token_in_any_kernel_output(tracked: Kernel) -> None:
    # Given: every test above ran in this kernel (and printed its results)
    tracked.run(f"{MODULE}.simple_variables()")

    # Then: no message the kernel sent contained the token
    assert tracked.iopub
    assert SECRET not in json.dumps([m["content"] for m in tracked.iopub], default=str)
    tracked.run("_t.stop()")
