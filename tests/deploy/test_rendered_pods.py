"""The chart's pods, run as rendered: real PostgreSQL, catalog, MLflow and S3 over HTTP.

No cluster runs here, so this test plays the kubelet: it renders the chart, resolves each
container's ``secretKeyRef`` from Secrets holding the documented keys, mounts ConfigMaps as files,
maps Service names to loopback ports, and starts the rendered commands as processes:

- PostgreSQL with password authentication, initialised by the chart's init script;
- the catalog (``mlops-server serve``) over a GitLab double, its index in that PostgreSQL;
- MLflow (``mlflow server --app-name sharinghub``) on that PostgreSQL, artifacts proxied to an
  S3 server (moto), asking the catalog for permissions.

Then the probes' paths answer, and a project maintainer tracks a run whose artifact lands in S3.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import helm_python as helm
import pytest
import requests
import yaml
from moto.server import ThreadedMotoServer

from tests.gitlab_double import MAINTAINER, GitLabDouble, Project, User
from tests.gitlab_double.server import free_port
from tests.processes import stop, wait_http

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "server" / "chart"
SERVICE_TOKEN, ALICE_TOKEN = "glpat-service-token-1", "glpat-alice-token-1"
MODEL = "team/flood-model"
BUCKET = "mlops-mlflow"
VALUES = {
    "fullnameOverride": "mlops",
    "domain": "example.org",
    "mlflow": {"artifactsDestination": f"s3://{BUCKET}/artifacts", "workers": 1},
}
# The Secrets an operator creates (docs/operator-guide.md, section 2), under the default names.
SECRETS = {
    "mlops-postgresql": {
        "postgres-password": "pg-superuser-pw",
        "password": "pg-app-pw",
        "gitlab-password": "pg-gitlab-pw",
    },
    "mlops-catalog": {"gitlab-token": SERVICE_TOKEN, "webhook-secret": "hook-secret"},
    "mlops-mlflow": {"secret-key": "flask-secret"},
    "mlops-s3": {"access-key-id": "testing", "secret-access-key": "testing"},
}
README = """---
title: Flood model
description: Segments floods in Sentinel-1 scenes.
---
# Flood model
"""


@pytest.fixture(scope="module")
def manifests(s3: str, gitlab: GitLabDouble) -> dict[str, dict[str, Any]]:
    """The release, with the S3 endpoint and GitLab URL of these test servers as values."""
    values = VALUES | {
        "s3": {"endpoint": s3, "region": "us-east-1"},
        "catalog": {"gitlabUrl": gitlab.url, "syncInterval": 0},
    }
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="mlops", namespace="mlops", is_install=True)
    documents = [
        doc
        for path, text in rendered.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in documents}


def container(manifests: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    (found,) = manifests[key]["spec"]["template"]["spec"]["containers"]
    return dict(found)


def kubelet_env(spec: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet builds it (a missing Secret key fails)."""
    env = {}
    for variable in spec.get("env", []):
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = SECRETS[ref["name"]][ref["key"]]
    return env


def localise(words: list[str], services: dict[str, str]) -> list[str]:
    """Replace in-cluster Service addresses by the loopback addresses of the processes."""
    out = []
    for word in words:
        for service, local in services.items():
            word = word.replace(service, local)
        out.append(word)
    return out


def base_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep} | {"MLFLOW_DISABLE_TELEMETRY": "1"}


