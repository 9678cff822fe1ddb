"""jupyter-mlops: the EO MLOps lifecycle inside JupyterLab.

This package is the client side of the platform: a Jupyter server extension that proxies
authenticated calls to SharingHub, MLflow and GitLab, a plain-Python client API shared by the
server handlers, magics and widgets, and the launcher of the embedded local platform.
"""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only in a source tree that was never built
    import warnings

    warnings.warn(
        "Importing 'jupyter_mlops' outside a proper installation; the version is unknown.",
        stacklevel=2,
    )
    __version__ = "dev"

from .publish import publish

__all__ = ["__version__", "publish"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Imported lazily: kernels import this package too and must not pay for the server stack.
    from .extension import JupyterMLOpsApp

    return [{"module": "jupyter_mlops", "app": JupyterMLOpsApp}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops`` registers the ``%mlops`` magic."""
    from .magics import load_ipython_extension as load

    load(ipython)
