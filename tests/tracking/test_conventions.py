"""Upstream conventions: name suffixes, the server-set project tag, the read-only global view,
search filtering with correct paging, and deny-by-default on every artifact and unknown route."""

from __future__ import annotations

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.tracking.conftest import OUTSIDER, PROJECTS, MlflowServer, Seed, as_token, token_of

DEVELOPER = token_of("developer")


def project_client(server: MlflowServer, visibility: str) -> MlflowClient:
    return MlflowClient(tracking_uri=server.tracking_uri(str(PROJECTS[visibility]["path"])))


def refused(call: object) -> MlflowException:
    assert callable(call)
    with pytest.raises(MlflowException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("name", ["wine", "wine (12)", "wine(11)", " (11)"])
def test_experiment_names_need_the_project_id_suffix(
    mlflow_server: MlflowServer, seeds: dict[str, Seed], name: str
) -> None:
    # Given a developer on the public project (id 11)
    client = project_client(mlflow_server, "public")

    # When they create an experiment whose name lacks " (11)"
    with as_token(DEVELOPER):
        error = refused(lambda: client.create_experiment(name))

    # Then it is a 403 that tells the rule
    assert error.get_http_status_code() == 403
    assert "must end with ' (11)'" in error.message


def test_registered_model_names_and_renames_keep_the_suffix(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    client = project_client(mlflow_server, "public")
    with as_token(DEVELOPER):
        # Given a model with the right suffix
        client.create_registered_model("rename me (11)")
        # When it is created with another project's id, or renamed without the suffix
        wrong_id = refused(lambda: client.create_registered_model("cnn (13)"))
        dropped = refused(lambda: client.rename_registered_model("rename me (11)", "renamed"))
        # Then both are refused, and a rename keeping the suffix works
        client.rename_registered_model("rename me (11)", "renamed (11)")
        assert client.get_registered_model("renamed (11)").name == "renamed (11)"
    assert wrong_id.get_http_status_code() == 403
    assert dropped.get_http_status_code() == 403
    assert "must end with ' (11)'" in dropped.message


def test_project_tag_is_set_by_the_server_and_cannot_change(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    seed = seeds["public"]
    client = project_client(mlflow_server, "public")
    with as_token(token_of("maintainer")):
        # Given objects created through the project's tracking URI
        experiment = client.get_experiment(seed.experiment_id)
        model = client.get_registered_model(seed.model)
        # When the maintainer tries to change, delete or pre-set the tag
        attempts = [
            lambda: client.set_experiment_tag(seed.experiment_id, "project", "team/other"),
            lambda: client.delete_experiment_tag(seed.experiment_id, "project"),
            lambda: client.set_registered_model_tag(seed.model, "project", "team/other"),
            lambda: client.delete_registered_model_tag(seed.model, "project"),
            lambda: client.create_experiment("tagged (11)", tags={"project": "team/other"}),
        ]
        errors = [refused(attempt) for attempt in attempts]
        # Then the server-set tag is there, unchanged, and every attempt was a 403
        assert client.get_experiment(seed.experiment_id).tags["project"] == seed.path
    assert experiment.tags["project"] == seed.path
    assert model.tags["project"] == seed.path
    assert [e.get_http_status_code() for e in errors] == [403] * 5
    assert all("set by the server" in e.message for e in errors)


def test_other_project_objects_are_refused_on_a_project_route(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given a developer of every project, on the public project's tracking URI
    client = project_client(mlflow_server, "public")
    private = seeds["private"]
    with as_token(DEVELOPER):
        # When they address the private project's run and model through it
        errors = [
            refused(lambda: client.get_run(private.run_id)),
            refused(lambda: client.get_registered_model(private.model)),
            refused(lambda: client.create_run(private.experiment_id)),
        ]
    # Then the route's project decides: the objects belong elsewhere
    assert [e.get_http_status_code() for e in errors] == [403, 403, 403]
    assert "does not belong to project team/public-model" in errors[0].message


def test_global_view_is_read_only_and_filtered(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given the global view (no project prefix)
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri(None))
    with as_token(OUTSIDER):
        # When an outsider (no member of the private project) searches and writes
        names = {e.name for e in client.search_experiments()}
        models = {m.name for m in client.search_registered_models()}
        runs = client.search_runs([s.experiment_id for s in seeds.values()])
        write = refused(lambda: client.create_experiment("global (11)"))
    # Then only public and internal objects show, and writing is refused
    assert "seed (11)" in names
    assert "seed (12)" in names
    assert "seed (13)" not in names
    assert "Default" not in names
    assert "seed model (13)" not in models
    assert "seed model (11)" in models
    assert {r.info.experiment_id for r in runs} == {
        seeds["public"].experiment_id,
        seeds["internal"].experiment_id,
    }
    assert write.get_http_status_code() == 403
    assert "read-only" in write.message


def test_global_search_pages_are_full_and_complete(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given the global view and an outsider who may read some experiments only
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri(None))
    with as_token(OUTSIDER):
        everything = [e.experiment_id for e in client.search_experiments()]
        # When paging one experiment at a time
        paged: list[str] = []
        token = None
        while True:
            page = client.search_experiments(max_results=1, page_token=token)
            assert len(page) == 1 or not page.token
            paged += [e.experiment_id for e in page]
            token = page.token
            if not token:
                break
    # Then the pages add up to the full answer, with no duplicates and no private entry
    assert paged == everything
    assert seeds["private"].experiment_id not in paged


def test_project_search_shows_only_that_project(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given a developer of every project on the internal project's URI
    client = project_client(mlflow_server, "internal")
    with as_token(DEVELOPER):
        # When they search experiments and registered models there, with a user filter too
        experiments = {e.name for e in client.search_experiments()}
        filtered = {e.name for e in client.search_experiments(filter_string="name LIKE 'seed%'")}
        models = {m.name for m in client.search_registered_models()}
        versions = {v.name for v in client.search_model_versions()}
    # Then only the internal project's objects come back
    assert experiments == {"seed (12)"}
    assert filtered == {"seed (12)"}
    assert models == {"seed model (12)"}
    assert versions == {"seed model (12)"}


def artifact_requests(seed: Seed, model_id: str | None = None) -> list[tuple[str, str, dict]]:
    base = f"{seed.experiment_id}/{seed.run_id}/artifacts"
    requests: list[tuple[str, str, dict]] = [
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{base}/file.txt", {}),
        ("GET", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{base}/file.txt", {}),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"params": {"path": base}}),
        ("GET", "/ajax-api/2.0/mlflow-artifacts/artifacts", {"params": {"path": base}}),
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{base}/evil.txt", {"content": b"x"}),
        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{base}/file.txt", {}),
        ("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{base}/big.bin", {"json": {}}),
        ("POST", f"/api/2.0/mlflow-artifacts/mpu/abort/{base}/big.bin", {"json": {}}),
        ("POST", f"/api/2.0/mlflow-artifacts/mpu/complete/{base}/big.bin", {"json": {}}),
        ("GET", f"/api/2.0/mlflow-artifacts/presigned/{base}/file.txt", {}),
        ("GET", "/get-artifact", {"params": {"run_uuid": seed.run_id, "path": "file.txt"}}),
        ("GET", "/api/2.0/mlflow/artifacts/list", {"params": {"run_id": seed.run_id}}),
        ("GET", "/ajax-api/2.0/mlflow/artifacts/list", {"params": {"run_id": seed.run_id}}),
        (
            "POST",
            "/ajax-api/2.0/mlflow/upload-artifact",
            {"params": {"run_uuid": seed.run_id, "path": "evil.txt"}, "content": b"x"},
        ),
        (
            "GET",
            "/model-versions/get-artifact",
            {"params": {"name": seed.model, "version": "1", "path": "file.txt"}},
        ),
        (
            "GET",
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
            {"params": {"run_ids": seed.run_id, "metric_key": "rmse"}},
        ),
    ]
    return requests


@pytest.mark.parametrize("prefix", ["/team/public-model/tracking", ""])
def test_every_artifact_route_of_an_unreadable_project_is_refused(
    mlflow_server: MlflowServer, seeds: dict[str, Seed], prefix: str
) -> None:
    # Given an outsider who reads the public project but not the private one
    headers = {"Authorization": f"Bearer {OUTSIDER}"}
    with httpx.Client(base_url=mlflow_server.url + prefix, headers=headers) as http:
        # When they hit every artifact route with the private project's objects
        answers = {
            f"{method} {path}": http.request(method, path, **kw).status_code
            for method, path, kw in artifact_requests(seeds["private"])
        }
    # Then every one is refused before MLflow sees it
    assert answers == dict.fromkeys(answers, 403)


def test_artifact_routes_serve_readers_of_the_project(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given a reporter of the private project on its tracking URI
    seed = seeds["private"]
    headers = {"Authorization": f"Bearer {token_of('reporter')}"}
    url = mlflow_server.tracking_uri(seed.path).rstrip("/")
    reads = [r for r in artifact_requests(seed) if r[0] == "GET" and "presigned" not in r[1]]
    with httpx.Client(base_url=url, headers=headers) as http:
        # When they use the read routes
        answers = {f"{m} {p}": http.request(m, p, **kw).status_code for m, p, kw in reads}
        content = http.get("/get-artifact", params={"run_uuid": seed.run_id, "path": "file.txt"})
    # Then they are served (so the refusals above are permission decisions)
    assert answers == dict.fromkeys(answers, 200)
    assert content.text == "hello"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/graphql"),
        ("GET", "/api/2.0/mlflow/webhooks"),
        ("POST", "/api/3.0/mlflow/traces/search"),
        ("GET", "/api/3.0/mlflow/gateway/secrets/list"),
        ("GET", "/api/2.0/mlflow/no-such-route"),
        ("GET", "/ajax-api/3.0/mlflow/workspaces"),
    ],
)
def test_unknown_routes_are_denied(mlflow_server: MlflowServer, method: str, path: str) -> None:
    # Given a maintainer on a project route
    url = mlflow_server.tracking_uri(str(PROJECTS["public"]["path"])).rstrip("/")
    headers = {"Authorization": f"Bearer {token_of('maintainer')}"}
    # When they call a route the layer does not know
    answer = httpx.request(method, url + path, headers=headers, json={})
    # Then it is refused by default
    assert answer.status_code == 403
    assert "not available through the SharingHub MLflow layer" in answer.json()["message"]


def test_bearer_token_reaches_the_catalog_and_answers_are_cached(
    mlflow_server: MlflowServer, sharinghub: str, seeds: dict[str, Seed]
) -> None:
    # Given a fresh credential (a session cookie nobody used before) is unknown to the catalog
    url = mlflow_server.tracking_uri(seeds["public"].path) + "api/2.0/mlflow/experiments/get"
    cookie = {"sharinghub-session": "never-seen"}
    params = {"experiment_id": seeds["public"].experiment_id}
    before = httpx.get(f"{sharinghub}/calls").json()["calls"]
    # When the same caller makes several requests
    answers = [httpx.get(url, params=params, cookies=cookie).status_code for _ in range(4)]
    after = httpx.get(f"{sharinghub}/calls").json()["calls"]
    # Then the catalog was asked once (cached), and the cookie was forwarded as anonymous-like
    assert answers == [200] * 4
    assert after - before == 1


def test_categories_other_than_ai_model_have_no_mlflow(mlflow_server: MlflowServer) -> None:
    # Given a dataset project the developer can read in the catalog
    url = f"{mlflow_server.url}/team/a-dataset/tracking/api/2.0/mlflow/experiments/search"
    # When they use MLflow on it
    answer = httpx.post(url, json={}, headers={"Authorization": f"Bearer {DEVELOPER}"})
    # Then it is refused: only ai-model projects have tracking
    assert answer.status_code == 403
    assert "ai-model" in answer.json()["message"]
