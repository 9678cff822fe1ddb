"""Upstream's href helpers for front matter links and assets."""

from __future__ import annotations

from mlops_server.stac.hrefs import resolve_href


def test_href_helpers_keep_queries_and_dot_paths() -> None:
    # Given
    ids = {"ai-model", "dataset"}

    # Then: a collection+URL keeps its query, ./ is dropped but a leading dot file is kept
    assert resolve_href("dataset+https://gitlab.x/g/data?ref=v2", "g/p", "main", ids) == (
        "/api/stac/collections/dataset/items/g/data?ref=v2"
    )
    assert resolve_href("./.dvc/config", "g/p", "main", ids) == (
        "/api/download/g/p/repository/.dvc/config?ref=main"
    )
    assert resolve_href("././docs/a.md", "g/p", "main", ids) == (
        "/api/download/g/p/repository/docs/a.md?ref=main"
    )
    assert resolve_href("https://example.org/x", "g/p", "main", ids) == "https://example.org/x"
