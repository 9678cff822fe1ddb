"""Config files: the design's root id, packaged category defaults under an upstream config,
and clear errors (never a traceback) for files that are not what the server expects."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mlops_server.config_api import config_document
from mlops_server.settings import load_settings
from mlops_server.stac.items import build_item

from tests.server.test_category_extensions import MLM, project

RunCli = Callable[..., subprocess.CompletedProcess[str]]

# An upstream SharingHub file: categories without any `extensions`, as upstream has them.
UPSTREAM = """
gitlab:
  url: https://gitlab.example
stac:
  extensions:
    eo: https://stac-extensions.github.io/eo/v1.1.0/schema.json
  categories:
    - ai-model:
        title: AI Models
        gitlab_topic: sharinghub:aimodel
    - dataset:
        title: Datasets
        gitlab_topic: sharinghub:dataset
        extensions: {}
"""


def test_the_default_root_catalog_id_is_the_designs() -> None:
    assert load_settings().root.id == "gitlab-cs"


def test_an_upstream_config_keeps_the_packaged_category_extensions(tmp_path: Path) -> None:
    # Given: an upstream config whose ai-model declares no extensions, dataset opts out
    config = tmp_path / "sharinghub.yaml"
    config.write_text(UPSTREAM)
    settings = load_settings(config, env={})

    # When a model and a dataset with `mlm:` front matter are built
    model = build_item(project(("sharinghub:aimodel",)), settings).item
    dataset = build_item(project(("sharinghub:dataset",)), settings).item

    # Then the model's mlm keys flatten (packaged ai-model defaults); the dataset's stay nested
    assert model["properties"]["mlm:framework"] == "pytorch"
    assert MLM in model["stac_extensions"]
    assert dataset["properties"]["mlm"]["framework"] == "pytorch"
    assert MLM not in dataset["stac_extensions"]
    assert settings.category("dataset").extensions == {}  # type: ignore[union-attr]


def test_categories_written_as_a_mapping_are_read_in_order(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "stac:\n  categories:\n    tools: {gitlab_topic: sharinghub:tools}\n"
        "    ai-model: {title: Models}\n"
    )
    settings = load_settings(config, env={})
    assert [c.id for c in settings.categories] == ["tools", "ai-model"]
    assert settings.category("ai-model").gitlab_topic == "sharinghub:ai-model"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stac:\n  categories: ai-model\n", "stac.categories: expected a list"),
        ("stac:\n  categories:\n    - [ai-model]\n", r"stac.categories\[0\]: expected"),
        (
            "stac:\n  categories:\n    - ai-model: [x]\n",
            "stac.categories.ai-model: expected a mapping",
        ),
        ("stac:\n  root: gitlab\n", "stac.root: expected a mapping, got a string"),
        ("stac:\n  extensions: [eo, sci]\n", "stac.extensions: expected a mapping, got a list"),
        ("stac:\n  search: {page-size: many}\n", "stac.search.page-size: expected a whole number"),
        ("stac: [1, 2]\n", "stac: expected a mapping"),
        (
            "gitlab:\n  url: [x\n",
            r"not valid YAML \(line 3, column 1\): expected .,. or .\].*stream end",
        ),
        ("- just\n- a list\n", "expected a YAML mapping at the top, got a list"),
        (
            "stac:\n  categories:\n    - a: {}\n    - a: {}\n",
            "stac.categories.a: category declared twice",
        ),
        (
            "stac:\n  categories:\n    - a: {features: [mlflow]}\n",
            "stac.categories.a.features: expected a mapping",
        ),
    ],
)
def test_a_malformed_config_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    # Given
    config = tmp_path / "config.yaml"
    config.write_text(text)

    # When loaded, Then a ValueError names the key
    with pytest.raises(ValueError, match=message):
        load_settings(config, env={})


def test_serve_reports_a_bad_config_without_a_traceback_and_exits_2(
    tmp_path: Path, run_cli: RunCli
) -> None:
    # Given: invalid YAML and a wrongly shaped file
    broken, shaped = tmp_path / "broken.yaml", tmp_path / "shaped.yaml"
    broken.write_text("gitlab:\n  url: [x\n")
    shaped.write_text("gitlab:\n  url: http://127.0.0.1:9\nstac:\n  categories: {a: [1]}\n")

    for config, message in ((broken, "not valid YAML"), (shaped, "stac.categories.a")):
        # When
        result = run_cli("serve", "--config", str(config))

        # Then
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert f"mlops-server: bad configuration: {config}" in result.stderr
        assert message in result.stderr


def test_an_unknown_top_level_key_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("stac: {}\nstacc:\n  root: {id: x}\n")
    load_settings(config, env={})
    assert "unknown top-level key 'stacc'" in caplog.text


def test_the_config_api_carries_the_ui_keys_of_an_upstream_config(tmp_path: Path) -> None:
    # Given: upstream's UI keys, and the environment overriding one of them
    config = tmp_path / "sharinghub.yaml"
    config.write_text(
        "gitlab: {url: https://gitlab.example}\n"
        "jupyterlab: {url: https://lab.example}\n"
        "docs: {url: https://docs.example}\n"
        "services: {wizard: {url: https://wizard.example}}\n"
        "spaces: {streamlit: {url: https://spaces.example, assets: [streamlit_app.py]}}\n"
        "tags: {gitlab: {minimum_count: 2}, sections: [{name: Task, keywords: [flood]}]}\n"
        "alerts: {timeout: 3, type: info, locales: {en: {title: Hi, message: Maintenance}}}\n"
        "external-urls: [{name: Portal, url: https://portal.example}]\n"
    )
    settings = load_settings(config, env={"DOCS_URL": "https://other-docs.example"})

    # When
    document = config_document(settings, "http://catalog.example")

    # Then
    assert document["jupyterlab"] == {"url": "https://lab.example"}
    assert document["docs"] == {"url": "https://other-docs.example"}
    assert document["wizard"] == {"url": "https://wizard.example"}
    assert document["spaces"]["streamlit"]["assets"] == ["streamlit_app.py"]
    assert document["default_tags"]["sections"][0]["keywords"] == ["flood"]
    assert document["alert_info"]["locales"]["en"]["message"] == "Maintenance"
    assert document["external_urls"] == [{"name": "Portal", "url": "https://portal.example"}]
    # And without these keys the document keeps upstream's empty values
    bare = config_document(load_settings(), "http://catalog.example")
    assert bare["jupyterlab"] == {"url": None}
    assert bare["spaces"] == {}
    assert "alert_info" not in bare
