"""publish() against the GitLab test double over real HTTP (python-gitlab + Git LFS batch API).

Each test reads as a story: a user with a token, a namespace, files in a workspace; publish;
then what GitLab holds: one project, its topics, its commits, its LFS objects. Failures are
injected at every step, and a rerun must finish with exactly one project and no commit of
unchanged files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_mlops import publish
from jupyter_mlops.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    PublishValidationError,
    UpstreamError,
)
from jupyter_mlops.publish import ProgressEvent, PublishPlan, PublishResult
from jupyter_mlops.publishing.gitlab import GitLabTarget
from tests.gitlab_double import DEVELOPER, GUEST, MAINTAINER, GitLabDouble, Project, User
from tests.gitlab_double.model import Group

MLM = {"architecture": "MLP", "tasks": ["classification"]}


@pytest.fixture
def gitlab() -> Iterator[GitLabDouble]:
    users = [
        User("alice", tokens=["alice-token"]),
        User("bob", tokens=["bob-token"]),
        User("gina", tokens=["gina-token"]),
    ]
    with GitLabDouble(users, []) as double:
        double.state.add_group(Group("eo-team", members={"alice": DEVELOPER, "gina": GUEST}))
        yield double


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small model workspace: an ONNX model (LFS by type), a big weights file (LFS by
    size), a text file and a folder."""
    from tests.extension.onnx_models import logistic_regression_onnx

    root = tmp_path / "work"
    (root / "data").mkdir(parents=True)
    (root / "model.onnx").write_bytes(logistic_regression_onnx())
    (root / "weights.raw").write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    (root / "classes.txt").write_text("water\nland\n")
    (root / "data" / "sample.csv").write_text("a,b\n1,2\n")
    return root


def target(gitlab: GitLabDouble, token: str = "alice-token") -> GitLabTarget:
    return GitLabTarget(gitlab.url, token, catalog_url="http://catalog.example")


def run(gitlab: GitLabDouble, workspace: Path, **overrides: Any) -> PublishResult:
    arguments: dict[str, Any] = {
        "namespace": "eo-team",
        "files": ["model.onnx", "weights.raw", "classes.txt", "data"],
        "bbox": [-10, 35, 30, 60],
        "temporal": ("2017-01-01", "2018-12-31"),
        "keywords": ["sentinel-2"],
        "license": "MIT",
        "mlm": MLM,
        "progress": False,
        "target": target(gitlab),
        "root": workspace,
    }
    arguments.update(overrides)
    result = publish("Land Cover MLP", **arguments)
    assert isinstance(result, PublishResult)
    return result


def projects_named(gitlab: GitLabDouble, path: str) -> list[Project]:
    return [p for p in gitlab.state.projects.values() if p.path == path]


def front_matter(project: Project) -> dict[str, Any]:
    text = project.content("README.md").decode()
    data: dict[str, Any] = yaml.safe_load(text.split("---\n")[1])
    return data


