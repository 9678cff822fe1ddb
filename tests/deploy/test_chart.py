"""The platform's Helm chart (server/chart), rendered offline by Helm v4 (helm-python-sdk).

Every values file (defaults, production-like, external services) is checked against
``values.schema.json``, rendered, and every manifest validated against the Kubernetes schemas
(kubernetes-validate). Security-relevant fields are asserted on the rendered objects, and the
command lines the pods run are parsed by the real ``mlops-server`` and ``mlflow`` parsers.

The GitLab dependency cannot be downloaded here (no internet): it is not vendored, so its own
manifests are absent; the values that drive it are still schema-checked and our templates'
GitLab mode (its PostgreSQL role, Redis, NetworkPolicy peers) is rendered and checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from mlops_server.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "server" / "chart"
VALUES_FILES = {
    "default": None,
    "production": CHART / "ci" / "production-values.yaml",
    "external": CHART / "ci" / "external-services-values.yaml",
}
KUBE_VERSION = "1.31"
RELEASE, NAMESPACE = "mlops", "mlops"
WORKLOADS = ("Deployment", "StatefulSet", "Job", "Pod")


def load_values(which: str) -> dict[str, Any]:
    path = VALUES_FILES[which]
    return {} if path is None else yaml.safe_load(path.read_text())


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return documents


@pytest.fixture(scope="module", params=list(VALUES_FILES))
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    values = load_values(request.param)
    return request.param, values, render(values)


def of_kind(documents: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] in kinds]


def named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return found


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Pod":  # the `helm test` pod
        return dict(workload["spec"])
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, str(key)), value
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))


def secret_refs(document: dict[str, Any]) -> set[str]:
    """Names of the Secrets a manifest reads (env secretKeyRef, envFrom, volumes)."""
    names = set()
    for path, value in walk(document):
        if path[-1] == "secretKeyRef" or (path[-1] == "secretRef" and "envFrom" in path):
            names.add(value["name"])
        if path[-1] == "secret" and isinstance(value, dict) and "secretName" in value:
            names.add(value["secretName"])
    return names


# -- chart and values ----------------------------------------------------------------------


def test_chart_lints_with_only_the_unvendored_gitlab_dependency_missing() -> None:
    # Given the chart as committed (GitLab's archive cannot be fetched here)
    # When Helm lints it with its default values
    report = helm.lint(CHART, strict=False)
    # Then there is no error, and the only warning is the missing GitLab archive
    assert report["errors"] == []
    warnings = [m["error"] for m in report["messages"] if m["severity"] >= 2]
    assert warnings == ["chart directory is missing these dependencies: gitlab"]


def test_gitlab_is_a_conditional_dependency_from_the_official_repository() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (gitlab,) = chart["dependencies"]
    assert gitlab["name"] == "gitlab"
    assert gitlab["repository"] == "https://charts.gitlab.io"
    assert gitlab["condition"] == "gitlab.enabled"
    assert gitlab["version"].startswith(">=10.")  # GitLab 19: no bundled PostgreSQL/Redis


@pytest.mark.parametrize("which", list(VALUES_FILES))
def test_values_files_match_the_values_schema(which: str) -> None:
    # Given the values schema and a values file merged over the defaults, as Helm does
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    with helm.Chart.load(CHART) as chart:
        merged = chart.merge_values(load_values(which))
        # Then both jsonschema and Helm's own validation accept it
        chart.validate_schema(load_values(which))
    jsonschema.validate(merged, schema)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        (
            {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
            "allowPrivilegeEscalation",
        ),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"catalog": {"secrets": {"password": "hunter2"}}}, "password"),
        ({"mlflow": {"artifactsDestination": "/data/artifacts"}}, "artifactsDestination"),
        ({"ingress": {"clusterIssuer": ""}}, "clusterIssuer"),
    ],
)
def test_schema_refuses_unsafe_or_misspelled_values(override: dict[str, Any], where: str) -> None:
    # Given values that weaken security, carry a plaintext secret, or break the platform
    # When Helm renders them, Then it refuses, naming the offending field
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=where):
        chart.render(override, name=RELEASE, namespace=NAMESPACE)


SECRET_WORDS = re.compile(r"password|secret|token|credential|privatekey", re.IGNORECASE)
# Keys whose value is the *name* of a Secret or of a key inside one, never a secret itself.
REFERENCE_KEYS = re.compile(
    r"^(existingSecret|secretName|secretNamespace|tlsSecretName|secret|key|\w+Key)$"
)


@pytest.mark.parametrize("which", list(VALUES_FILES))
def test_no_plaintext_secret_in_values(which: str) -> None:
    # Given the defaults and a values file
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for values in (defaults, load_values(which)):
        # Then every secret-looking key is a Secret reference, never a literal value
        for path, value in walk(values):
            literal = isinstance(value, str | int | float) and not isinstance(value, bool)
            if SECRET_WORDS.search(path[-1]) and literal:
                assert REFERENCE_KEYS.match(path[-1]), f"plaintext secret at {'.'.join(path)}"


def test_templates_are_argocd_safe() -> None:
    # Given every template: no `lookup` (empty under `helm template`), no random values
    # (ArgoCD would see a change on every sync), no Secret objects rendered from values
    for template in (CHART / "templates").rglob("*"):
        if not template.is_file():
            continue
        text = template.read_text()
        for forbidden in ("lookup", "randAlpha", "randAscii", "randNumeric", "genPrivateKey"):
            assert forbidden not in text, f"{template.name} uses {forbidden}"


def test_rendering_is_deterministic() -> None:
    values = load_values("production")
    assert render(values) == render(values)


# -- every rendered manifest ---------------------------------------------------------------


def test_every_manifest_validates_against_kubernetes_schemas(rendered) -> None:
    which, _, documents = rendered
    assert documents, which
    for document in documents:
        kubernetes_validate.validate(document, KUBE_VERSION, strict=True)


def test_no_secret_object_is_rendered(rendered) -> None:
    _, _, documents = rendered
    assert of_kind(documents, "Secret") == []


def test_ingress_is_tls_for_every_host_through_cert_manager(rendered) -> None:
    _, values, documents = rendered
    (ingress,) = of_kind(documents, "Ingress")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls_hosts = {host for block in ingress["spec"]["tls"] for host in block["hosts"]}
    assert hosts <= tls_hosts
    assert all(block["secretName"] for block in ingress["spec"]["tls"])
    issuer = (values.get("ingress") or {}).get("clusterIssuer", "letsencrypt")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer


def test_every_container_runs_non_root_read_only_without_capabilities(rendered) -> None:
    _, _, documents = rendered
    workloads = of_kind(documents, *WORKLOADS)
    assert {w["kind"] for w in workloads} >= {"Deployment", "Job", "Pod"}
    for workload in workloads:
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in containers(workload):
            context = container["securityContext"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert container["resources"]["limits"]["memory"], where
            assert container["resources"]["requests"]["cpu"], where


def test_long_running_containers_have_probes(rendered) -> None:
    _, _, documents = rendered
    for workload in of_kind(documents, "Deployment", "StatefulSet"):
        for container in containers(workload):
            assert "readinessProbe" in container, workload["metadata"]["name"]
            assert "livenessProbe" in container, workload["metadata"]["name"]


def test_network_policies_cover_every_pod(rendered) -> None:
    _, _, documents = rendered
    policies = of_kind(documents, "NetworkPolicy")
    assert policies
    for workload in of_kind(documents, "Deployment", "StatefulSet"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [
            p
            for p in policies
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            and "Ingress" in p["spec"]["policyTypes"]
        ]
        assert covering, f"no NetworkPolicy selects {workload['metadata']['name']}"


def test_databases_accept_only_platform_pods_and_open_nothing(rendered) -> None:
    _, _, documents = rendered
    for policy in of_kind(documents, "NetworkPolicy"):
        component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        if component not in ("postgresql", "redis"):
            continue
        assert policy["spec"]["egress"] == []
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        assert all("namespaceSelector" not in peer for peer in peers)  # same namespace only


def test_env_never_carries_a_literal_secret(rendered) -> None:
    _, _, documents = rendered
    for workload in of_kind(documents, *WORKLOADS):
        for container in containers(workload):
            for variable in container.get("env", []):
                if SECRET_WORDS.search(variable["name"]) or variable["name"].startswith("AWS_"):
                    if variable["name"] == "AWS_DEFAULT_REGION":
                        continue
                    assert "valueFrom" in variable, f"{variable['name']} is a literal"
            for argument in [*container.get("args", []), *container.get("command", [])]:
                assert not re.search(r"://[^/@\s]+:[^/@\s]+@", argument), "password in a URL"


def test_every_secret_reference_goes_through_existing_secret(rendered) -> None:
    which, values, documents = rendered
    referenced = set().union(*(secret_refs(d) for d in documents))
    assert referenced
    if which == "production":
        configured = {
            path_value
            for path, path_value in walk(values)
            if path[-1] in ("existingSecret", "secretName") and path_value
        }
        # Then the pods read exactly the Secrets the operator named (plus the TLS one)
        assert referenced <= configured, referenced - configured
    else:
        fullname = f"{RELEASE}-mlops-platform"
        assert all(name.startswith(fullname) or name == "managed-postgresql" for name in referenced)


# -- what the pods run ---------------------------------------------------------------------


def container_of(documents: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    (workload,) = [d for d in of_kind(documents, kind) if d["metadata"]["name"].endswith(suffix)]
    (container,) = pod_spec(workload)["containers"]
    return container


def test_catalog_command_line_is_accepted_by_mlops_server(rendered) -> None:
    from mlops_server.cli import _parser

    _, _, documents = rendered
    container = container_of(documents, "Deployment", "-catalog")
    assert container["command"] == ["mlops-server"]  # the image has no entrypoint
    args = _parser().parse_args(container["args"])
    assert args.command == "serve"
    assert args.db.startswith("postgresql+psycopg://")
    assert args.gitlab_url.startswith("http")
    assert args.config == Path("/etc/mlops/config.yaml")
    env = {e["name"]: e for e in container["env"]}
    assert {"MLOPS_GITLAB_TOKEN", "MLOPS_WEBHOOK_SECRET", "PGPASSWORD"} <= env.keys()


def test_catalog_configmap_is_a_config_mlops_server_loads(rendered, tmp_path: Path) -> None:
    _, _, documents = rendered
    (config_map,) = [
        d for d in of_kind(documents, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    settings = load_settings(path, env={})
    assert [c.id for c in settings.categories] == ["ai-model", "dataset"]
    assert settings.category("ai-model").gitlab_topic == "sharinghub:aimodel"


def test_mlflow_runs_the_sharinghub_app_with_postgres_and_proxied_s3(rendered) -> None:
    from mlflow.cli import server

    _, _, documents = rendered
    container = container_of(documents, "Deployment", "-mlflow")
    assert container["command"] == ["mlflow", "server"]
    # Given the rendered arguments, When MLflow's own CLI parses them (without running)
    context = server.make_context("server", list(container["args"]))
    # Then MLflow runs the permission layer with a PostgreSQL store and S3 behind the server
    assert context.params["app_name"] == "sharinghub"
    assert context.params["backend_store_uri"].startswith("postgresql+psycopg://")
    assert context.params["serve_artifacts"] is True
    assert context.params["artifacts_destination"].startswith("s3://")
    env = {e["name"]: e for e in container["env"]}
    assert env["SHARINGHUB_URL"]["value"].endswith(":8000")
    assert "mlflow." in env["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"]


def test_gitlab_setup_job_is_a_post_install_hook_with_real_flags(rendered) -> None:
    from mlops_server.cli import _parser

    _, values, documents = rendered
    (job,) = of_kind(documents, "Job")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert hooks == ["post-install", "post-upgrade"]
    (container,) = pod_spec(job)["containers"]
    args = _parser().parse_args(container["command"][1:] + container["args"])
    assert args.command == "gitlab-setup"
    assert args.hook_url.endswith(".svc:8000/api/webhooks/gitlab")
    oauth = ((values.get("gitlabSetup") or {}).get("oauthApplication") or {}).get("enabled", True)
    if oauth:
        assert args.redirect_uri
        assert args.redirect_uri[0].endswith("/hub/oauth_callback")
        # And its Role may touch only the credentials Secret (besides creating it)
        (role,) = of_kind(documents, "Role")
        named_rule = [r for r in role["rules"] if "resourceNames" in r]
        assert named_rule[0]["resourceNames"] == [args.secret_name]
        # in the namespace the Secret is written to (JupyterHub's in production)
        wanted = (values.get("gitlabSetup") or {}).get("oauthApplication", {})
        assert role["metadata"]["namespace"] == args.namespace
        assert args.namespace == (wanted.get("secretNamespace") or NAMESPACE)
        assert pod_spec(job)["automountServiceAccountToken"] is True
    else:
        assert args.application_name is None
        assert of_kind(documents, "Role") == []


def test_postgresql_creates_gitlab_database_only_with_gitlab(rendered) -> None:
    which, values, documents = rendered
    statefulsets = {d["metadata"]["name"] for d in of_kind(documents, "StatefulSet")}
    gitlab = bool((values.get("gitlab") or {}).get("enabled"))
    if which == "external":
        assert statefulsets == set()
        return
    init = [d for d in of_kind(documents, "ConfigMap") if d["metadata"]["name"].endswith("-init")]
    script = init[0]["data"]["10-databases.sql"]
    assert ("CREATE EXTENSION IF NOT EXISTS pg_trgm" in script) is gitlab
    assert "PASSWORD :'app_password'" in script  # from the environment, not the chart
    assert any(s.endswith("-redis") for s in statefulsets) is gitlab


# -- YAML hygiene --------------------------------------------------------------------------

YAMLLINT_CONFIG = Path(__file__).with_name("yamllint.yaml")
YAML_FILES = sorted(
    [
        CHART / "Chart.yaml",
        CHART / "values.yaml",
        *(CHART / "ci").glob("*.yaml"),
        *(CHART / "jupyterhub").glob("*.yaml"),
        *(ROOT / "deploy").rglob("*.yaml"),
        ROOT / "binder" / "environment.yml",
    ]
)


# Rendered output: toYaml writes block sequences unindented and long single-word values
# (the allowed-hosts list) cannot be folded; everything else as for the source files.
RENDERED_OVERRIDES = """
rules:
  indentation: {spaces: 2, indent-sequences: whatever}
  line-length: {max: 120, allow-non-breakable-inline-mappings: true}
