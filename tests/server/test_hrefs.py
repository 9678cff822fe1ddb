"""Upstream's href helpers: front matter links and assets, README images, feature flags."""

from __future__ import annotations

from dataclasses import replace

from mlops_server.settings import load_settings
from mlops_server.stac.hrefs import resolve_href
from mlops_server.stac.items import build_item, render_item

from tests.server.test_category_extensions import project


def test_href_helpers_keep_queries_and_dot_paths() -> None:
    # Given
    ids = {"ai-model", "dataset"}

    # Then: a collection+URL keeps its query, ./ is dropped but a leading dot file is kept
    assert resolve_href("dataset+https://gitlab.x/g/data?ref=v2", "g/p", "main", ids) == (
        "/api/stac/collections/dataset/items/g/data?ref=v2"
    )
    assert resolve_href("./.dvc/config", "g/p", "main", ids) == (
        "/api/download/g/p/repository/.dvc/config?ref=main"
    )
    assert resolve_href("././docs/a.md", "g/p", "main", ids) == (
        "/api/download/g/p/repository/docs/a.md?ref=main"
    )
    assert resolve_href("https://example.org/x", "g/p", "main", ids) == "https://example.org/x"


def test_readme_images_point_at_the_download_api_of_the_serving_host() -> None:
    # Given: a README with a local Markdown image, an HTML image, a remote image and a link
    readme = (
        '# Flood model\n\n![Logo](docs/logo.png "The logo")\n'
        '<img alt="map" src="./figures/map.png" width="200">\n'
        "![Remote](https://example.org/r.png) and [a link](docs/usage.md)\n"
    )
    settings = load_settings()
    stored = build_item(replace(project(("sharinghub:aimodel",)), readme=readme), settings).item
    category = settings.category("ai-model")
    assert category is not None

    # When the item is served from a host
    served = render_item(stored, category, "https://hub.example/catalog", access_level=2)

    # Then local images download from that host; remote images and plain links are unchanged
    download = "https://hub.example/catalog/api/download/team/undeclared/repository"
    description = served["properties"]["description"]
    assert f'![Logo]({download}/docs/logo.png?ref=main "The logo")' in description
    assert f'src="{download}/figures/map.png?ref=main"' in description
    assert "![Remote](https://example.org/r.png)" in description
    assert "[a link](docs/usage.md)" in description


def test_front_matter_sharinghub_block_overrides_the_category_flags() -> None:
    # Given: a model whose front matter turns its MLflow helper off
    readme = "---\nsharinghub:\n  mlflow: disable\n  access-level: 4\n---\n# M\n"
    settings = load_settings()
    stored = build_item(replace(project(("sharinghub:aimodel",)), readme=readme), settings).item
    category = settings.category("ai-model")
    assert category is not None
    assert category.feature_enabled("mlflow")

    # When
    served = render_item(stored, category, "http://h", access_level=2)

    # Then the project's choice wins, but never over the caller's real access level
    assert served["properties"]["sharinghub:mlflow"] == "disable"
    assert served["properties"]["sharinghub:jupyter"] == "enable"
    assert served["properties"]["sharinghub:access-level"] == 2
