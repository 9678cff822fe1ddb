"""``%mlops train --remote``: the shipped ``.gitlab-ci.yml`` template run as a pipeline by the
GitLab test double's runner (python-gitlab over HTTP), tracking to the embedded platform."""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

from jupyter_mlops.training import TrainingSummary, ci_template
from tests.gitlab_double import DEVELOPER, REPORTER, GitLabDouble, Project, User
from tests.notebooks.test_magics_training import PROJECT, TRAIN_SCRIPT

TOKEN = "alice-secret-token"


@pytest.fixture
def gitlab_double(platform_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabDouble]:
    users = [User("alice", tokens=[TOKEN]), User("bob", tokens=["bob-token"])]
    projects = [
        Project(
            PROJECT, visibility="public", topics=["sharinghub:aimodel"],
            files={".gitlab-ci.yml": ci_template(), "train.py": TRAIN_SCRIPT,
                   "README.md": "# EuroSAT\n"},
            members={"alice": DEVELOPER, "bob": REPORTER},
        ),
        Project("demo/no-ci", visibility="public", files={"README.md": "#\n"},
                members={"alice": DEVELOPER}),
    ]  # fmt: skip
    with GitLabDouble(users, projects) as double:
        monkeypatch.setenv("MLOPS_GITLAB_URL", double.url)
        yield double


def test_remote_training_runs_the_ci_template_and_reports_the_run(
    shell: InteractiveShell,
    gitlab_double: GitLabDouble,
    platform: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a tracked project whose repository holds the template and a script, and a user
    # whose GitLab token comes from the environment
    shell.run_line_magic("mlops", f"track {PROJECT}")
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)

    # When the script is trained remotely
    summary = shell.run_line_magic(
        "mlops", "train train.py --remote --param lr=0.5 --param epochs=3 --experiment ci"
    )

    # Then a pipeline ran the job, whose log was streamed, and the run is reported
    out = capsys.readouterr().out
    assert isinstance(summary, TrainingSummary)
    (pipeline,) = gitlab_double._app.ci.pipelines.values()
    assert [job.name for job in pipeline.jobs] == ["mlops-train"]
    assert "$ python -m jupyter_mlops.training" in out
    assert "epoch 3/3 loss=0.1250" in out
    assert "Job succeeded" in out
    assert summary.status == "FINISHED"
    assert summary.metrics == {"loss": 0.125, "accuracy": 0.875}
    assert summary.pipeline_url == f"{gitlab_double.url}/{PROJECT}/-/pipelines/{pipeline.id}"
    uri = f"{platform}/mlflow/{PROJECT}/tracking/"
    run = MlflowClient(uri).get_run(summary.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.5", "epochs": "3"}
    # and the GitLab API was used as documented, the token never leaving the kernel's headers
    calls = {(method, path) for method, path, _ in gitlab_double.requests}
    project_id = pipeline.project.id
    assert ("POST", f"projects/{project_id}/pipeline") in calls
    assert ("GET", f"projects/{PROJECT}/pipelines/{pipeline.id}/jobs") in calls
    assert ("GET", f"projects/{PROJECT}/jobs/{pipeline.jobs[0].id}/trace") in calls
    assert pipeline.variables["MLFLOW_RUN_ID"] == summary.run_id
    assert not any(TOKEN in value for value in pipeline.variables.values())
    assert TOKEN not in out + pipeline.jobs[0].trace


def test_pipeline_api_refusals_follow_gitlab(gitlab_double: GitLabDouble) -> None:
    # Given python-gitlab clients for a developer and a reporter
    alice = gitlab.Gitlab(gitlab_double.url, private_token=TOKEN)
    bob = gitlab.Gitlab(gitlab_double.url, private_token="bob-token")

    # When pipelines are asked for without rights, without CI config, without matching rules
    with pytest.raises(gitlab.GitlabCreateError) as reporter:
        bob.projects.get(PROJECT).pipelines.create({"ref": "main"})
    with pytest.raises(gitlab.GitlabCreateError) as no_ci:
        alice.projects.get("demo/no-ci").pipelines.create({"ref": "main"})
    with pytest.raises(gitlab.GitlabCreateError) as no_job:
        alice.projects.get(PROJECT).pipelines.create({"ref": "main"})  # no MLOPS_TRAIN_ENTRY

    # Then the answers are GitLab's
    assert reporter.value.response_code == 403
    assert no_ci.value.response_code == 400
    assert "Missing CI config file" in str(no_ci.value.error_message)
    assert no_job.value.response_code == 400
    assert "rules configuration prevented any jobs" in str(no_job.value.error_message)
    assert gitlab_double._app.ci.pipelines == {}
