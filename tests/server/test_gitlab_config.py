"""Upstream SharingHub configuration files, environment overrides and the periodic sync."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from mlops_server.settings import load_settings

from tests.gitlab_double import GitLabDouble, Project
from tests.server.conftest import SERVICE_TOKEN, TABLE_PROJECTS

UPSTREAM_CONFIG = """
gitlab:
  url: {gitlab}
  allow-public: true
mlflow:
  type: mlflow-sharinghub
  url: http://mlflow.example/mlflow
stac:
  root:
    id: gitlab-cs
    title: Test hub
    description: A hub configured the upstream way.
  categories:
    - ai-model:
        title: AI Models
        gitlab_topic: sharinghub:aimodel
        features:
          mlflow: enable
  extensions:
    eo: https://stac-extensions.github.io/eo/v1.1.0/schema.json
  search:
    page-size: 7
"""


def test_upstream_config_keys_and_env_overrides(tmp_path: Path) -> None:
    # Given an upstream SharingHub config file
    config = tmp_path / "config.yaml"
    config.write_text(UPSTREAM_CONFIG.format(gitlab="https://gitlab.example"))
    # When loaded without and with upstream's environment overrides
    plain = load_settings(config, env={})
    overridden = load_settings(
        config,
        env={
            "GITLAB_ALLOW_PUBLIC": "false",
            "MLFLOW_URL": "https://other/mlflow/",
            "GITLAB_OAUTH_DEFAULT_TOKEN": "robot",
            "STAC_SEARCH_PAGE_DEFAULT_SIZE": "30",
            "MLOPS_ACCESS_CACHE_TTL": "5",
        },
    )
    # Then
    assert plain.gitlab_url == "https://gitlab.example"
    assert plain.allow_public is True
    assert plain.root.id == "gitlab-cs"
    assert [c.id for c in plain.categories] == ["ai-model"]
    assert plain.extensions == {"eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json"}
    assert plain.page_size == 7
    assert plain.mlflow_url == "http://mlflow.example/mlflow"
    assert plain.host_provider_name == "GitLab (https://gitlab.example)"
    assert overridden.allow_public is False
    assert overridden.mlflow_url == "https://other/mlflow"
    assert overridden.default_token == "robot"
    assert "robot" not in repr(overridden)
    assert overridden.page_size == 30
    assert overridden.access_cache_ttl == 5.0
    assert plain.access_cache_ttl == 60.0


def test_a_local_store_ignores_gitlab_settings_from_the_environment() -> None:
    settings = load_settings()
    assert settings.gitlab_url is None
    assert settings.allow_public is True


def test_serve_with_an_upstream_config_file_and_periodic_sync(
    gitlab: GitLabDouble, serve: Callable[..., str], tmp_path: Path
) -> None:
    # Given an upstream config file (public mode on) overridden by the environment (off),
    # and a server re-syncing every second with no webhook registered
    config = tmp_path / "sharinghub.yaml"
    config.write_text(UPSTREAM_CONFIG.format(gitlab=gitlab.url))
    url = serve(
        "--config",
        str(config),
        "--sync-interval",
        "1",
        env={"MLOPS_GITLAB_TOKEN": SERVICE_TOKEN, "GITLAB_ALLOW_PUBLIC": "false"},
    )
    signed = {"X-Gitlab-Token": "outsider-token"}

    # Then the root, categories and GitLab URL come from the file
    assert httpx.get(f"{url}/api/stac", headers=signed).json()["id"] == "gitlab-cs"
    collections = httpx.get(f"{url}/api/stac/collections", headers=signed).json()
    assert [c["id"] for c in collections["collections"]] == ["ai-model"]
    assert httpx.get(f"{url}/api/config/").json()["gitlab"]["url"] == gitlab.url
    listing = httpx.get(f"{url}/api/stac/collections/ai-model/items", headers=signed).json()
    assert {f["id"] for f in listing["features"]} == {
        TABLE_PROJECTS["public"],
        TABLE_PROJECTS["internal"],
    }
    tracking = [
        link for link in listing["features"][0]["links"] if link["rel"] == "mlflow:tracking-uri"
    ]
    assert tracking[0]["href"].startswith("http://mlflow.example/mlflow/")

    # And without public mode, anonymous catalog calls are 401 (config and conformance open)
    assert httpx.get(f"{url}/api/stac/search").status_code == 401
    assert httpx.get(f"{url}/api/stac/collections").status_code == 401
    assert httpx.get(f"{url}/api/stac/conformance").status_code == 200
    assert httpx.get(f"{url}/api/config/").status_code == 200

    # When a project appears in GitLab silently (no webhook; private, so only the
    # administrator sees it and other tests' counts stay as they are)
    admin = {"X-Gitlab-Token": SERVICE_TOKEN}
    path = "sync/late-model"
    item_url = f"{url}/api/stac/collections/ai-model/items/{path}"
    assert httpx.get(item_url, headers=admin).status_code == 404
    gitlab.state.add_project(Project(path, visibility="private", topics=["sharinghub:aimodel"]))
    # Then the next periodic sync indexes it
    deadline = time.monotonic() + 10
    while httpx.get(item_url, headers=admin).status_code != 200:
        assert time.monotonic() < deadline, "not picked up by the periodic sync"
        time.sleep(0.2)
