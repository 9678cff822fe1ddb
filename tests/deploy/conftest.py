"""Deployment tests: the Helm chart rendered offline, the JupyterHub values, the Binder set-up."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: builds a fresh environment from PyPI/npm (minutes); deselect with -m 'not slow'",
    )
