"""Server configuration: the packaged catalog config, an optional config file, env, CLI.

The catalog part (root catalog, categories, STAC extensions) is read from the packaged
``config.yaml``, shaped like upstream SharingHub's ``stac`` config so deployments can carry
their knowledge over. ``--config FILE`` may also be an upstream SharingHub YAML file (keys
``gitlab.*``, ``stac.root``, ``stac.categories``, ``stac.extensions``, ``stac.search.page-size``,
``mlflow.*``, ``server.session.*``, ``server.allowed-origins``, ``gitlab.oauth.*``,
``services.store`` + ``s3.*``), with upstream's environment overrides (``GITLAB_URL``,
``GITLAB_ALLOW_PUBLIC``, ``GITLAB_OAUTH_DEFAULT_TOKEN``, ``GITLAB_OAUTH_CLIENT_ID``,
``GITLAB_OAUTH_CLIENT_SECRET``, ``SESSION_SECRET_KEY``, ``SESSION_COOKIE``, ``SESSION_DOMAIN``,
``SESSION_MAX_AGE``, ``STORE_MODE``, ``S3_*``, ``MLFLOW_URL``, ``MLFLOW_TYPE``,
``STAC_SEARCH_PAGE_DEFAULT_SIZE``). Command-line options win over both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("mlops_server")


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
    #: Default STAC extensions (prefix -> schema URL) of every project in this category, so
    #: ``mlm:`` front matter of a model flattens without a per-project ``extensions`` entry.
    extensions: dict[str, str] = field(default_factory=dict)

    def feature_enabled(self, name: str) -> bool:
        return self.features.get(name) == "enable"


@dataclass(frozen=True)
class RootConfig:
    id: str
    title: str
    description: str
    extra: dict[str, Any] = field(default_factory=dict)
    locales: dict[str, dict[str, str]] = field(default_factory=dict)


# Upstream's OAuth scopes minus the OpenID ones (no ID token is used).
DEFAULT_OAUTH_SCOPES = "api read_user read_repository write_repository"


@dataclass(frozen=True)
class OAuthSettings:
    """The GitLab OAuth application behind ``/api/auth/login`` (``gitlab.oauth.*``)."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = DEFAULT_OAUTH_SCOPES


@dataclass(frozen=True)
class SessionSettings:
    """The session cookie (``server.session.*``).

    ``secret_key`` None means a random key per process: sessions then end with the process
    and are not shared between replicas (upstream defaults to an empty, insecure key).
    ``https_only`` None marks the cookie ``Secure`` when the request came over https.
    """

    secret_key: str | None = field(default=None, repr=False)
    cookie: str = "sharinghub-session"
    domain: str | None = None
    max_age: int = 3600
    https_only: bool | None = None


@dataclass(frozen=True)
class StoreSettings:
    """The DVC HTTP remote over S3 (``services.store`` and upstream's ``s3.*`` keys).

    Objects live at ``<prefix><project id>/<path>`` in ``bucket``. Credentials None fall back
    to boto3's own chain (``AWS_ACCESS_KEY_ID``, instance roles...). ``read_level`` is the
    upstream access level needed to read (2 = reporter, upstream requires 3 = developer);
    writes need 3. ``download`` is ``redirect`` (307 to a presigned URL, upstream) or
    ``stream`` (through this server, for S3 endpoints clients cannot reach).
    """

    mode: str
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    presigned_expiration: int = 3600
    upload_chunk_size: int = 6_000_000
    read_level: int = 2
    download: str = "redirect"


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
    gitlab_url: str | None = None
    allow_public: bool = True
    default_token: str | None = field(default=None, repr=False)
    access_cache_ttl: float = 60.0
    oauth: OAuthSettings | None = None
    session: SessionSettings = field(default_factory=SessionSettings)
    store: StoreSettings | None = None
    allowed_origins: tuple[str, ...] = ()
    #: What ``/api/config/`` tells the UI beyond the catalog (``jupyterlab``, ``docs``,
    #: ``wizard``, ``spaces``, ``external_urls``, ``default_tags``, ``alert_info``).
    ui: dict[str, Any] = field(default_factory=dict)

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


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a dict (None is empty), or a ValueError naming the config key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping, got {_kind(value)}")
    return value


def _split_texts(
    raw: dict[str, Any], default_title: str, where: str
) -> tuple[str, str, dict[str, Any], dict[str, dict[str, str]]]:
    title = str(raw.get("title", default_title))
    description = str(raw.get("description", ""))
    locales: dict[str, dict[str, str]] = {"en": {"title": title, "description": description}}
    for lang, texts in _mapping(raw.get("locales"), f"{where}.locales").items():
        texts = _mapping(texts, f"{where}.locales.{lang}")
        locales[str(lang)] = {k: str(v) for k, v in texts.items()}
    extra = {k: v for k, v in raw.items() if k not in (*_TEXT_KEYS, "locales", "id", "name")}
    return title, description, extra, locales


