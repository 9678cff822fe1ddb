"""A small scikit-learn model made in the test and exported to ONNX with skl2onnx."""

from __future__ import annotations

from typing import Any

import numpy as np


def training_data() -> tuple[Any, Any]:
    """Four features; class 1 when the first two add up to more than 1 (seeded, learnable)."""
    rng = np.random.default_rng(7)
    features = rng.random((200, 4)).astype(np.float32)
    labels = (features[:, 0] + features[:, 1] > 1.0).astype(np.int64)
    return features, labels


def logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    features, labels = training_data()
    return LogisticRegression(max_iter=500).fit(features, labels)


def logistic_regression_onnx(model: Any | None = None) -> bytes:
    """The fitted model as ONNX bytes: input ``X`` float32 [batch, 4]; outputs ``label``
    int64 [batch] and ``probabilities`` float32 [batch, 2] (no ZipMap)."""
    from skl2onnx import to_onnx

    model = model if model is not None else logistic_regression()
    features, _ = training_data()
    onx = to_onnx(model, features[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    data: bytes = onx.SerializeToString()
    return data
