"""JupyterHub values, ArgoCD Applications and the Dockerfiles, checked against the real things.

The Zero-to-JupyterHub values are loaded into JupyterHub's and OAuthenticator's own classes (every
``hub.config`` section and key must be a configurable trait, z2jh exits otherwise), their role
scopes are checked by JupyterHub's scope parser, and the auth state GitLabOAuthenticator builds
from a GitLab token response is read by the extension's JupyterHub token source. The ArgoCD
Application's values render the chart; the images provide the commands the chart runs.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "server" / "chart" / "jupyterhub"
CHART = ROOT / "server" / "chart"
ARGOCD = ROOT / "deploy" / "argocd"


def helm_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge values files like Helm: maps deep-merge, null deletes a key, the rest replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.fixture(scope="module")
def gitlab_hub() -> dict[str, Any]:
    return yaml.safe_load((HUB / "values.yaml").read_text())


@pytest.fixture(scope="module")
def keycloak_hub(gitlab_hub: dict[str, Any]) -> dict[str, Any]:
    return helm_merge(gitlab_hub, yaml.safe_load((HUB / "values-keycloak.yaml").read_text()))


def configurable(name: str) -> type:
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator
    from oauthenticator.generic import GenericOAuthenticator
    from oauthenticator.gitlab import GitLabOAuthenticator

    known = {
        "JupyterHub": JupyterHub,
        "Authenticator": Authenticator,
        "GitLabOAuthenticator": GitLabOAuthenticator,
        "GenericOAuthenticator": GenericOAuthenticator,
    }
    assert name in known, f"hub.config.{name} is not a Configurable z2jh would accept"
    return known[name]


def authenticator_class(values: dict[str, Any]) -> type:
    name = values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    (found,) = [e for e in entry_points(group="jupyterhub.authenticators") if e.name == name]
    loaded: type = found.load()
    return loaded


@pytest.mark.parametrize("flavour", ["gitlab_hub", "keycloak_hub"])
def test_hub_config_sections_and_keys_are_real_traits(
    flavour: str, request: pytest.FixtureRequest
) -> None:
    values = request.getfixturevalue(flavour)
    for section, settings in values["hub"]["config"].items():
        traits = configurable(section).class_traits(config=True)
        unknown = set(settings) - set(traits)
        assert not unknown, f"hub.config.{section}: unknown settings {unknown}"


def test_gitlab_hub_keeps_a_gitlab_token_in_auth_state(
    gitlab_hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauthenticator.gitlab import GitLabOAuthenticator

    # Given the hub's config and the client credentials the extraEnv entries provide
    env = gitlab_hub["hub"]["extraEnv"]
    assert env["GITLAB_CLIENT_ID"]["valueFrom"]["secretKeyRef"]["key"] == "client-id"
    assert env["GITLAB_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "client-secret"
    monkeypatch.setenv("GITLAB_CLIENT_ID", "app-id")
    monkeypatch.setenv("GITLAB_CLIENT_SECRET", "app-secret")
    # When JupyterHub builds the authenticator it names
    cls = authenticator_class(gitlab_hub)
    assert cls is GitLabOAuthenticator
    authenticator = cls(config=Config(gitlab_hub["hub"]["config"]))
    # Then it logs in at GitLab with a token that can write (publish) and keeps it
    assert authenticator.client_id == "app-id"
    assert authenticator.gitlab_url == "https://gitlab.example.org"
    assert {"api", "read_user"} <= set(authenticator.scope)
    assert authenticator.enable_auth_state is True
    assert authenticator.refresh_pre_spawn is True
    # And the OAuth application the chart's Job creates grants at least those scopes
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    granted = set(chart_values["gitlabSetup"]["oauthApplication"]["scopes"])
    assert set(authenticator.scope) <= granted


def test_extension_reads_the_token_gitlab_oauthenticator_stores(
    gitlab_hub: dict[str, Any],
) -> None:
    from oauthenticator.gitlab import GitLabOAuthenticator

    from jupyter_mlops.auth import _expiry

    # Given a GitLab token response, as GitLab's /oauth/token answers
    now = int(time.time())
    token_info = {
        "access_token": "gitlab-access",
        "refresh_token": "gitlab-refresh",
        "token_type": "Bearer",
        "expires_in": 7200,
        "created_at": now,
        "scope": "read_user api",
    }
    authenticator = GitLabOAuthenticator(config=Config(gitlab_hub["hub"]["config"]))
    # When the hub stores it as the user's auth state
    built = authenticator.build_auth_state_dict(token_info, {"id": 1, "username": "a"})
    auth_state = asyncio.run(built) if inspect.isawaitable(built) else built
    # Then the extension finds the token and when it expires, so it refetches in time
    assert auth_state["access_token"] == "gitlab-access"
    assert _expiry(json.loads(json.dumps(auth_state))) == now + 7200


def test_single_user_servers_may_read_their_own_auth_state(gitlab_hub: dict[str, Any]) -> None:
    from jupyterhub.scopes import _check_scopes_exist, _expand_scope

    roles = gitlab_hub["hub"]["loadRoles"]
    for role in ("user", "server"):
        _check_scopes_exist(roles[role]["scopes"])  # raises on an unknown scope
        assert "admin:auth_state!user" in roles[role]["scopes"]
    # The server's token may GET /users/<name> (what jupyter_mlops.auth calls)
    expanded = set().union(*(_expand_scope(s) for s in roles["server"]["scopes"]))
    assert expanded & {"read:users:name!user", "read:users:activity!user"}


def test_keycloak_hub_shares_no_token_and_enables_gitlab_login_in_the_extension(
    keycloak_hub: dict[str, Any],
) -> None:
    from oauthenticator.generic import GenericOAuthenticator

    assert authenticator_class(keycloak_hub) is GenericOAuthenticator
    authenticator = GenericOAuthenticator(config=Config(keycloak_hub["hub"]["config"]))
    assert authenticator.token_url.endswith("/protocol/openid-connect/token")
    assert "GITLAB_CLIENT_ID" not in keycloak_hub["hub"]["extraEnv"]
    for role in keycloak_hub["hub"]["loadRoles"].values():
        assert not any(s.startswith("admin:auth_state") for s in role["scopes"])
    assert keycloak_hub["singleuser"]["extraEnv"]["MLOPS_OAUTH_CLIENT_ID"]


def test_extension_is_configured_for_the_platform(gitlab_hub: dict[str, Any]) -> None:
    from jupyter_mlops.config import JupyterMLOps

    single = gitlab_hub["singleuser"]
    (config_file,) = single["extraFiles"].values()
    assert config_file["mountPath"].startswith("/etc/jupyter/jupyter_server_config.d/")
    settings = JupyterMLOps(config=Config(config_file["data"]))
    env = single["extraEnv"]
    assert settings.sharinghub_url == env["MLOPS_SHARINGHUB_URL"]
    assert settings.mlflow_url == env["MLOPS_MLFLOW_URL"]
    assert settings.gitlab_url == env["MLOPS_GITLAB_URL"]
    assert settings.embedded is False
    # MLflow in kernels authenticates through the extension's registered auth provider
    providers = {e.name for e in entry_points(group="mlflow.request_auth_provider")}
    assert env["MLFLOW_TRACKING_AUTH"] in providers


def test_user_pods_may_reach_the_platform_through_the_network_policy(
    gitlab_hub: dict[str, Any],
) -> None:
    policy = gitlab_hub["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    ports = {
        port["port"]
        for rule in policy["egress"]
        for port in rule["ports"]
        if any("namespaceSelector" in peer for peer in rule["to"])
    }
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    # The ingress controller (public hostnames) and the catalog and MLflow Services
    assert {443, chart_values["catalog"]["port"], chart_values["mlflow"]["port"]} <= ports


# -- ArgoCD ----------------------------------------------------------------------------------


def test_argocd_platform_application_renders_the_chart() -> None:
    app = yaml.safe_load((ARGOCD / "mlops-platform.yaml").read_text())
    assert app["kind"] == "Application"
    source = app["spec"]["source"]
    assert (ROOT / source["path"] / "Chart.yaml").is_file()
    values = source["helm"]["valuesObject"]
    # Given the Application's values, When Helm renders the chart with them
    with helm.Chart.load(ROOT / source["path"]) as chart:
        merged = chart.merge_values(values)
        manifests = chart.render(values, name=source["helm"]["releaseName"], namespace="mlops")
    # Then the values satisfy the schema and the release has its workloads
    jsonschema.validate(merged, json.loads((CHART / "values.schema.json").read_text()))
    assert any("kind: Deployment" in text for text in manifests.values())
    options = app["spec"]["syncPolicy"]["syncOptions"]
    assert {"CreateNamespace=true", "ServerSideApply=true"} <= set(options)


def test_argocd_applications_stay_inside_their_project() -> None:
    project = yaml.safe_load((ARGOCD / "project.yaml").read_text())
    repos = set(project["spec"]["sourceRepos"])
    places = {d["namespace"] for d in project["spec"]["destinations"]}
    for path in (ARGOCD / "mlops-platform.yaml", ARGOCD / "jupyterhub.yaml"):
        spec = yaml.safe_load(path.read_text())["spec"]
        assert spec["project"] == project["metadata"]["name"]
        sources = spec.get("sources") or [spec["source"]]
        assert {s["repoURL"] for s in sources} <= repos
        assert spec["destination"]["namespace"] in places
        for source in sources:
            for file in (source.get("helm") or {}).get("valueFiles", []):
                assert (ROOT / file.removeprefix("$values/")).is_file(), file


# -- images ----------------------------------------------------------------------------------


def dockerfile(path: Path) -> str:
    return path.read_text()


def test_server_image_provides_what_the_chart_runs() -> None:
    text = dockerfile(ROOT / "server" / "Dockerfile")
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    # The image's user is the chart's non-root user
    (user,) = re.findall(r"^USER (\d+)", text, re.MULTILINE)
    assert int(user) == chart_values["podSecurityContext"]["runAsUser"]
    # It installs the server with MLflow, PostgreSQL and S3 support, pinned by constraints
    assert re.search(r'"/src/server\[mlflow,postgres,s3\]"', text)
    assert "-c /tmp/constraints.txt" in text
    server = tomllib_load(ROOT / "server" / "pyproject.toml")
    assert {"mlflow", "postgres", "s3"} <= set(server["project"]["optional-dependencies"])
    # And the commands the pods run are entry points of what it installs
    assert "mlops-server" in server["project"]["scripts"]
    assert "sharinghub" in server["project"]["entry-points"]["mlflow.app"]


def test_single_user_image_installs_the_extension_for_kernels() -> None:
    text = dockerfile(HUB / "singleuser.Dockerfile")
    assert re.search(r"\[tracking\]", text)
    assert "nbgitpuller" in text
    assert "MLFLOW_TRACKING_AUTH=jupyter-mlops" in text
    root = tomllib_load(ROOT / "pyproject.toml")
    assert "tracking" in root["project"]["optional-dependencies"]


def tomllib_load(path: Path) -> dict[str, Any]:
    import tomllib

    with path.open("rb") as handle:
        return tomllib.load(handle)
