"""A served local store is re-indexed as its files change, without a webhook or a re-sync."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.server.conftest import _write_project

MANIFEST = "id: {id}\nname: {name}\ntopics: [sharinghub:dataset]\nvisibility: public\n"


def _eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true after {timeout}s: {value!r}"
            return value
        time.sleep(0.1)


def _title(url: str, path: str) -> str | None:
    response = httpx.get(f"{url}/api/stac/collections/dataset/items/{path}")
    return response.json()["properties"]["title"] if response.status_code == 200 else None


def _ids(url: str) -> set[str]:
    body = httpx.get(f"{url}/api/stac/search", params={"limit": 100}).json()
    return {feature["id"] for feature in body["features"]}


def test_edits_new_projects_and_deletions_reach_the_index(
    tmp_path: Path, serve: Callable[..., str]
) -> None:
    # Given: a served store with one project, and a folder outside it holding another
    store, outside = tmp_path / "store", tmp_path / "outside"
    store.mkdir()
    first = _write_project(
        store, "team/first", MANIFEST.format(id=1, name="first"), "---\ntitle: Old\n---\n"
    )
    _write_project(outside, "moved/third", MANIFEST.format(id=3, name="third"), "# Third\n")
    url = serve("--projects", str(store))
    assert _title(url, "team/first") == "Old"

    # When the README is edited, Then the item follows
    (first / "README.md").write_text("---\ntitle: New\n---\n")
    _eventually(lambda: _title(url, "team/first") == "New")

    # When a project is added, Then it is searchable
    _write_project(store, "team/second", MANIFEST.format(id=2, name="second"), "# Second\n")
    _eventually(lambda: "team/second" in _ids(url))

    # When a project folder is deleted, Then its item is gone
    shutil.rmtree(store / "team" / "second")
    _eventually(lambda: _title(url, "team/second") is None and "team/second" not in _ids(url))

    # When a whole namespace is moved in (one event for the folder), Then its projects appear
    (outside / "moved").rename(store / "moved")
    _eventually(lambda: _title(url, "moved/third") == "third")

    # When a project's manifest is removed, Then it is no longer a project
    (first / "mlops-project.yaml").unlink()
    _eventually(lambda: _ids(url) == {"moved/third"})


def test_without_watch_the_store_is_only_read_at_start(
    tmp_path: Path, serve: Callable[..., str]
) -> None:
    # Given: a store served with --no-watch, and one served with the default, both edited
    quiet_store, watched_store = tmp_path / "quiet", tmp_path / "watched"
    for root in (quiet_store, watched_store):
        _write_project(root, "team/p", MANIFEST.format(id=1, name="p"), "---\ntitle: A\n---\n")
    quiet = serve("--projects", str(quiet_store), "--no-watch")
    watched = serve("--projects", str(watched_store))
    for root in (quiet_store, watched_store):
        (root / "team" / "p" / "README.md").write_text("---\ntitle: B\n---\n")

    # When the watched server has seen its edit
    _eventually(lambda: _title(watched, "team/p") == "B")

    # Then the other, given the same time, still serves the start state
    assert _title(quiet, "team/p") == "A"
