"""``%mlops publish`` maps its flags onto ``jupyter_mlops.publish`` (GitLab double over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlops.publish import PublishPlan, PublishResult
from tests.gitlab_double import GitLabDouble
from tests.notebooks.conftest import PUBLISHER_TOKEN


def test_publish_dry_run_then_for_real(
    shell: InteractiveShell,
    gitlab_publisher: GitLabDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a small dataset file in the workspace
    monkeypatch.chdir(tmp_path)
    Path("chips.csv").write_text("x,y,label\n1,2,water\n")
    line = (
        "publish 'Flood chips' --kind dataset --namespace carol --file chips.csv"
        " --bbox -66,-15,-64,-13 --temporal 2018-01-01/.. --keyword flood --license MIT"
        " --description 'Labelled chips' --visibility public"
    )

    # When it is published as a dry run, then for real
    planned = shell.run_line_magic("mlops", f"{line} --dry-run")
    published = shell.run_line_magic("mlops", line)

    # Then the plan was the item to be, and the project now exists in GitLab as planned
    assert isinstance(planned, PublishPlan)
    assert planned.path == "carol/flood-chips"
    assert planned.item["bbox"] == [-66.0, -15.0, -64.0, -13.0]
    assert planned.collection == "dataset"
    assert isinstance(published, PublishResult)
    project = gitlab_publisher.state.project("carol/flood-chips")
    assert project is not None
    assert set(project.topics) == {"sharinghub:dataset", "flood"}
    assert project.visibility == "public"
    assert project.content("chips.csv") == b"x,y,label\n1,2,water\n"
    assert "title: Flood chips" in project.content("README.md").decode()
    assert PUBLISHER_TOKEN not in capsys.readouterr().out


def test_publish_errors_name_the_field(
    shell: InteractiveShell, gitlab_publisher: GitLabDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a file that does not exist is published
    shell.run_line_magic("mlops", "publish Broken --namespace carol --file nowhere.onnx --dry-run")

    # Then one clear line, no traceback, nothing created
    err = capsys.readouterr().err
    assert err.startswith("%mlops:")
    assert "nowhere.onnx" in err
    assert "Traceback" not in err
    assert gitlab_publisher.state.project("carol/broken") is None
