"""The UI configuration document served at ``/api/config/`` (upstream §2.4 shape)."""

from __future__ import annotations

from typing import Any

from mlops_server import __version__
from mlops_server.settings import Settings
from mlops_server.stac.hrefs import absolute


def config_document(settings: Settings, base_url: str) -> dict[str, Any]:
    mlflow_url = absolute(settings.mlflow_url, base_url) if settings.mlflow_url else None
    categories: dict[str, Any] = {}
    for category in settings.categories:
        entry: dict[str, Any] = {"gitlab_topic": category.gitlab_topic}
        entry.update(category.extra)
        if category.assets:
            entry["assets"] = category.assets
        entry["locales"] = category.locales
        categories[category.id] = entry
    root = dict(settings.root.extra)
    root["locales"] = settings.root.locales
    ui = settings.ui
    return {
        "auth": "oauth2" if settings.oauth is not None else "token",
        "store": settings.store.mode if settings.store is not None else None,
        "gitlab": {"url": settings.gitlab_url},
        "jupyterlab": ui.get("jupyterlab", {"url": None}),
        "mlflow": {"type": settings.mlflow_type, "url": mlflow_url},
        "docs": ui.get("docs", {"url": None}),
        "spaces": ui.get("spaces", {}),
        "root": root,
        "categories": categories,
        "external_urls": ui.get("external_urls", []),
        **({"alert_info": ui["alert_info"]} if "alert_info" in ui else {}),
        "default_tags": ui.get("default_tags", {}),
        "wizard": ui.get("wizard", {"url": None}),
        # Not in upstream's document: tells clients what this server adds, so they need not
        # fall back to upstream's limits (one collection per search, before/after cursors only).
        "mlops_server": {
            "version": __version__,
            "multi_collection": True,
            "token_paging": True,
        },
    }
