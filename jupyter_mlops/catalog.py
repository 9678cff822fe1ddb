"""Catalog client: STAC search against a SharingHub-compatible API.

Plain Python (no tornado), shared by the server extension, magics and widgets. It talks to our
``mlops-server`` and to upstream SharingHub alike: the token goes in ``X-Gitlab-Token`` (the header
upstream reads), only known search parameters are forwarded, and any ``gitlab_token`` that an
upstream server writes into hrefs is removed before a response leaves this module.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import (
    parse_qsl,
    quote,
    unquote,
    unquote_to_bytes,
    urlencode,
    urlsplit,
    urlunsplit,
)

import httpx
import orjson

from .auth import TokenManager
from .errors import (
    AuthenticationError,
    BadRequestError,
    MLOpsError,
    NotFoundError,
    PermissionDeniedError,
    PlatformUnavailableError,
    UpstreamError,
)

T = TypeVar("T")

#: Query parameters of ``GET /api/stac/search`` that may be forwarded (upstream's and ours).
SEARCH_PARAMETERS = frozenset(
    {
        "collections",
        "bbox",
        "intersects",
        "datetime",
        "limit",
        "q",
        "ids",
        "sortby",
        "mode",
        "token",
        "after",
        "before",
        "filter",
        "filter-lang",
        "fields",
    }
)

#: Query parameters that carry credentials and must never be echoed in an href.
SECRET_PARAMETERS = frozenset({"gitlab_token", "private_token", "access_token", "token_secret"})

_STATUS_ERRORS: dict[int, type[MLOpsError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
}


def scrub_href(href: str) -> str:
    """Remove credential query parameters from a URL."""
    raw_query = href.partition("?")[2].partition("#")[0]
    if not raw_query:
        return href
    # Every decoded query key is a substring of the decoded query: when no secret name is in
    # it, nothing is removed, so skip the parse (most hrefs have a harmless query, e.g. ?ref=).
    decoded = unquote(raw_query).lower()
    if not any(name in decoded for name in SECRET_PARAMETERS):
        return href
    parts = urlsplit(href)
    if not parts.query:
        return href
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in query if k.lower() not in SECRET_PARAMETERS]
    if len(kept) == len(query):
        return href
    return urlunsplit(parts._replace(query=urlencode(kept)))


# A URL inside prose: Markdown `![x](url)`, HTML `src="url"`, or bare.
_URL_IN_TEXT = re.compile(r"""https?://[^\s"'<>()\[\]]+""")


def scrub_text(text: str) -> str:
    """Remove credential parameters from the URLs inside a text (upstream SharingHub puts
    ``gitlab_token`` into the README image URLs of an item's description); prose that only
    mentions a parameter name is kept."""
    if "?" not in text or not any(name in unquote(text).lower() for name in SECRET_PARAMETERS):
        return text
    return _URL_IN_TEXT.sub(lambda match: scrub_href(match.group(0)), text)


def scrub_document(document: Any) -> Any:
    """Return a copy of a STAC/JSON document with every ``href``, and every URL inside other
    strings, scrubbed of credentials."""
    if isinstance(document, dict):
        return {key: _scrub_value(key, value) for key, value in document.items()}
    if isinstance(document, list):
        return [scrub_document(value) for value in document]
    if isinstance(document, str):
        return scrub_text(document)
    return document


def _scrub_value(key: str, value: Any) -> Any:
    if key == "href" and isinstance(value, str):
        return scrub_href(value)
    return scrub_document(value)


def _scrub_object(node: dict[str, Any]) -> dict[str, Any]:
    for key, value in node.items():
        if isinstance(value, str) and "?" in value:
            node[key] = scrub_href(value) if key == "href" else scrub_text(value)
        elif isinstance(value, list):
            node[key] = [scrub_text(v) if isinstance(v, str) else v for v in value]
    return node


_SECRET_NAMES = tuple(name.encode() for name in SECRET_PARAMETERS)
#: The only characters whose lowercase holds ASCII letters (U+0130 and the Kelvin sign), UTF-8.
_FOLDING_TO_ASCII = ("\u0130".encode(), "\u212a".encode())


