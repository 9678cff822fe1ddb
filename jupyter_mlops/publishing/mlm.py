"""MLM (STAC Machine Learning Model extension) metadata: what the user gave, completed from ONNX.

Keys are written without the ``mlm:`` prefix, as in README front matter (``architecture``,
``tasks``, ``framework``, ``framework_version``, ``accelerator``, ``input``, ``output``...).
What the model file itself says (inputs and outputs with shapes and data types, parameter
count) is read from the ONNX graph when the user did not say it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .metadata import field_error

# ONNX TensorProto element types -> MLM data types (raster extension names).
_ONNX_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


def normalise(mlm: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's MLM mapping with any ``mlm:`` prefix removed."""
    if mlm is None:
        return {}
    if not isinstance(mlm, Mapping):
        raise field_error("mlm", "expected a mapping of MLM fields (architecture, tasks, ...)")
    return {str(k).removeprefix("mlm:"): v for k, v in mlm.items()}


#: Dimension names by rank, for dimensions the ONNX graph leaves unnamed (MLM ``dim_order``).
_DEFAULT_ORDER = {
    1: ["batch"],
    2: ["batch", "features"],
    3: ["batch", "channel", "features"],
    4: ["batch", "channel", "height", "width"],
    5: ["batch", "time", "channel", "height", "width"],
}


def _dims(shape: Sequence[Any]) -> tuple[list[int], list[str]]:
    """Sizes (-1 when dynamic) and names of a tensor's dimensions; names are unique."""
    sizes = [int(d.dim_value) if d.HasField("dim_value") else -1 for d in shape]
    defaults = _DEFAULT_ORDER.get(
        len(sizes), [f"dim-{'abcdefghij'[i % 10]}" for i in range(len(sizes))]
    )
    names: list[str] = []
    for number, dim in enumerate(shape):
        label = dim.dim_param.lower() if dim.HasField("dim_param") else ""
        label = "".join(c for c in label if c.isalpha() or c in "-_")
        if number == 0 and label in ("", "n", "n_", "none", "unk_"):
            label = "batch"  # converters name the batch dimension N, None...
        names.append(label or defaults[number])
    for number, label in enumerate(names):  # dim_order entries must be unique
        if names.index(label) != number:
            names[number] = f"{label}-{'abcdefghij'[number % 10]}"  # no digits in MLM
    return sizes, names


def from_onnx(path: Path) -> dict[str, Any]:
    """MLM fields read from an ONNX model: framework, input, output, total_parameters.

    No ``framework_version``: MLM wants a semantic version, and an ONNX file carries opsets.
    """
    import numpy as np
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    initialisers = {init.name for init in graph.initializer}

    def tensors(values: Sequence[Any]) -> list[dict[str, Any]]:
        described = []
        for value in values:
            if value.name in initialisers or not value.type.HasField("tensor_type"):
                continue
            tensor = value.type.tensor_type
            sizes, names = _dims(tensor.shape.dim)
            described.append(
                {
                    "name": value.name,
                    "structure": {
                        "shape": sizes or [1],
                        "dim_order": names or ["value"],
                        "data_type": _ONNX_TYPES.get(tensor.elem_type, "other"),
                    },
                }
            )
        return described

    parameters = sum(int(np.prod(init.dims)) for init in graph.initializer)
    return {
        "framework": "ONNX",
        "total_parameters": parameters,
        "inputs": tensors(graph.input),
        "outputs": tensors(graph.output),
    }


def complete(mlm: dict[str, Any], name: str, onnx_file: Path | None) -> dict[str, Any]:
    """Fill what MLM requires and the user left out: name, framework, input/output from ONNX."""
    result = dict(mlm)
    result.setdefault("name", name)
    tasks = result.get("tasks")
    if isinstance(tasks, str):
        result["tasks"] = tasks = [tasks]
    if onnx_file is not None:
        found = from_onnx(onnx_file)
        result.setdefault("framework", found["framework"])
        if found["total_parameters"]:  # converters may keep weights in node attributes
            result.setdefault("total_parameters", found["total_parameters"])
        if "input" not in result:
            result["input"] = [
                {"name": entry["name"], "input": entry["structure"]} for entry in found["inputs"]
            ]
        if "output" not in result:
            result["output"] = [
                {"name": entry["name"], "tasks": list(tasks or []), "result": entry["structure"]}
                for entry in found["outputs"]
            ]
    result.setdefault("accelerator", "amd64")
    result.setdefault("accelerator_constrained", False)
    for required in ("architecture", "tasks", "input", "output"):
        if required not in result or result[required] in (None, "", []):
            raise field_error(f"mlm.{required}", "required by the MLM extension for a model")
    return result
