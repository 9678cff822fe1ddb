"""DOIs cited in a README become `sci:*` properties and a `cite-as` link, as upstream does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pystac
from mlops_server.settings import load_settings
from mlops_server.stac.items import SCIENTIFIC_SCHEMA, build_item

from tests.server.test_category_extensions import project
from tests.stac_offline import OfflineSTACValidator


def build(readme: str) -> dict[str, Any]:
    return build_item(
        replace(project(("sharinghub:dataset",)), readme=readme), load_settings()
    ).item


def cite_as(item: dict[str, Any]) -> list[str]:
    return [link["href"] for link in item["links"] if link["rel"] == "cite-as"]


def test_readme_doi_links_give_the_doi_the_citation_and_publications() -> None:
    # Given: a README citing two papers by link, and a front matter DOI it overrides
    item = build(
        "---\nsci:\n  doi: 10.9999/front-matter\n---\n# Flood maps\n\n"
        "Trained as in [DOI: Smith et al. (2021), Floods](https://doi.org/10.1234/floods.2021) "
        "and [Jones 2020](http://dx.doi.org/10.5555/JONES-20).\n"
    )

    # Then
    props = item["properties"]
    assert props["sci:doi"] == "10.1234/floods.2021"
    assert props["sci:citation"] == "Smith et al. (2021), Floods"
    assert props["sci:publications"] == [{"doi": "10.5555/JONES-20", "citation": "Jones 2020"}]
    assert SCIENTIFIC_SCHEMA in item["stac_extensions"]
    assert cite_as(item) == ["https://doi.org/10.1234/floods.2021"]


def test_a_bare_doi_url_gives_the_doi_with_an_empty_citation() -> None:
    item = build("# Model\n\nPaper: https://doi.org/10.1000/xyz-123.\n")
    assert item["properties"]["sci:doi"] == "10.1000/xyz-123"
    assert item["properties"]["sci:citation"] == ""
    assert cite_as(item) == ["https://doi.org/10.1000/xyz-123"]


def test_a_front_matter_doi_alone_is_cited_too() -> None:
    item = build("---\nsci:\n  doi: 10.4242/own\n---\n# Model\n")
    assert item["properties"]["sci:doi"] == "10.4242/own"
    assert cite_as(item) == ["https://doi.org/10.4242/own"]


def test_no_doi_means_no_scientific_extension_and_no_cite_as() -> None:
    item = build("# Model\n\nSee https://example.org/10.1234/not-a-doi-link.\n")
    assert not [key for key in item["properties"] if key.startswith("sci:")]
    assert SCIENTIFIC_SCHEMA not in item["stac_extensions"]
    assert cite_as(item) == []


def test_an_item_with_citations_validates() -> None:
    item = build("# M\n\n[A](https://doi.org/10.1000/a) [B](https://doi.org/10.2000/b)\n")
    item["links"] = [link for link in item["links"] if link["href"].startswith("http")]
    checked = pystac.Item.from_dict(item).validate(validator=OfflineSTACValidator())
    assert SCIENTIFIC_SCHEMA in checked