@pytest.fixture(scope="module")
def postgres(manifests: dict[str, dict[str, Any]]) -> Iterator[str]:
    """PostgreSQL with password auth, initialised by the chart's init ConfigMap like the
    official image's entrypoint does; yields ``127.0.0.1:<port>``."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL server binaries are missing (apt-get install postgresql)")
    pg_bin = Path(bins[-1]).parent
    server = container(manifests, "StatefulSet/mlops-postgresql")
    env = kubelet_env(server)
    root = Path(tempfile.mkdtemp(prefix="mlops-deploy-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    pwfile = root / "pw"
    pwfile.write_text(env["POSTGRES_PASSWORD"])
    if as_user:
        shutil.chown(pwfile, "nobody")
    port = free_port()
    data = root / "data"
    subprocess.run(
        [
            *as_user,
            *(str(pg_bin / "initdb"), "-D", str(data), "-U", env["POSTGRES_USER"]),
            *("--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale"),
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_user, str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, capture_output=True)
    try:
        init = manifests["ConfigMap/mlops-postgresql-init"]["data"]
        for name, script in sorted(init.items()):
            (root / name).write_text(script)
            done = subprocess.run(
                [
                    *(str(pg_bin / "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc"),
                    *("-h", "127.0.0.1", "-p", str(port), "-U", env["POSTGRES_USER"]),
                    *("-d", "postgres", "-f", str(root / name)),
                ],
                env=base_env() | env | {"PGPASSWORD": env["POSTGRES_PASSWORD"]},
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gitlab() -> Iterator[GitLabDouble]:
    users = [User("svc", [SERVICE_TOKEN], admin=True), User("alice", [ALICE_TOKEN])]
    projects = [
        Project(
            MODEL,
            visibility="private",
            topics=["sharinghub:aimodel"],
            files={"README.md": README},
            members={"alice": MAINTAINER},
        )
    ]
    with GitLabDouble(users, projects) as double:
        yield double


def run_pod(
    spec: dict[str, Any],
    manifests: dict[str, dict[str, Any]],
    workload: str,
    services: dict[str, str],
    env_overrides: dict[str, str],
    work: Path,
) -> subprocess.Popen[bytes]:
    """Start a rendered container: its command and args, its env, its ConfigMap volumes."""
    volumes = manifests[workload]["spec"]["template"]["spec"]["volumes"]
    mounts = {}
    for mount in spec.get("volumeMounts", []):
        (volume,) = [v for v in volumes if v["name"] == mount["name"]]
        if "configMap" in volume:
            folder = work / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            config_map = manifests[f"ConfigMap/{volume['configMap']['name']}"]
            for name, text in config_map["data"].items():
                (folder / name).write_text(text)
            mounts[mount["mountPath"]] = str(folder)
    command = {"mlops-server": [sys.executable, "-m", "mlops_server"]}.get(
        spec["command"][0], [sys.executable, "-m", spec["command"][0]]
    )
    words = localise([*spec["command"][1:], *spec["args"]], {**services, **mounts})
    env = {k: localise([v], services)[0] for k, v in kubelet_env(spec).items()}
    log = work / "pod.log"
    with log.open("w") as out:
        return subprocess.Popen(
            [*command, *words],
            env=base_env() | env | env_overrides | {"HOME": str(work)},
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def probe_path(spec: dict[str, Any]) -> str:
    return str(spec["readinessProbe"]["httpGet"]["path"])


@pytest.fixture(scope="module")
def platform(
    manifests: dict[str, dict[str, Any]],
    postgres: str,
    s3: str,
    gitlab: GitLabDouble,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    catalog_port, mlflow_port = free_port(), free_port()
    services = {
        "mlops-postgresql:5432": postgres,
        "http://mlops-catalog:8000": f"http://127.0.0.1:{catalog_port}",
        "http://mlops-mlflow:5000": f"http://127.0.0.1:{mlflow_port}",
        "--host=0.0.0.0": "--host=127.0.0.1",
        "--port=8000": f"--port={catalog_port}",
        "--port=5000": f"--port={mlflow_port}",
    }
    catalog = container(manifests, "Deployment/mlops-catalog")
    mlflow = container(manifests, "Deployment/mlops-mlflow")
    hosts = kubelet_env(mlflow)["MLFLOW_SERVER_ALLOWED_HOSTS"]
    catalog_work = tmp_path_factory.mktemp("catalog")
    mlflow_work = tmp_path_factory.mktemp("mlflow")
    processes = []
    try:
        processes.append(
            run_pod(catalog, manifests, "Deployment/mlops-catalog", services, {}, catalog_work)
        )
        catalog_url = f"http://127.0.0.1:{catalog_port}"
        wait_http(catalog_url + probe_path(catalog), processes[-1], catalog_work / "pod.log", 120)
        processes.append(
            run_pod(
                mlflow,
                manifests,
                "Deployment/mlops-mlflow",
                services,
                # Here the Service name resolves to loopback: its address is a Service address.
                {"MLFLOW_SERVER_ALLOWED_HOSTS": f"{hosts},127.0.0.1:{mlflow_port}"},
                mlflow_work,
            )
        )
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        wait_http(mlflow_url + probe_path(mlflow), processes[-1], mlflow_work / "pod.log", 240)
        yield {"catalog": catalog_url, "mlflow": mlflow_url, "s3": s3, "services": services}
    finally:
        for process in reversed(processes):
            stop(process)


def test_catalog_pod_indexes_gitlab_into_postgresql(platform: dict[str, Any]) -> None:
    # Given the catalog started with the rendered arguments, env and ConfigMap
    # When the project's maintainer searches
    found = requests.get(
        f"{platform['catalog']}/api/stac/search",
        headers={"Authorization": f"Bearer {ALICE_TOKEN}"},
        timeout=30,
    ).json()
    # Then the private model is there, in the category of the chart's configuration
    assert [(f["id"], f["collection"]) for f in found["features"]] == [(MODEL, "ai-model")]
    # And anonymous users do not see it
    anonymous = requests.get(f"{platform['catalog']}/api/stac/search", timeout=30).json()
    assert anonymous["features"] == []


def mlflow_call(
    platform: dict[str, Any],
    method: str,
    path: str,
    host: str = "mlflow.example.org",
    **kwargs: Any,
) -> requests.Response:
    headers = {"Host": host, "Authorization": f"Bearer {ALICE_TOKEN}"}
    url = f"{platform['mlflow']}/{MODEL}/tracking{path}"
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def test_mlflow_pod_refuses_foreign_hosts_and_anonymous_callers(platform: dict[str, Any]) -> None:
    # A Host that is not the ingress host nor a Service name is refused by MLflow
    refused = mlflow_call(platform, "GET", "/api/2.0/mlflow/experiments/search", host="evil.test")
    assert refused.status_code == 403
    # Through the ingress host, a caller without a token must log in
    anonymous = requests.get(
        f"{platform['mlflow']}/{MODEL}/tracking/api/2.0/mlflow/experiments/search",
        headers={"Host": "mlflow.example.org"},
        timeout=30,
    )
    assert anonymous.status_code == 401


def test_maintainer_tracks_a_run_with_an_artifact_stored_in_s3(platform: dict[str, Any]) -> None:
    # Given the project's id, as the catalog tells it
    check = requests.get(
        f"{platform['catalog']}/api/check/{MODEL}",
        params={"info": "true"},
        headers={"Authorization": f"Bearer {ALICE_TOKEN}"},
        timeout=30,
    ).json()
    project_id = check["id"]
    # When the maintainer creates an experiment and a run, and uploads an artifact
    created = mlflow_call(
        platform,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        json={"name": f"floods ({project_id})"},
    )
    assert created.status_code == 200, created.text
    experiment = created.json()["experiment_id"]
    run = mlflow_call(
        platform, "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}
    )
    assert run.status_code == 200, run.text
    run_id = run.json()["run"]["info"]["run_id"]
    uploaded = mlflow_call(
        platform,
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts/metrics.txt",
        data=b"iou=0.71\n",
    )
    assert uploaded.status_code == 200, uploaded.text
    # Then the run is in PostgreSQL (read back through the layer) and the file in the bucket
    got = mlflow_call(platform, "GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert got.json()["run"]["info"]["experiment_id"] == experiment
    s3 = boto3.client(
        "s3",
        endpoint_url=platform["s3"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert f"artifacts/{experiment}/{run_id}/artifacts/metrics.txt" in keys


def test_helm_test_pod_passes_against_the_running_platform(
    platform: dict[str, Any], manifests: dict[str, dict[str, Any]]
) -> None:
    # Given the `helm test` pod of the release
    pod = manifests["Pod/mlops-test"]
    (check,) = pod["spec"]["containers"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    # When its script runs against the platform's Services
    done = subprocess.run(
        [sys.executable, *check["command"][1:], *localise(check["args"], platform["services"])],
        capture_output=True,
        text=True,
        timeout=120,
        env=base_env(),
    )
    # Then it passes and lists the catalog's collections
    assert done.returncode == 0, done.stderr
    assert "ai-model" in done.stdout
    assert done.stdout.strip().endswith("ok")


def test_passwords_never_appear_on_a_command_line(manifests: dict[str, dict[str, Any]]) -> None:
    # The pods above authenticated to PostgreSQL with PGPASSWORD only
    passwords = [v for secret in SECRETS.values() for v in secret.values()]
    for key in ("Deployment/mlops-catalog", "Deployment/mlops-mlflow"):
        spec = container(manifests, key)
        line = " ".join([*spec["command"], *spec["args"]])
        assert not any(p in line for p in passwords)
        assert re.search(r"postgresql\+psycopg://mlops@", line)
