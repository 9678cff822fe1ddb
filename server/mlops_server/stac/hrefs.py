"""Hrefs inside STAC documents.

Items are stored with server-relative hrefs (``/api/...``) and made absolute at response time
from the request's base URL, because the same server may be reached under several hosts or
path prefixes (loopback, a Jupyter proxy, an ingress).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

API = "/api"

# Image sources in Markdown text: `![alt](src "title")` and HTML `src="..."` attributes.
_IMAGE_SOURCE = re.compile(r"""(!\[[^\]]*\]\(\s*<?|\bsrc\s*=\s*["'])([^\s)>"']+)""")
# The same places holding one of this server's relative download URLs, once rewritten.
_RELATIVE_SOURCE = re.compile(r"""(!\[[^\]]*\]\(\s*<?|\bsrc\s*=\s*["'])(?=/api/download/)""")


def download_href(project_path: str, file_path: str, ref: str) -> str:
    """Server-relative URL that streams one file of a project."""
    query = quote(ref, safe="")
    return f"{API}/download/{quote(project_path)}/repository/{quote(file_path)}?ref={query}"


def item_href(collection_id: str, project_path: str) -> str:
    return f"{API}/stac/collections/{quote(collection_id)}/items/{quote(project_path)}"


def collection_href(collection_id: str) -> str:
    return f"{API}/stac/collections/{quote(collection_id)}"


def is_local_path(href: str) -> bool:
    """True for a repository path (no scheme, or ``file:``), as the front matter helpers say."""
    scheme = urlsplit(href).scheme
    return (scheme == "" and not href.startswith("/")) or scheme == "file"


def resolve_href(href: str, project_path: str, ref: str, collection_ids: set[str]) -> str:
    """Apply the upstream href helpers to a front matter href.

    - a repository path becomes the download URL of that file;
    - ``<collection>+<project URL>`` becomes this server's item URL of that project;
    - anything else is kept.
    """
    prefix, plus, rest = href.partition("+")
    if plus and prefix in collection_ids and urlsplit(rest).scheme in ("http", "https"):
        target = urlsplit(rest)
        query = f"?{target.query}" if target.query else ""
        return item_href(prefix, target.path.strip("/")) + query
    if is_local_path(href):
        path = urlsplit(href).path if href.startswith("file:") else href
        while path.startswith("./"):  # `./.dvc/config` keeps its own dot
            path = path[2:]
        return download_href(project_path, path.lstrip("/"), ref)
    return href


def rewrite_images(text: str, resolve: Callable[[str], str]) -> str:
    """Pass every image source of a Markdown/HTML text through ``resolve`` (upstream rewrites
    README images of the full-mode description; plain links are left alone)."""
    return _IMAGE_SOURCE.sub(lambda match: match.group(1) + resolve(match.group(2)), text)


def absolutize_text(text: str, base_url: str) -> str:
    """Make the server-relative image sources ``rewrite_images`` produced absolute."""
    if f"{API}/download/" not in text:
        return text
    return _RELATIVE_SOURCE.sub(lambda match: match.group(1) + base_url, text)


def absolute(href: str, base_url: str) -> str:
    """Prefix a server-relative href with the base URL (no trailing slash)."""
    if href.startswith("/") and not href.startswith("//"):
        return base_url + href
    return href


def absolutize_document(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Make the hrefs of a document's links and assets absolute, in place."""
    for link in document.get("links") or []:
        if isinstance(link, dict) and isinstance(link.get("href"), str):
            link["href"] = absolute(link["href"], base_url)
    for asset in (document.get("assets") or {}).values():
        if isinstance(asset, dict) and isinstance(asset.get("href"), str):
            asset["href"] = absolute(asset["href"], base_url)
    return document
