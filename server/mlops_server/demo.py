"""The demo project store: small but real models and datasets, made locally and offline.

Two ONNX models are built with ``onnx.helper`` from seeded weights (they run in onnxruntime),
and two datasets carry real footprints (the Sen1Floods11 Bolivia flood event, EuroSAT's
European coverage), so map and text searches have something meaningful to find.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

from mlops_server.sources.local import MANIFEST

NAMESPACE = "demo"
EUROSAT_CLASSES = [
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
]
SENTINEL2_BANDS = [
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
]  # fmt: skip
RGB_BANDS = [
    {"name": "B04", "common_name": "red"},
    {"name": "B03", "common_name": "green"},
    {"name": "B02", "common_name": "blue"},
]
BOLIVIA_BBOX = (-65.95, -14.95, -64.25, -13.2)
OPSET = 17
IR_VERSION = 8


class StoreNotEmpty(Exception):
    """The target folder already holds something and --force was not given."""


# -- models ------------------------------------------------------------------------------


def eurosat_mlp() -> onnx.ModelProto:
    """A small MLP: 13 Sentinel-2 reflectances -> probabilities of the 10 EuroSAT classes."""
    rng = np.random.default_rng(20240613)
    hidden = 32
    w1 = rng.normal(0, 0.3, (len(SENTINEL2_BANDS), hidden)).astype(np.float32)
    b1 = np.zeros(hidden, dtype=np.float32)
    w2 = rng.normal(0, 0.3, (hidden, len(EUROSAT_CLASSES))).astype(np.float32)
    b2 = rng.normal(0, 0.05, len(EUROSAT_CLASSES)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["reflectance", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h1b"]),
        helper.make_node("Relu", ["h1b"], ["h1r"]),
        helper.make_node("MatMul", ["h1r", "w2"], ["logits0"]),
        helper.make_node("Add", ["logits0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "eurosat-mlp",
        [helper.make_tensor_value_info("reflectance", TensorProto.FLOAT, ["batch", 13])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    return _finish(graph, "EuroSAT land-use / land-cover MLP (demo weights)")


def flood_threshold() -> onnx.ModelProto:
    """Water mask from Sentinel-1 VV/VH backscatter (dB): water where both are below threshold."""
    thresholds = np.array([-15.0, -22.0], dtype=np.float32).reshape(1, 2, 1, 1)
    nodes = [
        helper.make_node("Less", ["backscatter", "thresholds"], ["below"]),
        helper.make_node("Cast", ["below"], ["below_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMin", ["below_f"], ["both_below"], axes=[1], keepdims=1),
        helper.make_node("Cast", ["both_below"], ["water_mask"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        "flood-threshold",
        [
            helper.make_tensor_value_info(
                "backscatter", TensorProto.FLOAT, ["batch", 2, "height", "width"]
            )
        ],
        [
            helper.make_tensor_value_info(
                "water_mask", TensorProto.UINT8, ["batch", 1, "height", "width"]
            )
        ],
        initializer=[numpy_helper.from_array(thresholds, "thresholds")],
    )
    return _finish(graph, "Sentinel-1 backscatter threshold water mask")


def _finish(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="mlops-server demo",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


# -- data files --------------------------------------------------------------------------


def bolivia_chips() -> tuple[str, str]:
    """Chip metadata (CSV) and footprints (GeoJSON) of 512 px Sentinel-1 chips (10 m)."""
    rng = np.random.default_rng(1101)
    minx, miny, maxx, maxy = BOLIVIA_BBOX
    size = 512 * 10 / 111_320  # chip side in degrees, near enough at this latitude
    rows, features = [], []
    for number in range(15):
        lon = float(rng.uniform(minx, maxx - size))
        lat = float(rng.uniform(miny, maxy - size))
        chip = f"Bolivia_{103757 + number * 4217}"
        water = round(float(rng.beta(2, 5)), 3)
        rows.append([chip, "2018-02-15", round(lon, 5), round(lat, 5), water, "S1GRDH"])
        ring = [
            [round(lon, 5), round(lat, 5)],
            [round(lon + size, 5), round(lat, 5)],
            [round(lon + size, 5), round(lat + size, 5)],
            [round(lon, 5), round(lat + size, 5)],
            [round(lon, 5), round(lat, 5)],
        ]
        features.append(
            {
                "type": "Feature",
                "id": chip,
                "properties": {"chip": chip, "date": "2018-02-15", "water_fraction": water},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["chip", "date", "min_lon", "min_lat", "water_fraction", "source"])
    writer.writerows(rows)
    geojson = json.dumps({"type": "FeatureCollection", "features": features}, indent=1)
    return out.getvalue(), geojson + "\n"


def eurosat_samples() -> str:
    """A small listing of EuroSAT-like RGB samples with their locations."""
    rng = np.random.default_rng(27000)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "label", "lon", "lat"])
    for number in range(40):
        label = EUROSAT_CLASSES[number % len(EUROSAT_CLASSES)]
        lon = round(float(rng.uniform(-5.0, 25.0)), 4)
        lat = round(float(rng.uniform(40.0, 55.0)), 4)
        writer.writerow([f"{label}/{label}_{number + 1}.jpg", label, lon, lat])
    return out.getvalue()


#: One display colour (RGB) per EuroSAT class, in class order.
EUROSAT_COLOURS = [
    (230, 190, 60), (20, 110, 40), (150, 200, 90), (120, 120, 120), (200, 60, 60),
    (110, 170, 60), (170, 120, 50), (220, 140, 160), (40, 120, 220), (20, 60, 150),
]  # fmt: skip


def png(pixels: np.ndarray) -> bytes:
    """Encode an ``(height, width, 3)`` uint8 RGB array as a PNG file (zlib, no filter)."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def eurosat_legend() -> bytes:
    """A 160 x 16 px legend of the EuroSAT class colours, one 16 px swatch per class."""
    colours = np.array(EUROSAT_COLOURS, dtype=np.uint8)
    return png(np.repeat(colours, 16, axis=0)[np.newaxis, :, :].repeat(16, axis=0))


