"""Single items: the mapping of front matter, assets that download, demo models that run."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

MLM_SCHEMA = "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"

MALFORMED = "team/broken-front-matter"
WRONG_TYPES = "team/wrong-types"


def item(http: httpx.Client, collection: str, path: str) -> dict[str, Any]:
    response = http.get(f"/api/stac/collections/{collection}/items/{path}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_model_item_maps_the_front_matter(http: httpx.Client, base_url: str) -> None:
    # When
    model = item(http, "ai-model", "demo/eurosat-lulc-classifier")
    props = model["properties"]
    # Then
    assert model["id"] == "demo/eurosat-lulc-classifier"
    assert model["collection"] == "ai-model"
    assert model["bbox"] == [-10.0, 35.0, 30.0, 60.0]
    assert model["geometry"]["type"] == "Polygon"
    assert props["title"] == "EuroSAT land-use classifier"  # front matter overrides the name
    assert props["description"].startswith("# EuroSAT land-use classifier")
    assert props["start_datetime"] == "2017-01-01T00:00:00Z"
    assert props["end_datetime"] == "2018-12-31T23:59:59Z"
    assert props["keywords"] == ["land-cover", "sentinel-2", "eurosat"]
    assert props["license"] == "MIT"
    assert props["platform"] == "sentinel-2"
    assert MLM_SCHEMA in model["stac_extensions"]
    assert props["mlm:framework"] == "onnx"
    assert props["mlm:tasks"] == ["classification"]
    assert props["mlm:input"][0]["input"]["shape"] == [-1, 13]
    assert props["sharinghub:id"] == 101
    assert props["sharinghub:path"] == "demo/eurosat-lulc-classifier"
    assert props["sharinghub:default-branch"] == "main"
    assert props["sharinghub:access-level"] == 2
    assert props["sharinghub:mlflow"] == "enable"
    assert props["sharinghub:stars"] == 7
    assert "sharinghub:warnings" not in props
    rels = {link["rel"]: link for link in model["links"]}
    assert rels["self"]["href"] == (
        f"{base_url}/api/stac/collections/ai-model/items/demo/eurosat-lulc-classifier"
    )
    assert rels["license"]["href"] == "https://spdx.org/licenses/MIT.html"
    assert rels["derived_from"]["href"] == (
        f"{base_url}/api/stac/collections/dataset/items/demo/eurosat-rgb-samples"
    )
    assert rels["mlflow:tracking-uri"]["href"] == (
        "http://mlflow.example/mlflow/demo/eurosat-lulc-classifier/tracking/"
    )
    onnx_asset = model["assets"]["model/eurosat-mlp.onnx"]
    assert onnx_asset["roles"] == ["mlm:model"]
    assert onnx_asset["type"] == "application/onnx"
    assert "classes.json" in model["assets"]


def test_dataset_item_has_no_tracking_link_and_flattens_config_extensions(
    http: httpx.Client,
) -> None:
    dataset = item(http, "dataset", "demo/sen1floods11-bolivia")
    rels = [link["rel"] for link in dataset["links"]]
    assert "mlflow:tracking-uri" not in rels
    assert dataset["properties"]["sharinghub:mlflow"] == "disable"
    assert dataset["properties"]["sci:doi"] == "10.1109/CVPRW50498.2020.00113"
    sci = "https://stac-extensions.github.io/scientific/v1.0.0/schema.json"
    assert sci in dataset["stac_extensions"]
    assert dataset["assets"]["chips.geojson"]["type"] == "application/geo+json"


def test_wkt_extent_becomes_geometry_and_bbox(http: httpx.Client) -> None:
    samples = item(http, "dataset", "demo/eurosat-rgb-samples")
    assert samples["geometry"]["type"] == "Polygon"
    assert samples["bbox"] == [-9.5, 36.0, 30.0, 60.0]


@pytest.mark.parametrize(
    ("path", "asset"),
    [
        ("demo/eurosat-lulc-classifier", "model/eurosat-mlp.onnx"),
        ("demo/sen1floods11-bolivia", "chips.csv"),
    ],
)
def test_asset_download_returns_the_exact_bytes(
    http: httpx.Client, store: Any, path: str, asset: str
) -> None:
    # Given
    collection = "ai-model" if "classifier" in path else "dataset"
    href = item(http, collection, path)["assets"][asset]["href"]
    # When
    response = http.get(href)
    # Then
    assert response.status_code == 200
    assert response.content == (store / path / asset).read_bytes()
    assert response.headers["content-disposition"].startswith("attachment")
    assert asset.rsplit("/", 1)[-1] in response.headers["content-disposition"]


def test_demo_models_run_in_onnxruntime_with_the_declared_shapes(http: httpx.Client) -> None:
    # Given the classifier, downloaded through the API
    model = item(http, "ai-model", "demo/eurosat-lulc-classifier")
    payload = http.get(model["assets"]["model/eurosat-mlp.onnx"]["href"]).content
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    # When
    batch = np.random.default_rng(0).random((4, 13), dtype=np.float32)
    (probabilities,) = session.run(None, {"reflectance": batch})
    # Then
    declared = model["properties"]["mlm:output"][0]["result"]["shape"]
    assert probabilities.shape == (4, declared[1])
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    # Given the flood model
    flood = item(http, "ai-model", "demo/flood-mapping-threshold")
    payload = http.get(flood["assets"]["flood-threshold.onnx"]["href"]).content
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    backscatter = np.full((1, 2, 3, 3), -5.0, dtype=np.float32)
    backscatter[0, 0, 1, 1], backscatter[0, 1, 1, 1] = -20.0, -25.0  # one dark water pixel
    # When
    (mask,) = session.run(None, {"backscatter": backscatter})
    # Then
    assert mask.shape == (1, 1, 3, 3)
    assert mask.dtype == np.uint8
    assert int(mask.sum()) == 1
    assert mask[0, 0, 1, 1] == 1


def test_invalid_yaml_front_matter_still_serves_an_item_with_a_warning(
    http: httpx.Client,
) -> None:
    broken = item(http, "dataset", MALFORMED)
    warnings = broken["properties"]["sharinghub:warnings"]
    assert any("invalid YAML" in w for w in warnings)
    assert broken["properties"]["title"] == "Broken front matter"
    assert broken["geometry"] is None


def test_wrong_types_in_front_matter_are_warnings_not_errors(http: httpx.Client) -> None:
    wrong = item(http, "dataset", WRONG_TYPES)
    warnings = " | ".join(wrong["properties"]["sharinghub:warnings"])
    for key in ("extent.spatial", "extent.temporal", "assets", "license", "related", "mlm"):
        assert key in warnings
    assert wrong["geometry"] is None
    assert "license" not in wrong["properties"]


def test_category_mismatch_is_400_and_unknown_item_404(http: httpx.Client) -> None:
    mismatch = http.get("/api/stac/collections/dataset/items/demo/eurosat-lulc-classifier")
    assert mismatch.status_code == 400
    assert mismatch.json()["reason"] == "bad_request"
    missing = http.get("/api/stac/collections/dataset/items/demo/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "not_found"


def test_onnx_model_file_is_a_valid_model(http: httpx.Client) -> None:
    import onnx

    flood = item(http, "ai-model", "demo/flood-mapping-threshold")
    href = flood["assets"]["flood-threshold.onnx"]["href"]
    model = onnx.load_model(io.BytesIO(http.get(href).content))
    onnx.checker.check_model(model)