def test_publish_creates_project_with_topic_readme_and_lfs(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # Given alice, developer of group eo-team, and a workspace with a model
    # When she publishes it
    events: list[ProgressEvent] = []
    result = run(gitlab, workspace, progress=events.append)

    # Then GitLab holds exactly one project with the category topic and the keyword
    [project] = projects_named(gitlab, "eo-team/land-cover-mlp")
    assert result.created
    assert result.path == "eo-team/land-cover-mlp"
    assert project.topics == ["sharinghub:aimodel", "sentinel-2"]
    assert project.visibility == "private"
    # one commit with README, .gitattributes and every file
    assert len(project.history) == 1
    committed = {path for _, path in project.history[0]["actions"]}
    assert committed == {
        "README.md",
        ".gitattributes",
        "model.onnx",
        "weights.raw",
        "classes.txt",
        "data/sample.csv",
    }
    # large binaries went through LFS: the repository holds pointers, LFS the content
    assert project.lfs == {"model.onnx", "weights.raw"}
    weights = (workspace / "weights.raw").read_bytes()
    assert project.lfs_objects[hashlib.sha256(weights).hexdigest()] == weights
    assert project.stored("weights.raw").startswith(b"version https://git-lfs.github.com/spec/v1")
    attributes = project.content(".gitattributes").decode()
    assert "/model.onnx filter=lfs diff=lfs merge=lfs -text" in attributes
    assert "/weights.raw filter=lfs" in attributes
    assert "classes.txt" not in attributes
    # the README front matter is what the catalog maps: extent, licence, mlm under extensions
    front = front_matter(project)
    assert front["extent"]["spatial"] == [-10.0, 35.0, 30.0, 60.0]
    assert front["license"] == "MIT"
    assert front["extensions"] == {
        "mlm": "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
    }
    assert front["mlm"]["architecture"] == "MLP"
    assert front["mlm"]["input"][0]["input"]["shape"] == [-1, 4]
    model_rule = next(rule for rule in front["assets"] if rule["glob"] == "model.onnx")
    assert model_rule["roles"] == ["mlm:model"]
    assert model_rule["mlm:artifact_type"] == "onnx"
    # progress went through every step, with byte counts for the LFS upload
    steps = [event.step for event in events]
    assert steps[0] == "validate"
    assert steps[-1] == "done"
    assert {"check", "project", "compare", "lfs", "commit"} <= set(steps)
    lfs = [e for e in events if e.step == "lfs" and e.total]
    assert lfs[-1].done == lfs[-1].total == len(weights) + (workspace / "model.onnx").stat().st_size
    assert result.item_url == (
        "http://catalog.example/api/stac/collections/ai-model/items/eo-team/land-cover-mlp"
    )


def test_rerun_commits_only_changed_files(gitlab: GitLabDouble, workspace: Path) -> None:
    # Given a published model
    run(gitlab, workspace)
    [project] = projects_named(gitlab, "eo-team/land-cover-mlp")
    uploads = [r for r in gitlab.requests if r[0] == "PUT" and "gitlab-lfs" in r[1]]

    # When the same publication runs again
    again = run(gitlab, workspace)

    # Then nothing is committed nor uploaded again
    assert again.commit is None
    assert again.committed == []
    assert len(project.history) == 1
    assert [r for r in gitlab.requests if r[0] == "PUT" and "gitlab-lfs" in r[1]] == uploads

    # When one file changes
    (workspace / "classes.txt").write_text("water\nland\ncloud\n")
    changed = run(gitlab, workspace)

    # Then one commit updates that file only
    assert changed.committed == ["classes.txt"]
    assert len(project.history) == 2
    assert project.history[-1]["actions"] == [("update", "classes.txt")]
    assert len(projects_named(gitlab, "eo-team/land-cover-mlp")) == 1


@pytest.mark.parametrize(
    ("step", "after", "skip"),
    [
        ("create_project", False, 0),
        ("create_project", True, 0),  # created, but the answer was lost
        ("lfs_batch", False, 0),
        ("lfs_upload", False, 0),
        ("lfs_upload", False, 1),  # half of the LFS objects uploaded
        ("lfs_verify", False, 1),
        ("commit", False, 0),
        ("commit", True, 0),  # committed, but the answer was lost
    ],
)
def test_failure_at_any_step_then_rerun_finishes_once(
    gitlab: GitLabDouble, workspace: Path, step: str, after: bool, skip: int
) -> None:
    # Given GitLab fails at one step of the publication
    failure = gitlab.state.fail(step, 502, after=after, skip=skip)

    # When alice publishes, it fails with a typed error that says to rerun
    if (step, after) == ("create_project", True):
        run(gitlab, workspace)  # except a lost creation answer: the project is found and used
    else:
        with pytest.raises(UpstreamError, match="rerun"):
            run(gitlab, workspace)
    assert failure.times == 0  # the failure did happen

    # And when she reruns the same call
    result = run(gitlab, workspace)

    # Then there is exactly one project, with all files, in exactly one commit
    [project] = projects_named(gitlab, "eo-team/land-cover-mlp")
    assert result.path == project.path
    assert len(project.history) == 1, project.history
    assert set(project.files) == {
        "README.md",
        ".gitattributes",
        "model.onnx",
        "weights.raw",
        "classes.txt",
        "data/sample.csv",
    }
    assert project.content("weights.raw") == (workspace / "weights.raw").read_bytes()
    assert project.topics == ["sharinghub:aimodel", "sentinel-2"]


def test_update_of_existing_project_sets_topic_and_skips_lfs_objects_already_there(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # Given a project alice maintains that has no category topic yet, and an injected
    # failure of the settings update
    weights = (workspace / "weights.raw").read_bytes()
    gitlab.state.add_project(
        Project("eo-team/land-cover-mlp", topics=["legacy"], members={"alice": MAINTAINER})
    )
    gitlab.state.fail("update_project", 500)

    # When publishing fails at the settings step, then is rerun
    with pytest.raises(UpstreamError):
        run(gitlab, workspace)
    result = run(gitlab, workspace)

    # Then the topics are merged, not replaced, and the project was updated, not created
    [project] = projects_named(gitlab, "eo-team/land-cover-mlp")
    assert not result.created
    assert result.updated_settings == ["topics"]
    assert project.topics == ["legacy", "sharinghub:aimodel", "sentinel-2"]
    assert project.content("weights.raw") == weights


def test_permission_is_checked_before_anything_is_written(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # Given gina, only a guest of eo-team, and bob, not a member at all
    # When they try to publish there, they are refused before any write
    with pytest.raises(PermissionDeniedError, match="Developer"):
        run(gitlab, workspace, target=target(gitlab, "gina-token"))
    with pytest.raises(NotFoundError, match="eo-team"):
        run(gitlab, workspace, target=target(gitlab, "bob-token"))
    # nor into someone else's personal namespace (GitLab does not even show it)
    with pytest.raises(NotFoundError, match="alice"):
        run(gitlab, workspace, namespace="alice", target=target(gitlab, "bob-token"))
    assert gitlab.state.projects == {}
    assert not [r for r in gitlab.requests if r[0] in ("POST", "PUT")]


def test_developer_cannot_update_a_project_they_do_not_maintain(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # Given an existing project where alice is only a developer (through the group)
    gitlab.state.add_project(Project("eo-team/land-cover-mlp", topics=[]))
    # When she publishes to it, she is told which role is needed
    with pytest.raises(PermissionDeniedError, match="Maintainer"):
        run(gitlab, workspace)
    assert gitlab.state.project("eo-team/land-cover-mlp").history[-1]["message"] == (
        "Initial commit"
    )


def test_bad_token_is_an_authentication_error(gitlab: GitLabDouble, workspace: Path) -> None:
    with pytest.raises(AuthenticationError):
        run(gitlab, workspace, target=target(gitlab, "wrong-token"))


def test_personal_namespace_by_default_and_gitlab_real_lfs_without_verify(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # Given a GitLab whose LFS batch answers carry upload actions only (as GitLab's do)
    gitlab.state.lfs_verify = False
    # When alice publishes a dataset with no namespace
    result = run(gitlab, workspace, namespace=None, kind="dataset", mlm=None, visibility="public")
    # Then it lands in her own namespace with the dataset topic
    project = gitlab.state.project("alice/land-cover-mlp")
    assert project is not None
    assert result.path == "alice/land-cover-mlp"
    assert project.topics == ["sharinghub:dataset", "sentinel-2"]
    assert project.visibility == "public"
    assert project.content("model.onnx") == (workspace / "model.onnx").read_bytes()
    assert "mlm" not in front_matter(project)


def test_invalid_metadata_fails_before_any_call(gitlab: GitLabDouble, workspace: Path) -> None:
    # Given an invalid MLM task and a file outside the workspace
    # When publishing, then the error names the field, and GitLab was never called
    with pytest.raises(PublishValidationError) as invalid:
        run(gitlab, workspace, mlm={"architecture": "MLP", "tasks": ["guessing"]})
    assert invalid.value.field == "mlm.tasks[0]"
    with pytest.raises(PublishValidationError) as outside:
        run(gitlab, workspace, files=["../secret.txt"])
    assert "outside the workspace" in outside.value.message
    with pytest.raises(PublishValidationError) as box:
        run(gitlab, workspace, bbox=[10, 50, 5, 40])
    assert box.value.field == "bbox"
    assert all(r[1] == "user" for r in gitlab.requests)  # at most the default-namespace lookup


def test_dry_run_returns_the_plan_without_touching_gitlab(
    gitlab: GitLabDouble, workspace: Path
) -> None:
    # When alice asks for a dry run
    plan = publish(
        "Land Cover MLP",
        namespace="eo-team",
        files=["model.onnx", "weights.raw"],
        mlm=MLM,
        dry_run=True,
        progress=False,
        target=target(gitlab),
        root=workspace,
    )
    # Then she gets the item, the files and their sizes, and GitLab saw nothing
    assert isinstance(plan, PublishPlan)
    described = plan.as_dict()
    assert described["item"]["properties"]["mlm:architecture"] == "MLP"
    assert described["item"]["assets"]["model.onnx"]["roles"] == ["mlm:model"]
    sizes = {f["path"]: f["size"] for f in described["files"]}
    assert sizes["weights.raw"] == 2 * 1024 * 1024
    assert described["lfs_size"] == sizes["weights.raw"] + sizes["model.onnx"]
    assert gitlab.requests == []
    assert gitlab.state.projects == {}
