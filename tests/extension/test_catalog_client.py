"""Plain-Python parts of the catalog client."""

from __future__ import annotations

from jupyter_mlops.catalog import relink_pages, scrub_document, scrub_href


def test_scrub_href_removes_credentials_and_keeps_the_rest() -> None:
    # Given: an upstream SharingHub download href carrying the user's token
    href = "https://sh/api/download/g/p/repository/a.csv?ref=main&gitlab_token=glpat-SECRET"

    # When
    clean = scrub_href(href)

    # Then
    assert "SECRET" not in clean
    assert clean == "https://sh/api/download/g/p/repository/a.csv?ref=main"


def test_scrub_document_walks_links_and_assets() -> None:
    # Given
    document = {
        "features": [
            {
                "links": [{"rel": "self", "href": "https://sh/x?gitlab_token=t1"}],
                "assets": {"a": {"href": "https://sh/y?private_token=t2&ref=main"}},
                "properties": {"description": "keep ?gitlab_token=text in prose"},
            }
        ]
    }

    # When
    clean = scrub_document(document)

    # Then
    feature = clean["features"][0]
    assert feature["links"][0]["href"] == "https://sh/x"
    assert feature["assets"]["a"]["href"] == "https://sh/y?ref=main"
    assert feature["properties"]["description"] == "keep ?gitlab_token=text in prose"


def test_relink_pages_only_rewrites_links_to_the_upstream_search() -> None:
    # Given
    document = {
        "links": [
            {"rel": "next", "href": "http://127.0.0.1:9/api/stac/search?limit=1&token=abc"},
            {"rel": "root", "href": "http://127.0.0.1:9/api/stac"},
            {"rel": "next", "href": "http://elsewhere/api/stac/search?token=x"},
        ]
    }

    # When
    relink_pages(document, "http://127.0.0.1:9/api/stac/search", "/user/a/jupyter-mlops/s")

    # Then
    links = document["links"]
    assert links[0]["href"] == "/user/a/jupyter-mlops/s?limit=1&token=abc"
    assert links[1]["href"] == "http://127.0.0.1:9/api/stac"
    assert links[2]["href"] == "http://elsewhere/api/stac/search?token=x"