"""


def lint_problems(text: str, name: str, *, rendered: bool = False) -> list[str]:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    source = YAMLLINT_CONFIG.read_text()
    if rendered:
        merged = yaml.safe_load(source)
        merged["rules"].update(yaml.safe_load(RENDERED_OVERRIDES)["rules"])
        source = yaml.safe_dump(merged)
    config = YamlLintConfig(source)
    return [f"{name}:{p.line}:{p.column} {p.desc} ({p.rule})" for p in linter.run(text, config)]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_files_are_yamllint_clean(path: Path) -> None:
    assert lint_problems(path.read_text(), path.name) == []


@pytest.mark.parametrize("which", list(VALUES_FILES))
def test_rendered_manifests_are_yamllint_clean(which: str) -> None:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(load_values(which), name=RELEASE, namespace=NAMESPACE)
    problems = [
        problem
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt") and text.strip()
        for problem in lint_problems(text, path, rendered=True)
    ]
    assert problems == []


def test_catalog_env_configures_the_server_as_intended(rendered, tmp_path: Path) -> None:
    _, values, documents = rendered
    # Given the catalog container's env as the kubelet resolves it (each secret value named
    # after its Secret and key) and its ConfigMap as the mounted file
    container = container_of(documents, "Deployment", "-catalog")
    env = {}
    for variable in container["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        env[variable["name"]] = f"{ref['name']}/{ref['key']}" if ref else variable["value"]
    (config_map,) = [
        d for d in of_kind(documents, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    args = [a for a in container["args"] if a.startswith("--gitlab-url=")]
    # When mlops-server loads its settings from them
    settings = load_settings(path, gitlab_url=args[0].split("=", 1)[1], env=env)
    # Then login, DVC store and public browsing are what the values asked for
    catalog = values.get("catalog") or {}
    login = (catalog.get("login") or {}).get("existingSecret")
    if login:
        assert settings.oauth is not None
        assert settings.oauth.client_id == f"{login}/client-id"
        assert settings.session.secret_key == f"{login}/session-secret-key"
    else:
        assert settings.oauth is None
    store = catalog.get("dvcStore") or {}
    if store.get("enabled"):
        assert settings.store is not None
        assert settings.store.bucket == store["bucket"]
        assert settings.store.access_key == f"{values['s3']['existingSecret']}/access-key-id"
        assert settings.store.endpoint == values["s3"]["endpoint"]
    else:
        assert settings.store is None
    assert settings.allow_public is catalog.get("allowPublic", True)
    assert settings.access_cache_ttl == 60.0
