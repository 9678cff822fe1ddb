"""Server configuration: the packaged catalog config plus command-line options.

The catalog part (root catalog, categories, STAC extensions) is read from the packaged
``config.yaml``, shaped like upstream SharingHub's ``stac`` config so deployments can carry
their knowledge over. Runtime options (MLflow URL, ...) come from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Category:
    """A project category, published as a STAC collection."""

    id: str
    title: str
    description: str
    gitlab_topic: str
    features: dict[str, str] = field(default_factory=dict)
    assets: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    locales: dict[str, dict[str, str]] = field(default_factory=dict)

    def feature_enabled(self, name: str) -> bool:
        return self.features.get(name) == "enable"


@dataclass(frozen=True)
class RootConfig:
    id: str
    title: str
    description: str
    extra: dict[str, Any] = field(default_factory=dict)
    locales: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know that is not project data."""

    root: RootConfig
    categories: tuple[Category, ...]
    extensions: dict[str, str]
    page_size: int = 12
    max_page_size: int = 100
    host_provider_name: str = "jupyter-mlops local store"
    mlflow_url: str | None = None
    mlflow_type: str = "mlflow-sharinghub"

    def category(self, category_id: str) -> Category | None:
        for category in self.categories:
            if category.id == category_id:
                return category
        return None

    @property
    def category_topics(self) -> frozenset[str]:
        return frozenset(c.gitlab_topic for c in self.categories)

    def categories_for_topics(self, topics: list[str]) -> list[Category]:
        """Categories of a project with these topics, in configuration order."""
        wanted = set(topics)
        return [c for c in self.categories if c.gitlab_topic in wanted]


_TEXT_KEYS = ("title", "description")


def _split_texts(
    raw: dict[str, Any], default_title: str
) -> tuple[str, str, dict[str, Any], dict[str, dict[str, str]]]:
    title = str(raw.get("title", default_title))
    description = str(raw.get("description", ""))
    locales: dict[str, dict[str, str]] = {"en": {"title": title, "description": description}}
    for lang, texts in (raw.get("locales") or {}).items():
        locales[str(lang)] = {k: str(v) for k, v in dict(texts).items()}
    extra = {k: v for k, v in raw.items() if k not in (*_TEXT_KEYS, "locales", "id", "name")}
    return title, description, extra, locales


def _parse_categories(raw: list[dict[str, Any]]) -> tuple[Category, ...]:
    categories = []
    for entry in raw:
        for cid, body in entry.items():
            body = dict(body or {})
            title, description, extra, locales = _split_texts(body, str(cid))
            topic = extra.pop("gitlab_topic", f"sharinghub:{cid}")
            features = {str(k): str(v) for k, v in (extra.pop("features", None) or {}).items()}
            assets = list(extra.pop("assets", None) or [])
            categories.append(
                Category(
                    id=str(cid),
                    title=title,
                    description=description,
                    gitlab_topic=str(topic),
                    features=features,
                    assets=assets,
                    extra=extra,
                    locales=locales,
                )
            )
    return tuple(categories)


def load_settings(
    config_path: Path | None = None,
    *,
    mlflow_url: str | None = None,
) -> Settings:
    """Load the catalog configuration (the packaged one unless ``config_path`` is given)."""
    if config_path is None:
        text = resources.files("mlops_server").joinpath("config.yaml").read_text("utf-8")
    else:
        text = config_path.read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text) or {}
    root_raw = dict(raw.get("root") or {})
    title, description, extra, locales = _split_texts(root_raw, "MLOps catalog")
    root = RootConfig(
        id=str(root_raw.get("id", "mlops")),
        title=title,
        description=description,
        extra=extra,
        locales=locales,
    )
    search = raw.get("search") or {}
    providers = raw.get("providers") or {}
    return Settings(
        root=root,
        categories=_parse_categories(list(raw.get("categories") or [])),
        extensions={str(k): str(v) for k, v in (raw.get("extensions") or {}).items()},
        page_size=int(search.get("page-size", 12)),
        max_page_size=int(search.get("max-page-size", 100)),
        host_provider_name=str(providers.get("host-name", "jupyter-mlops local store")),
        mlflow_url=mlflow_url.rstrip("/") if mlflow_url else None,
    )
