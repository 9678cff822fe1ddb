"""Shared pytest configuration: the Jupyter server fixtures (jp_fetch, jp_serverapp, ...)."""

pytest_plugins = ("pytest_jupyter.jupyter_server",)
