"""Cancelling a Download to workspace: the view says so and nothing is left in the workspace.

This test runs its own JupyterLab over its own store: the demo projects plus one dataset with a
large (sparse, so free on disk) asset, big enough that the download is still running when the
user clicks Cancel. The shared session store stays as the other tests expect it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlops_server.sources.local import MANIFEST
from playwright.sync_api import Page, expect

from .conftest import running_lab
from .test_catalog_panel import PANEL, open_panel

VIEW = ".jp-mlops-ItemView"
LARGE = 4 << 30  # bytes


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cancel-root")


@pytest.fixture(scope="module")
def large_lab(tmp_path_factory: pytest.TempPathFactory, workspace: Path) -> Iterator[str]:
    data = tmp_path_factory.mktemp("cancel-data")
    projects = data / "projects"
    subprocess.run([sys.executable, "-m", "mlops_server", "demo", str(projects)], check=True)
    project = projects / "test" / "large-download"
    project.mkdir(parents=True)
    (project / MANIFEST).write_text(
        yaml.safe_dump(
            {
                "id": 901,
                "name": "Large download",
                "description": "A dataset with one very large file.",
                "topics": ["sharinghub:dataset"],
                "visibility": "public",
                "default_branch": "main",
            }
        )
    )
    front = {"title": "Large download", "assets": ["*.bin"]}
    readme = f"---\n{yaml.safe_dump(front)}---\n\n# Large download\n\nOne large file.\n"
    (project / "README.md").write_text(readme)
    with (project / "huge.bin").open("wb") as sparse:
        sparse.truncate(LARGE)
    log = tmp_path_factory.mktemp("cancel-log") / "lab.log"
    with running_lab(workspace, data, log) as url:
        yield url


def test_cancelled_download_leaves_nothing_in_the_workspace(
    page: Page, large_lab: str, workspace: Path, artifacts: Path
) -> None:
    # Given: the item view of the dataset with a 4 GiB asset
    open_panel(page, large_lab)
    page.locator(f"{PANEL} .jp-mlops-text").fill("Large download")
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    page.locator(f'{PANEL} .jp-mlops-result[data-item-id="test/large-download"]').dblclick()
    asset = page.locator(f'{VIEW} .jp-mlops-asset[data-asset-key="huge.bin"]')
    download = asset.locator(".jp-mlops-download")

    # When: the download starts, shows progress, and the user cancels it
    download.click()
    expect(download).to_be_disabled()
    cancel = asset.locator(".jp-mlops-cancel")
    expect(cancel).to_be_visible(timeout=60_000)
    expect(asset.locator("progress.jp-mlops-progress")).to_have_attribute(
        "max", str(LARGE), timeout=60_000
    )
    cancel.click()

    # Then: the view says the download was cancelled and offers it again
    status = asset.locator(".jp-mlops-download-status")
    expect(status).to_have_text("Download cancelled.", timeout=60_000)
    expect(download).to_be_enabled()
    expect(asset.locator("progress")).to_have_count(0)
    page.screenshot(path=str(artifacts / "catalog-download-cancelled.png"))
    # And: neither the file nor its .part is left in the workspace
    left = [str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file()]
    assert not [name for name in left if "huge.bin" in name], left
