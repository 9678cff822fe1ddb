"""Per-category default STAC extensions: model front matter flattens without a declaration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlops_server.settings import load_settings
from mlops_server.sources.base import Project
from mlops_server.stac.items import build_item

MLM = "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
LABEL = "https://stac-extensions.github.io/label/v1.0.1/schema.json"

README = """---
title: Undeclared MLM model
mlm:
  name: tiny-unet
  framework: pytorch
  tasks: [segmentation]
eo:
  cloud_cover: 12
label:
  tasks: [segmentation]
---
# Undeclared
"""


def project(topics: tuple[str, ...]) -> Project:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Project(
        id=7,
        name="undeclared",
        path="team/undeclared",
        description="",
        topics=topics,
        visibility="public",
        default_branch="main",
        created_at=moment,
        last_activity_at=moment,
        readme=README,
    )


def test_model_category_flattens_mlm_front_matter_without_a_declaration() -> None:
    # Given: the packaged configuration, a model whose README does not declare `extensions`
    settings = load_settings()

    # When
    item = build_item(project(("sharinghub:aimodel",)), settings).item

    # Then: mlm (and eo, for bands) keys are flattened and declared; label is not a model default
    props = item["properties"]
    assert props["mlm:framework"] == "pytorch"
    assert props["mlm:tasks"] == ["segmentation"]
    assert "mlm" not in props
    assert {MLM, EO} <= set(item["stac_extensions"])
    assert props["label"] == {"tasks": ["segmentation"]}
    assert LABEL not in item["stac_extensions"]


def test_dataset_category_flattens_eo_but_leaves_mlm_nested() -> None:
    # Given
    settings = load_settings()

    # When
    item = build_item(project(("sharinghub:dataset",)), settings).item

    # Then: the upstream rule (undeclared stays nested) holds outside the category defaults
    props = item["properties"]
    assert props["eo:cloud_cover"] == 12
    assert props["label:tasks"] == ["segmentation"]
    assert {EO, LABEL} <= set(item["stac_extensions"])
    assert props["mlm"]["framework"] == "pytorch"
    assert MLM not in item["stac_extensions"]


def test_a_configured_category_declares_its_own_defaults(tmp_path: Path) -> None:
    # Given: a config whose only category declares mlm, with no server-wide extensions
    config = tmp_path / "config.yaml"
    config.write_text(
        "categories:\n"
        "  - processor:\n"
        "      title: Processors\n"
        "      gitlab_topic: sharinghub:processor\n"
        f"      extensions: {{mlm: {MLM}}}\n"
        "extensions: {}\n"
    )
    settings = load_settings(config)

    # When
    item = build_item(project(("sharinghub:processor",)), settings).item

    # Then
    assert item["properties"]["mlm:name"] == "tiny-unet"
    assert item["stac_extensions"] == [MLM]


def test_a_malformed_category_extensions_entry_is_a_clear_error(tmp_path: Path) -> None:
    # Given
    config = tmp_path / "config.yaml"
    config.write_text("categories:\n  - processor:\n      extensions: [mlm]\n")

    # When / Then
    with pytest.raises(ValueError, match=r"categories\.processor\.extensions: expected a mapping"):
        load_settings(config)
