"""Registered models as STAC ``mlflow:model`` links, pulled through the project tracking URI."""

from __future__ import annotations

from mlops_server.tracking.stac import fetch_model_links

from tests.tracking.conftest import OUTSIDER, MlflowServer, Seed, token_of


def test_models_of_a_project_become_links_with_run_and_asset(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given the private project's registered model with a version made from a run
    seed = seeds["private"]
    uri = mlflow_server.tracking_uri(seed.path)

    # When the catalog pulls links with a reporter's token, and with an outsider's
    links, assets = fetch_model_links(uri, token_of("reporter"))
    hidden_links, _ = fetch_model_links(uri, OUTSIDER)

    # Then the reporter gets the newest version as an mlflow:model link with its run, and a
    # downloadable MLmodel asset; the outsider gets nothing
    [link] = links
    assert link["mlflow:uri"].startswith(f"models:/{seed.model}/")
    assert link["mlflow:run_id"] == seed.run_id
    assert link["href"].startswith(uri)
    assert link["title"].startswith("seed model v")
    [asset] = assets.values()
    assert asset["href"].startswith(f"{uri}model-versions/get-artifact?")
    assert hidden_links == []