# -- projects ----------------------------------------------------------------------------


@dataclass
class DemoProject:
    slug: str
    manifest: dict[str, object]
    readme: str
    files: dict[str, Callable[[], bytes]]


def _readme(front: dict[str, object], body: str) -> str:
    header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{header}---\n\n{body.strip()}\n"


def _onnx_bytes(build: Callable[[], onnx.ModelProto]) -> Callable[[], bytes]:
    return lambda: build().SerializeToString()


def _projects() -> list[DemoProject]:
    chips_csv, chips_geojson = bolivia_chips()
    classes = {"classes": EUROSAT_CLASSES, "bands": SENTINEL2_BANDS}
    return [
        DemoProject(
            slug="eurosat-lulc-classifier",
            manifest={
                "id": 101,
                "name": "EuroSAT LULC classifier",
                "description": "Land-use / land-cover classifier for Sentinel-2 pixels (ONNX).",
                "topics": ["sharinghub:aimodel", "land-cover", "sentinel-2", "eurosat"],
                "visibility": "public",
                "default_branch": "main",
                "created_at": "2024-06-13T09:00:00Z",
                "star_count": 7,
            },
            readme=_readme(
                {
                    "title": "EuroSAT land-use classifier",
                    "license": "MIT",
                    "extent": {
                        "spatial": [-10.0, 35.0, 30.0, 60.0],
                        "temporal": ["2017-01-01T00:00:00Z", "2018-12-31T23:59:59Z"],
                    },
                    "platform": "sentinel-2",
                    "assets": [
                        {
                            "glob": "model/*.onnx",
                            "roles": ["mlm:model"],
                            "title": "ONNX model",
                            "mlm:artifact_type": "onnx",
                            # The bands MLM's input names, described where MLM looks for them.
                            "eo:bands": [{"name": band} for band in SENTINEL2_BANDS],
                        },
                        "*.json",
                    ],
                    "related": {"dataset": f"{NAMESPACE}/eurosat-rgb-samples"},
                    "extensions": {
                        "mlm": "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
                    },
                    "mlm": {
                        "name": "eurosat-mlp",
                        "architecture": "MLP",
                        "tasks": ["classification"],
                        "framework": "onnx",
                        "framework_version": onnx.__version__,
                        "accelerator": "amd64",
                        "accelerator_constrained": False,
                        "total_parameters": 13 * 32 + 32 + 32 * 10 + 10,
                        "input": [
                            {
                                "name": "Sentinel-2 L1C reflectances",
                                "bands": SENTINEL2_BANDS,
                                "input": {
                                    "shape": [-1, 13],
                                    "dim_order": ["batch", "bands"],
                                    "data_type": "float32",
                                },
                                "pre_processing_function": None,
                            }
                        ],
                        "output": [
                            {
                                "name": "class probabilities",
                                "tasks": ["classification"],
                                "result": {
                                    "shape": [-1, 10],
                                    "dim_order": ["batch", "class"],
                                    "data_type": "float32",
                                },
                                "classification:classes": [
                                    {
                                        "value": i,
                                        "name": name,
                                        "description": f"EuroSAT class {name}",
                                    }
                                    for i, name in enumerate(EUROSAT_CLASSES)
                                ],
                                "post_processing_function": None,
                            }
                        ],
                    },
                },
                """
# EuroSAT land-use classifier

A compact multilayer perceptron that assigns one of the ten EuroSAT land-use / land-cover
classes (annual crop, forest, herbaceous vegetation, highway, industrial, pasture, permanent
crop, residential, river, sea/lake) to a Sentinel-2 pixel from its 13 band reflectances.

The weights shipped here are a seeded demonstration, not a trained model: the network has the
right shape and runs anywhere ONNX Runtime does, which is what the catalog, the map search and
the notebook examples need. Retrain it with the EuroSAT samples dataset to get real accuracy.

## Usage

```python
import numpy as np, onnxruntime as ort
session = ort.InferenceSession("model/eurosat-mlp.onnx")
probabilities = session.run(None, {"reflectance": np.random.rand(4, 13).astype("float32")})[0]
```

Input: `reflectance`, float32 `[batch, 13]` (B01..B12 with B8A, top-of-atmosphere reflectance
scaled to 0..1). Output: `probabilities`, float32 `[batch, 10]`, in the class order of
`classes.json`.
""",
            ),
            files={
                "model/eurosat-mlp.onnx": _onnx_bytes(eurosat_mlp),
                "classes.json": lambda: (json.dumps(classes, indent=2) + "\n").encode(),
            },
        ),
        DemoProject(
            slug="sen1floods11-bolivia",
            manifest={
                "id": 102,
                "name": "Sen1Floods11 Bolivia",
                "description": "Sentinel-1 flood chips of the February 2018 Bolivia event.",
                "topics": ["sharinghub:dataset", "flood", "sentinel-1", "sen1floods11"],
                "visibility": "public",
                "default_branch": "main",
                "created_at": "2024-05-02T14:30:00Z",
                "star_count": 4,
            },
            readme=_readme(
                {
                    "title": "Sen1Floods11: Bolivia flood event",
                    "license": "CC-BY-4.0",
                    "extent": {
                        "spatial": list(BOLIVIA_BBOX),
                        "temporal": ["2018-02-15T00:00:00Z", "2018-02-15T23:59:59Z"],
                    },
                    "platform": "sentinel-1",
                    "assets": [
                        {"glob": "*.csv", "title": "Chip metadata"},
                        {"glob": "*.geojson", "title": "Chip footprints", "type-as": "geojson"},
                    ],
                    "extensions": {},
                    "eo": {"cloud_cover": 0},
                    "sci": {
                        "doi": "10.1109/CVPRW50498.2020.00113",
                        "citation": "Bonafilia et al., Sen1Floods11: a georeferenced dataset to "
                        "train and test deep learning flood algorithms for Sentinel-1, CVPR "
                        "Workshops 2020",
                    },
                },
                """
# Sen1Floods11: Bolivia flood event

The Bolivia split of Sen1Floods11, the hand-labelled flood dataset of Bonafilia et al. (2020).
In February 2018 the rivers of the Beni department overflowed after weeks of rain; Sentinel-1
imaged the flooded plains on 15 February 2018. Sen1Floods11 keeps this event out of training
on purpose, as a test of how well a model generalises to an unseen region.

This demo project lists fifteen 512 x 512 px chips (10 m pixels) over the event area:

- `chips.csv`: chip id, acquisition date, south-west corner and water fraction of each chip;
- `chips.geojson`: the chip footprints, ready for a map.

The chip locations and water fractions are generated for the demo; the event, its date and its
area are real.
""",
            ),
            files={
                "chips.csv": lambda: chips_csv.encode(),
                "chips.geojson": lambda: chips_geojson.encode(),
            },
        ),
        DemoProject(
            slug="flood-mapping-threshold",
            manifest={
                "id": 103,
                "name": "Flood mapping threshold",
                "description": "Open-water mask from Sentinel-1 VV/VH backscatter (ONNX).",
                "topics": ["sharinghub:aimodel", "flood", "sentinel-1", "water"],
                "visibility": "public",
                "default_branch": "main",
                "created_at": "2024-07-20T08:15:00Z",
                "star_count": 2,
            },
            readme=_readme(
                {
                    "title": "Flood mapping by backscatter threshold",
                    "license": "Apache-2.0",
                    "extent": {
                        "spatial": [-66.0, -15.0, -64.0, -13.0],
                        "temporal": ["2018-02-15T00:00:00Z", "2018-02-15T23:59:59Z"],
                    },
                    "assets": [
                        {
                            "glob": "*.onnx",
                            "roles": ["mlm:model"],
                            "title": "ONNX model",
                            "mlm:artifact_type": "onnx",
                            "eo:bands": [
                                {"name": "VV", "description": "Sentinel-1 VV backscatter (dB)"},
                                {"name": "VH", "description": "Sentinel-1 VH backscatter (dB)"},
                            ],
                        }
                    ],
                    "related": {"dataset": f"{NAMESPACE}/sen1floods11-bolivia"},
                    "extensions": {
                        "mlm": "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
                    },
                    "mlm": {
                        "name": "flood-threshold",
                        "architecture": "threshold",
                        "tasks": ["segmentation"],
                        "framework": "onnx",
                        "accelerator": "amd64",
                        "input": [
                            {
                                "name": "Sentinel-1 GRD backscatter (dB)",
                                "bands": ["VV", "VH"],
                                "input": {
                                    "shape": [-1, 2, -1, -1],
                                    "dim_order": ["batch", "bands", "height", "width"],
                                    "data_type": "float32",
                                },
                            }
                        ],
                        "output": [
                            {
                                "name": "water mask",
                                "tasks": ["segmentation"],
                                "result": {
                                    "shape": [-1, 1, -1, -1],
                                    "dim_order": ["batch", "channel", "height", "width"],
                                    "data_type": "uint8",
                                },
                            }
                        ],
                    },
                },
                """
# Flood mapping by backscatter threshold

Calm open water reflects the radar pulse away from the satellite, so flooded land looks dark in
Sentinel-1 images. This model marks a pixel as water when both its VV backscatter is below
-15 dB and its VH backscatter is below -22 dB, the classic baseline that learned flood models
are compared with.

Input: `backscatter`, float32 `[batch, 2, height, width]` (VV then VH, in dB). Output:
`water_mask`, uint8 `[batch, 1, height, width]`, 1 for water.

Evaluate it on the Sen1Floods11 Bolivia chips, the held-out event of that dataset.
""",
            ),
            files={"flood-threshold.onnx": _onnx_bytes(flood_threshold)},
        ),
        DemoProject(
            slug="eurosat-rgb-samples",
            manifest={
                "id": 104,
                "name": "EuroSAT RGB samples",
                "description": "A sample listing of EuroSAT RGB patches across Europe.",
                "topics": ["sharinghub:dataset", "land-cover", "sentinel-2", "eurosat"],
                "visibility": "public",
                "default_branch": "main",
                "created_at": "2024-06-10T16:45:00Z",
                "star_count": 5,
            },
            readme=_readme(
                {
                    "title": "EuroSAT RGB samples",
                    "license": "MIT",
                    "extent": {
                        "spatial": "POLYGON ((-9.5 36.0, 3.0 42.5, 28.0 36.5, 30.0 55.0, "
                        "5.0 60.0, -8.0 54.0, -9.5 36.0))",
                        "temporal": ["2017-01-01T00:00:00Z", "2018-12-31T23:59:59Z"],
                    },
                    "platform": "sentinel-2",
                    "gsd": 10,
                    # eo allows item-level bands only as a summary of the assets' bands.
                    "assets": [
                        {"glob": "samples.csv", "title": "Sample listing", "eo:bands": RGB_BANDS}
                    ],
                    "eo": {"bands": RGB_BANDS},
                },
                """
# EuroSAT RGB samples

EuroSAT (Helber et al., 2019) is a benchmark of 27,000 labelled 64 x 64 px Sentinel-2 patches
from 34 European countries, in ten land-use / land-cover classes. This demo project carries a
small listing of RGB samples (file, class and location) spread over the continent, enough to
try the catalog's map search and to feed the EuroSAT classifier's notebooks.

![EuroSAT class colours](docs/classes.png)

Colours of the ten classes, left to right in the order of the classifier's outputs.
""",
            ),
            files={
                "samples.csv": lambda: eurosat_samples().encode(),
                "docs/classes.png": eurosat_legend,
            },
        ),
    ]


def write_demo_store(root: Path, *, force: bool = False) -> list[str]:
    """Write the demo projects into ``root``; return their full paths.

    A non-empty ``root`` is refused unless ``force``; then only the demo projects are
    replaced and anything else in the store is kept.
    """
    if root.exists() and not root.is_dir():
        raise StoreNotEmpty(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise StoreNotEmpty(
            f"{root} is not empty; use --force to overwrite the demo projects in it"
        )
    written = []
    for project in _projects():
        directory = root / NAMESPACE / project.slug
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        (directory / MANIFEST).write_text(
            yaml.safe_dump(project.manifest, sort_keys=False), encoding="utf-8"
        )
        (directory / "README.md").write_text(project.readme, encoding="utf-8")
        for name, content in project.files.items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content())
        written.append(f"{NAMESPACE}/{project.slug}")
    return written
