"""Planning a publication offline: front matter, MLM from ONNX, validation naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from shapely.geometry import Polygon

from jupyter_mlops.errors import PublishValidationError
from jupyter_mlops.publish import PublishPlan, PublishRequest, plan
from jupyter_mlops.publishing.metadata import MLM_SCHEMA, stac_model_errors, validate_item

from .onnx_models import logistic_regression_onnx

MLM = {"architecture": "MLP", "tasks": ["classification"]}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "clf.onnx"
    path.write_bytes(logistic_regression_onnx())
    return path


def make(model_file: Path, **fields: object) -> PublishPlan:
    arguments: dict[str, object] = {"name": "Clf", "files": [str(model_file)], "mlm": MLM}
    arguments.update(fields)
    return plan(PublishRequest(**arguments), namespace="alice")  # type: ignore[arg-type]


def test_readme_front_matter_is_what_the_catalog_maps(model_file: Path) -> None:
    # When a model with a polygon extent and a dataset relation is planned
    area = Polygon([(5, 43), (8, 43), (8, 46), (5, 43)])
    planned = make(
        model_file, geometry=area, related={"dataset": "team/chips"}, temporal=(None, "2020-05-01")
    )
    # Then the README front matter carries the WKT extent, the open interval, the relation,
    # the MLM fields under a declared extension, and one asset rule per file
    front = yaml.safe_load(planned.readme.split("---\n")[1])
    assert front["extent"]["spatial"].startswith("POLYGON ((5 43")
    assert front["extent"]["temporal"] == [None, "2020-05-01T00:00:00Z"]
    assert front["related"] == {"dataset": ["team/chips"]}
    assert front["extensions"] == {"mlm": MLM_SCHEMA}
    assert front["assets"] == [
        {
            "glob": "clf.onnx",
            "title": "clf.onnx",
            "roles": ["mlm:model"],
            "mlm:artifact_type": "onnx",
        }
    ]
    assert planned.item["bbox"] == [5.0, 43.0, 8.0, 46.0]
    assert planned.spec().topics == ("sharinghub:aimodel",)


def test_inputs_and_outputs_come_from_the_onnx_graph(model_file: Path) -> None:
    mlm = make(model_file).front_matter["mlm"]
    assert mlm["framework"] == "ONNX"
    assert mlm["input"] == [
        {
            "name": "X",
            "input": {"shape": [-1, 4], "dim_order": ["batch", "features"], "data_type": "float32"},
        }
    ]
    assert [o["name"] for o in mlm["output"]] == ["label", "probabilities"]
    assert mlm["output"][0]["tasks"] == ["classification"]
    # what the user says wins over what the file says
    assert (
        make(model_file, mlm={**MLM, "framework": "scikit-learn"}).front_matter["mlm"]["framework"]
        == "scikit-learn"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mlm": {"architecture": "MLP", "tasks": ["guessing"]}}, "mlm.tasks[0]"),
        ({"mlm": {**MLM, "accelerator": "gpu"}}, "mlm.accelerator"),
        ({"mlm": {**MLM, "framework_version": "opset 17"}}, "mlm.framework_version"),
        ({"mlm": {"tasks": ["classification"]}}, "mlm.architecture"),
        ({"bbox": [0, 0, 1]}, "bbox"),
        ({"bbox": [0, 95, 1, 96]}, "bbox"),
        ({"temporal": ("2021-01-01", "2020-01-01")}, "temporal"),
        ({"visibility": "secret"}, "visibility"),
        ({"license": "MIT License"}, "license"),
        ({"kind": "dataset"}, "mlm"),
        ({"files": {"README.md": "MODEL"}}, "files['README.md']"),
        ({"path": "a/b"}, "path"),
        ({"keywords": ["ok", ""]}, "keywords[1]"),
    ],
)
def test_invalid_input_names_the_field(
    model_file: Path, fields: dict[str, object], field: str
) -> None:
    if fields.get("files") == {"README.md": "MODEL"}:  # the model file, under a reserved name
        fields = {"files": {"README.md": str(model_file)}}
    with pytest.raises(PublishValidationError) as error:
        make(model_file, **fields)
    assert error.value.field == field
    assert error.value.message.startswith(field)


def mlm_item(asset: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """A small MLM item with one model asset; ``properties`` replace the defaults."""
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [MLM_SCHEMA],
        "id": "a/b",
        "geometry": None,
        "properties": {
            "datetime": "2024-01-01T00:00:00Z",
            "mlm:name": "b-model",
            "mlm:architecture": "MLP",
            "mlm:tasks": ["classification"],
            "mlm:input": [],
            "mlm:output": [],
            **properties,
        },
        "links": [],
        "assets": {asset["href"]: asset},
    }


def test_item_validation_is_offline_and_reports_paths() -> None:
    # Given an item missing the MLM model asset, checked with the shipped schemas only
    item = mlm_item({"href": "w.bin", "roles": ["mlm:model"]})
    # Then the error names the asset (an mlm:model asset needs mlm:artifact_type)
    [error] = validate_item(item)
    assert error["field"].startswith("files")
    # and an unknown extension is reported, never downloaded
    unknown = validate_item({**item, "stac_extensions": ["https://example.org/x/v1/schema.json"]})
    assert unknown[-1]["field"] == "extensions"


def test_stac_model_checks_the_mlm_fields_too() -> None:
    # Given an MLM item whose input misses its "input" structure (shape, dims, data type)
    onnx_asset = {"href": "w.onnx", "roles": ["mlm:model"], "mlm:artifact_type": "onnx"}
    item = mlm_item(onnx_asset, **{"mlm:input": [{"name": "x"}]})
    # Then stac-model names the nested field that is missing
    assert {
        "field": "mlm.input[0]['input']",
        "message": "Field required",
        "schema": "stac-model",
    } in stac_model_errors(item)
    # And validate_item reports it too
    assert "mlm.input[0]['input']" in {error["field"] for error in validate_item(item)}
    # And it accepts what publish() builds from an ONNX file
    assert stac_model_errors(mlm_item(onnx_asset)) == []


def test_links_out_of_the_workspace_are_refused(tmp_path: Path) -> None:
    # Given a workspace folder holding a link to a file outside the workspace
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    root = tmp_path / "work"
    (root / "data").mkdir(parents=True)
    (root / "data" / "ok.csv").write_text("a\n")
    (root / "data" / "leak.txt").symlink_to(outside)
    # When the folder is published, then the link is refused, naming the file
    request = PublishRequest(name="D", kind="dataset", files=["data"])
    with pytest.raises(PublishValidationError, match=r"leak\.txt links outside"):
        plan(request, namespace="alice", root=root)
    # and a direct link is refused too
    with pytest.raises(PublishValidationError, match="outside the workspace"):
        plan(PublishRequest(name="D", kind="dataset", files=["data/leak.txt"]), "alice", root)