def _may_name_a_secret(content: bytes) -> bool:
    """Whether a JSON body could hold a credential parameter in some ``href``.

    A secret name reaches a decoded href only as itself in any case, or through a percent
    escape, a JSON ``\\u`` escape or a character that lowercases to ASCII: a body with none of
    those cannot carry one. Errs on the side of yes.
    """
    if b"\\u" in content:
        return True
    text = unquote_to_bytes(content) if b"%" in content else content
    if any(folding in text for folding in _FOLDING_TO_ASCII):
        return True
    lowered = text.lower()
    return any(name in lowered for name in _SECRET_NAMES)


def loads_scrubbed(content: bytes) -> Any:
    """Parse a JSON body with every credential parameter removed from every ``href``.

    The same result as ``scrub_document(json.loads(content))`` at a fraction of the cost (the
    proxy does this for every catalog response): a body that cannot name a secret is parsed
    with orjson and left as it is; any other is parsed with each JSON object, at any depth,
    scrubbed as the parser builds it.
    """
    if _may_name_a_secret(content):
        return json.loads(content, object_hook=_scrub_object)
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:  # what orjson refuses and json takes (NaN, a BOM)
        return json.loads(content)


def dumps(document: Any) -> bytes:
    """Serialise a JSON answer (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(document)
    except TypeError:
        return json.dumps(document).encode()


#: Media types of the project files :meth:`CatalogAPI.open_image` serves, by file suffix.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
}

#: Largest image :meth:`CatalogAPI.open_image` streams, in bytes.
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def _path(value: str) -> str:
    """A slash-separated path of :func:`_segment`-checked, percent-encoded segments."""
    return "/".join(_segment(part) for part in value.split("/"))


def _segment(value: str) -> str:
    """One URL path segment: refuse traversal and separators, percent-encode the rest."""
    if value in {"", ".", ".."} or "/" in value or "\\" in value:
        raise BadRequestError(f"Invalid path segment {value!r}.", reason="invalid_path")
    return quote(value, safe="")


def _error_message(response: httpx.Response) -> str:
    """A short human message from an upstream error body, never the raw body."""
    try:
        body = response.json()
    except ValueError:
        return f"the catalog answered HTTP {response.status_code}"
    if isinstance(body, dict):
        for key in ("message", "description", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:500]
    return f"the catalog answered HTTP {response.status_code}"


class CatalogAPI:
    """Asynchronous client of one SharingHub-compatible STAC API.

    Parameters
    ----------
    base_url
        SharingHub base URL, without ``/api`` (e.g. ``https://sharinghub.example.org``).
    token
        GitLab token of the user, or ``None`` for anonymous (public-mode) access.
    timeout
        Seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # A long-lived client keeps connections alive; a new one per call costs an SSL context
        # and a TCP handshake (about 100 ms per proxied search, measured in bench/proxy.py).
        self._client = client
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["X-Gitlab-Token"] = token

    @property
    def search_url(self) -> str:
        return f"{self.base_url}/api/stac/search"

    async def search(self, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, Any]:
        """Run an item search and return the FeatureCollection (hrefs scrubbed).

        Raises
        ------
        BadRequestError
            For an unknown parameter or one the catalog rejects.
        UpstreamError
            When the catalog cannot be reached or answers something that is not JSON.
        """
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        unknown = sorted({key for key, _ in pairs if key not in SEARCH_PARAMETERS})
        if unknown:
            raise BadRequestError(
                f"Unknown search parameter(s): {', '.join(unknown)}. Known: "
                + ", ".join(sorted(SEARCH_PARAMETERS)),
                reason="unknown_parameter",
            )
        return await self._get_json(self.search_url, pairs)

    async def search_each(
        self, params: Iterable[tuple[str, str]] | Mapping[str, str], collections: Sequence[str]
    ) -> dict[str, Any]:
        """Search a catalog that takes one collection per request (upstream SharingHub 0.4).

        One first page per collection, fetched concurrently and merged; ``numberMatched`` is
        the sum when every page knows it. Each collection keeps its own ``next`` link (titled
        with the collection id), so paging continues collection by collection.
        """
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        base = [(key, value) for key, value in pairs if key not in {"collections", "token"}]
        pages = await asyncio.gather(
            *(self.search([*base, ("collections", collection)]) for collection in collections)
        )
        matched = [page.get("numberMatched") for page in pages]
        features = [feature for page in pages for feature in page.get("features") or []]
        links: list[dict[str, Any]] = []
        for collection, page in zip(collections, pages, strict=True):
            for link in page.get("links") or []:
                if isinstance(link, dict) and link.get("rel") == "next":
                    links.append({**link, "title": collection})
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": sum(matched) if all(isinstance(m, int) for m in matched) else None,
            "numberReturned": len(features),
            "links": links,
        }

    async def collections(self) -> dict[str, Any]:
        """All collections (categories) of the catalog."""
        return await self._get_json(f"{self.base_url}/api/stac/collections", [])

    async def item(self, collection_id: str, item_id: str) -> dict[str, Any]:
        """One item (full mode upstream); ``item_id`` is the project's full path."""
        return await self._get_json(
            f"{self.base_url}/api/stac/collections/{_segment(collection_id)}/items/"
            + _path(item_id),
            [],
        )

    async def check(self, project: str) -> dict[str, Any]:
        """The caller's access to a project: ``{id, name, path, access_level, categories}``."""
        return await self._get_json(
            f"{self.base_url}/api/check/" + _path(project),
            [("info", "true")],
        )

    async def config(self) -> dict[str, Any]:
        """The catalog's public configuration (``/api/config/``)."""
        return await self._get_json(f"{self.base_url}/api/config/", [])

    @contextlib.asynccontextmanager
    async def open_image(
        self, project: str, file_path: str, ref: str | None = None
    ) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        """Open one image file of a project's repository (``/api/download/.../repository/``).

        Yields the media type (from the file suffix, one of :data:`IMAGE_TYPES`) and an
        iterator of the body's chunks. Only image files are served, redirects are not followed
        (the bytes come from the catalog itself), and a body over :data:`MAX_IMAGE_BYTES` is
        refused up front or cut off with a ``BadRequestError`` (reason ``too_large``).

        Raises
        ------
        BadRequestError
            For a path with ``.``/``..``/empty segments or a file that is not an image.
        NotFoundError, PermissionDeniedError, AuthenticationError, UpstreamError
            As the catalog answers.
        """
        media_type = IMAGE_TYPES.get(PurePosixPath(file_path).suffix.lower())
        if media_type is None:
            raise BadRequestError(
                f"Only images can be shown ({', '.join(sorted(IMAGE_TYPES))}).",
                reason="not_an_image",
            )
        url = f"{self.base_url}/api/download/{_path(project)}/repository/{_path(file_path)}"
        params = [("ref", ref)] if ref else []
        async with contextlib.AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=self.timeout))
            try:
                response = await stack.enter_async_context(
                    client.stream(
                        "GET",
                        url,
                        params=tuple(params),
                        headers={**self._headers, "Accept": "image/*"},
                        timeout=self.timeout,
                        follow_redirects=False,
                    )
                )
            except httpx.HTTPError as error:
                raise UpstreamError(
                    f"Could not reach the catalog at {self.base_url}: {type(error).__name__}",
                    reason="unreachable",
                ) from error
            if response.status_code != 200:
                await response.aread()
                error_type = _STATUS_ERRORS.get(response.status_code, UpstreamError)
                raise error_type(f"The catalog refused the image: {_error_message(response)}")
            declared = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if declared and not declared.startswith("image/") and declared not in _GENERIC_TYPES:
                raise UpstreamError(
                    f"The catalog answered {declared} for an image.", reason="not_an_image"
                )
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_IMAGE_BYTES:
                raise BadRequestError(_too_large(), reason="too_large")

            async def chunks() -> AsyncIterator[bytes]:
                seen = 0
                async for chunk in response.aiter_bytes():
                    seen += len(chunk)
                    if seen > MAX_IMAGE_BYTES:
                        raise BadRequestError(_too_large(), reason="too_large")
                    yield chunk

            yield media_type, chunks()

    async def _get_json(self, url: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        try:
            if self._client is not None:
                # The query encoded here, not by httpx: its params merging costs more than the
                # rest of building the request (0.15 ms per call, bench/proxy.py).
                query = f"?{urlencode(params)}" if params else ""
                response = await self._client.get(
                    url + query, headers=self._headers, timeout=self.timeout
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.get(url, params=tuple(params), headers=self._headers)
        except httpx.HTTPError as error:
            raise UpstreamError(
                f"Could not reach the catalog at {self.base_url}: {type(error).__name__}",
                reason="unreachable",
            ) from error
        if response.status_code >= 400:
            error_type = _STATUS_ERRORS.get(response.status_code, UpstreamError)
            raise error_type(f"The catalog refused the request: {_error_message(response)}")
        try:
            document = loads_scrubbed(response.content)
        except ValueError as error:
            raise UpstreamError("The catalog answered with something that is not JSON.") from error
        if not isinstance(document, dict):
            raise UpstreamError("The catalog answered with JSON that is not an object.")
        return document


#: Content types a catalog may send for a file whose type it does not know.
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


def _too_large() -> str:
    return f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB."


_PAGING_RELS = frozenset({"next", "prev", "previous", "self"})


def relink_pages(document: dict[str, Any], upstream_search_url: str, proxy_url: str) -> None:
    """Point the paging links of a search response at this server's proxy route, in place.

    Upstream ``next``/``prev``/``self`` links target the platform, which the browser must never
    call directly. A link whose scheme, host and path are the upstream search route keeps its
    (allow-listed) query and gets ``proxy_url`` as its base; the page token is followed as-is,
    never re-derived.
    """
    upstream = urlsplit(upstream_search_url)
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") not in _PAGING_RELS:
            continue
        href = link.get("href")
        if not isinstance(href, str):
            continue
        parts = urlsplit(href)
        if (parts.scheme, parts.netloc, parts.path.rstrip("/")) != (
            upstream.scheme,
            upstream.netloc,
            upstream.path.rstrip("/"),
        ):
            continue
        query = [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key in SEARCH_PARAMETERS
        ]
        link["href"] = f"{proxy_url}?{urlencode(query)}" if query else proxy_url


class Catalog:
    """The catalog from a notebook: search, open, check and download, with no token in sight.

    Parameters
    ----------
    url
        SharingHub base URL. Default: the platform of this Jupyter server (``MLOPS_SHARINGHUB_URL``
        or the platform file the server extension writes when the platform is ready).
    token
        GitLab token. Default: the same token sources as the server extension.
    multi_collection
        Whether the server accepts several collections per search (ours does; upstream SharingHub
        0.4 wants exactly one). Default: asked from the server's ``/api/config/``.

    Examples
    --------
    >>> catalog = Catalog()
    >>> items = catalog.search(collections=["dataset"], bbox=[-66, -15, -64, -13])
    >>> path = catalog.download(items[0], "chips.csv", to="data/")
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        multi_collection: bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        from .platform import discover_endpoints

        endpoints = discover_endpoints()
        resolved = url or endpoints.sharinghub_url
        if not resolved:
            raise PlatformUnavailableError(
                "No catalog URL: pass Catalog(url=...), set MLOPS_SHARINGHUB_URL, or run this in a"
                " kernel started by a Jupyter server with jupyter-mlops.",
                reason="unconfigured",
            )
        self.url = resolved.rstrip("/")
        self.mlflow_url = endpoints.mlflow_url
        self.timeout = timeout
        self._token = token if token is not None else run_sync(default_tokens().token())
        self._multi = multi_collection

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Gitlab-Token": self._token} if self._token else {}

    @property
    def multi_collection(self) -> bool:
        if self._multi is None:
            config = self._get(f"{self.url}/api/config/")
            self._multi = bool((config.get("mlops_server") or {}).get("multi_collection"))
        return self._multi

    def _client(self, extra: dict[str, str] | None = None) -> Any:
        from pystac_client import Client

        return Client.open(
            f"{self.url}/api/stac", headers=self.headers, parameters=extra, timeout=self.timeout
        )

    def search(
        self,
        collections: Sequence[str] | str | None = None,
        bbox: Sequence[float] | None = None,
        datetime: str | None = None,
        q: str | None = None,
        limit: int = 50,
        max_items: int | None = 500,
        **params: Any,
    ) -> Any:
        """Search items; returns a :class:`pystac.ItemCollection` (pages are followed).

        With an upstream SharingHub, several collections are searched one after the other.
        """
        import pystac

        wanted = [collections] if isinstance(collections, str) else list(collections or [])
        if not wanted and not self.multi_collection:
            config = self._get(f"{self.url}/api/config/")
            wanted = list(config.get("categories") or {})
        groups = [wanted] if self.multi_collection else [[c] for c in wanted]
        items: list[Any] = []
        for group in groups or [[]]:
            client = self._client({"q": q} if q else None)
            search = client.search(
                method="GET",
                collections=group or None,
                bbox=list(bbox) if bbox else None,
                datetime=datetime,
                limit=limit,
                max_items=None if max_items is None else max_items - len(items),
                **params,
            )
            items.extend(search.items())
            if max_items is not None and len(items) >= max_items:
                break
        return pystac.ItemCollection(items)

    def item(self, item_id: str, collection: str | None = None) -> Any:
        """Open one item by id (the project path); the collection is found when not given."""
        import pystac

        if collection is None:
            found = self.search(ids=[item_id], max_items=1)
            if not found.items:
                raise NotFoundError(f"No item {item_id!r} visible to you.")
            collection = found.items[0].collection_id
        segments = "/".join(_segment(part) for part in item_id.split("/"))
        data = self._get(
            f"{self.url}/api/stac/collections/{_segment(str(collection))}/items/{segments}"
        )
        return pystac.Item.from_dict(data)

    def check(self, project: str) -> dict[str, Any]:
        """Your access to a project: ``{id, name, path, access_level, categories}``."""
        segments = "/".join(_segment(part) for part in project.split("/"))
        return self._get(f"{self.url}/api/check/{segments}?info=true")

    def download(self, item: Any, asset: str, to: str | Path = ".", progress: bool = True) -> Path:
        """Download one asset of an item into a folder; resumes a partial download.

        Returns the path of the file.
        """
        from tqdm.auto import tqdm

        from .downloads import fetch_to_file

        if isinstance(item, str):
            item = self.item(item)
        assets = item.assets
        if asset not in assets:
            raise NotFoundError(f"{item.id} has no asset {asset!r}; it has {', '.join(assets)}.")
        href = assets[asset].href
        dest = Path(to) / PurePosixPath(urlsplit(href).path).name
        bases = [b for b in (self.url, self.mlflow_url) if b]
        bar = tqdm(unit="B", unit_scale=True, desc=dest.name, disable=not progress)

        def report(done: int, total: int | None) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            with httpx.Client(timeout=self.timeout) as client:
                fetch_to_file(client, href, dest, bases, self.headers, report)
        finally:
            bar.close()
        return dest

    def _get(self, url: str) -> dict[str, Any]:
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            try:
                response = client.get(url)
            except httpx.HTTPError as error:
                raise UpstreamError(f"Could not reach the catalog at {self.url}.") from error
        if response.status_code >= 400:
            error_type = _STATUS_ERRORS.get(response.status_code, UpstreamError)
            raise error_type(f"The catalog refused the request: {_error_message(response)}")
        data: dict[str, Any] = response.json()
        return data


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run a coroutine from synchronous code, also inside a kernel whose loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(awaitable))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _as_coroutine(awaitable)).result()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def default_tokens() -> TokenManager:
    """The token sources of this process (kernel or server), as the server extension has them."""
    from jupyter_core.paths import jupyter_data_dir

    path = os.environ.get("MLOPS_CREDENTIALS_PATH") or str(
        Path(jupyter_data_dir()) / "jupyter_mlops" / "credentials.json"
    )
    return TokenManager.default(Path(path))