def _category_entries(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(id, body)`` pairs of upstream's list of single-key mappings (``- ai-model: {...}``).

    A plain mapping ``{ai-model: {...}}`` is accepted too, in its order.
    """
    if raw is None:
        return []
    if isinstance(raw, dict):
        raw = [{key: value} for key, value in raw.items()]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of '- <id>: {{...}}' entries, got {_kind(raw)}")
    entries = []
    for position, entry in enumerate(raw):
        if not isinstance(entry, dict) or not entry:
            raise ValueError(
                f"{where}[{position}]: expected a '<id>: {{title: ..., gitlab_topic: ...}}' "
                f"mapping, got {_kind(entry)}"
            )
        for cid, body in entry.items():
            entries.append((str(cid), _mapping(body, f"{where}.{cid}")))
    return entries


def _parse_categories(
    entries: list[tuple[str, dict[str, Any]]],
    where: str,
    defaults: tuple[Category, ...] = (),
) -> tuple[Category, ...]:
    """Categories from config entries.

    A category that declares no ``extensions`` inherits those of the packaged category with
    the same id or GitLab topic: an upstream config (which has no per-category extensions)
    still flattens ``mlm:`` front matter of models. ``extensions: {}`` opts out.
    """
    categories = []
    seen: set[str] = set()
    for cid, body in entries:
        here = f"{where}.{cid}"
        if cid in seen:
            raise ValueError(f"{here}: category declared twice")
        seen.add(cid)
        body = dict(body)
        title, description, extra, locales = _split_texts(body, cid, here)
        topic = str(extra.pop("gitlab_topic", f"sharinghub:{cid}"))
        features = _mapping(extra.pop("features", None), f"{here}.features")
        assets = extra.pop("assets", None) or []
        if not isinstance(assets, list):
            raise ValueError(f"{here}.assets: expected a list of globs or asset rules")
        if "extensions" in extra:
            extensions = extra.pop("extensions")
            if extensions is not None and not isinstance(extensions, dict):
                raise ValueError(
                    f"{here}.extensions: expected a mapping of prefix to schema URL, "
                    f"got {_kind(extensions)}"
                )
            extensions = extensions or {}
        else:
            inherited = [d for d in defaults if d.id == cid or d.gitlab_topic == topic]
            extensions = dict(inherited[0].extensions) if inherited else {}
        categories.append(
            Category(
                id=cid,
                title=title,
                description=description,
                gitlab_topic=topic,
                features={str(k): str(v) for k, v in features.items()},
                assets=list(assets),
                extra=extra,
                locales=locales,
                extensions={str(k): str(v) for k, v in extensions.items()},
            )
        )
    return tuple(categories)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _from_upstream(raw: dict[str, Any]) -> dict[str, Any]:
    """Reshape an upstream SharingHub config into this server's catalog shape."""
    stac = _mapping(raw.get("stac"), "stac")
    search = _mapping(stac.get("search"), "stac.search")
    return {
        "root": _mapping(stac.get("root"), "stac.root"),
        "categories": stac.get("categories"),
        "extensions": _mapping(stac.get("extensions"), "stac.extensions"),
        "search": {"page-size": search["page-size"]} if "page-size" in search else {},
    }


# Top-level keys of upstream's file and of this server's own shape; others are reported.
_KNOWN_KEYS = frozenset(
    (
        *("server", "checker", "services", "gitlab", "s3", "jupyterlab", "mlflow", "docs"),
        *("spaces", "stac", "tags", "alerts", "external-urls", "wizard"),
        *("root", "categories", "extensions", "search", "providers"),
    )
)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top, got {_kind(loaded)}")
    for key in loaded:
        if key not in _KNOWN_KEYS:
            log.warning("%s: unknown top-level key %r is ignored", path, key)
    return loaded


def _positive_int(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a whole number, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{where}: expected a number of at least 1, got {number}")
    return number


def _pick(env: Mapping[str, str], name: str, section: Mapping[str, Any], key: str) -> Any:
    """Upstream's rule: the environment variable wins over the YAML value."""
    value = env.get(name)
    return value if value not in (None, "") else section.get(key)


def _oauth(env: Mapping[str, str], gitlab: Mapping[str, Any]) -> OAuthSettings | None:
    oauth = _mapping(gitlab.get("oauth"), "gitlab.oauth")
    # Upstream nests the client under gitlab.oauth; accept it directly under gitlab too.
    client_id = _pick(env, "GITLAB_OAUTH_CLIENT_ID", oauth, "client-id") or gitlab.get("client-id")
    secret = _pick(env, "GITLAB_OAUTH_CLIENT_SECRET", oauth, "client-secret") or gitlab.get(
        "client-secret"
    )
    if not client_id or not secret:
        return None
    scopes = oauth.get("scopes") or DEFAULT_OAUTH_SCOPES
    if isinstance(scopes, list):
        scopes = " ".join(str(s) for s in scopes)
    return OAuthSettings(str(client_id), str(secret), str(scopes))


def _session(env: Mapping[str, str], server: Mapping[str, Any]) -> SessionSettings:
    session = _mapping(server.get("session"), "server.session")
    secret = _pick(env, "SESSION_SECRET_KEY", session, "secret-key")
    if not secret:  # upstream also reads <SECRET_DIR>/sessionSecretKey
        secret_file = Path(env.get("SECRET_DIR") or "/var/lib/secret") / "sessionSecretKey"
        if secret_file.is_file():
            secret = secret_file.read_text("utf-8").strip()
    https_only = session.get("https-only")
    return SessionSettings(
        secret_key=str(secret) if secret else None,
        cookie=str(_pick(env, "SESSION_COOKIE", session, "cookie") or "sharinghub-session"),
        domain=str(_pick(env, "SESSION_DOMAIN", session, "domain") or "") or None,
        max_age=int(_pick(env, "SESSION_MAX_AGE", session, "max-age") or 3600),
        https_only=None if https_only is None else _truthy(https_only),
    )


_STORE_ROLES = {"reporter": 2, "developer": 3}


def _store(env: Mapping[str, str], raw: Mapping[str, Any]) -> StoreSettings | None:
    services = _mapping(raw.get("services"), "services")
    store = _mapping(services.get("store"), "services.store")
    s3 = _mapping(raw.get("s3"), "s3")
    mode = env.get("STORE_MODE") or store.get("mode") or ("http" if s3.get("enable") else None)
    if not mode:
        return None
    bucket = _pick(env, "S3_BUCKET", s3, "bucket") or store.get("bucket")
    if not bucket:
        raise ValueError("services.store is enabled but no S3 bucket is set (s3.bucket)")
    read = str(store.get("read-access") or "reporter")
    if read not in _STORE_ROLES:
        raise ValueError("services.store.read-access: expected reporter or developer")
    download = str(store.get("download") or "redirect")
    if download not in ("redirect", "stream"):
        raise ValueError("services.store.download: expected redirect or stream")
    return StoreSettings(
        mode=str(mode),
        bucket=str(bucket),
        prefix=str(store.get("prefix") or s3.get("prefix") or ""),
        endpoint=_pick(env, "S3_ENDPOINT_URL", s3, "endpoint") or store.get("endpoint"),
        region=_pick(env, "S3_REGION_NAME", s3, "region") or store.get("region"),
        access_key=_pick(env, "S3_ACCESS_KEY", s3, "access-key"),
        secret_key=_pick(env, "S3_SECRET_KEY", s3, "secret-key"),
        presigned_expiration=int(
            _pick(env, "S3_PRESIGNED_EXPIRATION", s3, "presigned-expiration") or 3600
        ),
        upload_chunk_size=int(_pick(env, "S3_UPLOAD_CHUNK_SIZE", s3, "upload-chunk-size") or 6e6),
        read_level=_STORE_ROLES[read],
        download=download,
    )


def _ui(env: Mapping[str, str], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The UI-only keys of an upstream config, in ``/api/config/``'s shape."""

    def url(env_name: str, *sections: str) -> str | None:
        """The env variable, else ``<section>.url`` of the first section that has one."""
        if env.get(env_name):
            return env[env_name]
        for dotted in sections:
            node: Any = raw
            for part in dotted.split("."):
                node = _mapping(node, dotted).get(part)
            if _mapping(node, dotted).get("url"):
                return str(node["url"])
        return None

    external = raw.get("external-urls") or []
    if not isinstance(external, list):
        raise ValueError(f"external-urls: expected a list, got {_kind(external)}")
    ui: dict[str, Any] = {
        "jupyterlab": {"url": url("JUPYTERLAB_URL", "jupyterlab")},
        "docs": {"url": url("DOCS_URL", "docs")},
        "spaces": _mapping(raw.get("spaces"), "spaces"),
        "external_urls": external,
        "default_tags": _mapping(raw.get("tags"), "tags"),
        "wizard": {"url": url("WIZARD_URL", "services.wizard", "wizard")},
    }
    if raw.get("alerts"):
        ui["alert_info"] = _mapping(raw.get("alerts"), "alerts")
    return ui


def _origins(env: Mapping[str, str], server: Mapping[str, Any]) -> tuple[str, ...]:
    value = env.get("ALLOWED_ORIGINS")
    origins = value.split() if value else list(server.get("allowed-origins") or [])
    return tuple(str(o).rstrip("/") for o in origins)


def load_settings(
    config_path: Path | None = None,
    *,
    mlflow_url: str | None = None,
    gitlab_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load the configuration.

    Parameters
    ----------
    config_path
        A config file in this server's shape or upstream SharingHub's (recognised by its
        ``stac`` key); the packaged ``config.yaml`` when None. An upstream file without
        categories keeps the packaged ones.
    mlflow_url, gitlab_url
        Command-line values; they override the file and the environment.
    env
        Environment for upstream's overrides. When None: ``os.environ`` if a config file or
        a GitLab URL is given, else nothing (a local store never picks up GitLab settings
        from an unrelated environment).
    """
    if env is None:
        env = os.environ if (config_path is not None or gitlab_url) else {}
    packaged = resources.files("mlops_server").joinpath("config.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(packaged) or {}
    defaults = _parse_categories(_category_entries(raw.get("categories"), "categories"), "")
    upstream: dict[str, Any] = {}
    prefix = ""  # where the catalog keys sit in the file, for error messages
    if config_path is not None:
        loaded = _read_yaml(config_path)
        if "stac" in loaded or "gitlab" in loaded:
            upstream = loaded
            loaded = {k: v for k, v in _from_upstream(loaded).items() if v}
            prefix = "stac."
        raw = {**raw, **loaded}
    gitlab = _mapping(upstream.get("gitlab"), "gitlab")
    mlflow = _mapping(upstream.get("mlflow"), "mlflow")
    oauth = _mapping(gitlab.get("oauth"), "gitlab.oauth")
    server = _mapping(upstream.get("server"), "server")
    gitlab_url = gitlab_url or env.get("GITLAB_URL") or gitlab.get("url")
    allow_public = _truthy(env.get("GITLAB_ALLOW_PUBLIC", gitlab.get("allow-public", False)))
    default_token = env.get("GITLAB_OAUTH_DEFAULT_TOKEN") or oauth.get("default-token")
    mlflow_url = mlflow_url or env.get("MLFLOW_URL") or mlflow.get("url")
    mlflow_type = env.get("MLFLOW_TYPE") or mlflow.get("type") or "mlflow-sharinghub"
    root_raw = _mapping(raw.get("root"), f"{prefix}root")
    title, description, extra, locales = _split_texts(root_raw, "MLOps catalog", f"{prefix}root")
    root = RootConfig(
        id=str(root_raw.get("id") or "gitlab-cs"),
        title=title,
        description=description,
        extra=extra,
        locales=locales,
    )
    search = dict(_mapping(raw.get("search"), f"{prefix}search"))
    if env.get("STAC_SEARCH_PAGE_DEFAULT_SIZE"):
        search["page-size"] = env["STAC_SEARCH_PAGE_DEFAULT_SIZE"]
    providers = _mapping(raw.get("providers"), "providers")
    host_name = str(providers.get("host-name", "jupyter-mlops local store"))
    if gitlab_url:
        host_name = f"GitLab ({str(gitlab_url).rstrip('/')})"
    return Settings(
        root=root,
        categories=_parse_categories(
            _category_entries(raw.get("categories"), f"{prefix}categories"),
            f"{prefix}categories",
            defaults,
        ),
        extensions={
            str(k): str(v)
            for k, v in _mapping(raw.get("extensions"), f"{prefix}extensions").items()
        },
        page_size=_positive_int(search.get("page-size", 12), f"{prefix}search.page-size"),
        max_page_size=_positive_int(search.get("max-page-size", 100), "search.max-page-size"),
        host_provider_name=host_name,
        mlflow_url=str(mlflow_url).rstrip("/") if mlflow_url else None,
        mlflow_type=str(mlflow_type),
        gitlab_url=str(gitlab_url).rstrip("/") if gitlab_url else None,
        allow_public=allow_public if gitlab_url else True,
        default_token=str(default_token) if default_token else None,
        access_cache_ttl=float(env.get("MLOPS_ACCESS_CACHE_TTL") or 60.0),
        oauth=_oauth(env, gitlab) if gitlab_url else None,
        session=_session(env, server),
        store=_store(env, upstream),
        allowed_origins=_origins(env, server),
        ui=_ui(env, upstream),
    )
