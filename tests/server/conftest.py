"""Fixtures: a demo project store plus test-only projects, served by a real mlops-server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.gitlab_double import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    REPORTER,
    GitLabDouble,
    Project,
    User,
)
from tests.processes import stop, wait_http

PRIVATE = "team/secret-model"
MALFORMED = "team/broken-front-matter"
UNCATEGORISED = "team/notes"
WRONG_TYPES = "team/wrong-types"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_server", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write_project(root: Path, path: str, manifest: str, readme: str) -> Path:
    directory = root / path
    directory.mkdir(parents=True)
    (directory / "mlops-project.yaml").write_text(manifest)
    (directory / "README.md").write_text(readme)
    return directory


def _add_test_projects(root: Path, outside: Path) -> None:
    secret = _write_project(
        root,
        PRIVATE,
        "id: 901\nname: Secret model\ntopics: [sharinghub:aimodel, flood]\n"
        "visibility: private\ncreated_at: 2024-01-01T00:00:00Z\n",
        "---\nextent:\n  spatial: [-66, -15, -64, -13]\nassets: ['*.bin']\n---\n"
        "# Secret flood model\n",
    )
    (secret / "weights.bin").write_bytes(b"PRIVATE-WEIGHTS")
    broken = _write_project(
        root,
        MALFORMED,
        "id: 902\nname: Broken front matter\ntopics: [sharinghub:dataset]\n"
        "visibility: public\ncreated_at: 2024-01-01T00:00:00Z\n",
        "---\ntitle: [unclosed\nextent: {spatial: 12\n---\n# Broken but served\n",
    )
    (broken / "data.txt").write_text("still here\n")
    # A symlink that points out of the project must never be served.
    (outside / "host-secret.txt").write_text("host secret\n")
    (broken / "escape.txt").symlink_to(outside / "host-secret.txt")
    _write_project(
        root,
        UNCATEGORISED,
        "id: 903\nname: Notes\ntopics: [notes]\nvisibility: public\n",
        "# Notes without a category\n",
    )
    _write_project(
        root,
        WRONG_TYPES,
        "id: 904\nname: Wrong types\ntopics: [sharinghub:dataset]\nvisibility: public\n",
        "---\nextent: {spatial: 12, temporal: nope}\nassets: 5\nlicense: [MIT]\n"
        "related: 3\nextensions: {mlm: https://example.org/mlm.json}\nmlm: not-a-mapping\n"
        "---\n# Wrong types everywhere\n",
    )
    _write_project(root, "team/bad-manifest", "id: not-a-number\n", "# skipped\n")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    outside = tmp_path_factory.mktemp("outside")
    result = _run_cli("demo", str(root), "--force")
    assert result.returncode == 0, result.stderr
    _add_test_projects(root, outside)
    return root


class ServerProcess:
    """A real ``mlops-server serve`` subprocess on a free port; ``url`` once ready."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlops_server", "serve", *args, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )

    def wait_ready(self, timeout: float = 120) -> str:
        wait_http(f"{self.url}/status", self.process, self.log_path, timeout, interval=0.1)
        return self.url

    def stop(self) -> None:
        stop(self.process, timeout=10)


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Start ``mlops-server serve ARGS`` (env added to ours); returns its URL when ready.

    Servers started this way are stopped at the end of the session.
    """
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> str:
        log_path = tmp_path_factory.mktemp("logs") / "server.log"
        server = ServerProcess(list(args), log_path, env)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def base_url(store: Path, serve: Callable[..., str]) -> str:
    # Items link to this public MLflow URL; registered models are pulled from a loopback port
    # nothing listens on, so no test ever resolves or reaches a name outside this machine.
    closed = f"http://127.0.0.1:{_free_port()}/mlflow"
    return serve(
        "--projects",
        str(store),
        "--mlflow-url",
        "http://mlflow.example/mlflow",
        env={"MLOPS_MLFLOW_INTERNAL_URL": closed},
    )


@pytest.fixture(scope="session")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m mlops_server`` with arguments; returns the completed process."""
    return _run_cli


# -- GitLab: a seeded test double and an mlops-server cataloguing it -----------------------

SERVICE_TOKEN = "svc-token"
WEBHOOK_SECRET = "hook-secret"
ROLES = {"guest": GUEST, "reporter": REPORTER, "developer": DEVELOPER, "maintainer": MAINTAINER}
TABLE_PROJECTS = {v: f"perm/{v}-model" for v in ("public", "internal", "private")}
BIG_PROJECT = "perm/many-files"
BIG_FILES = 250
UNCATALOGUED = "perm/notes"


def _model_readme(title: str) -> str:
    return (
        f"---\ntitle: {title}\nextent:\n  spatial: [-66, -15, -64, -13]\n"
        "assets: ['*.bin']\n---\n# " + title + "\n"
    )


def gitlab_users() -> list[User]:
    users = [User("root", [SERVICE_TOKEN], admin=True), User("outsider", ["outsider-token"])]
    users += [User(name, [f"{name}-token"]) for name in ROLES]
    return users


def gitlab_projects() -> list[Project]:
    members = {name: level for name, level in ROLES.items()}
    projects = [
        Project(
            path,
            visibility=visibility,
            topics=["sharinghub:aimodel", "flood"],
            files={
                "README.md": _model_readme(f"{visibility.title()} model"),
                "weights.bin": f"WEIGHTS-{visibility}".encode(),
            },
            lfs={"weights.bin"},
            members=dict(members),
        )
        for visibility, path in TABLE_PROJECTS.items()
    ]
    projects.append(
        Project(UNCATALOGUED, visibility="public", topics=["notes"], files={"README.md": "# N\n"})
    )
    many = {f"data/part-{n:03d}.txt": f"row {n}\n" for n in range(BIG_FILES)}
    projects.append(
        Project(
            BIG_PROJECT,
            visibility="public",
            topics=["sharinghub:tools"],
            files={"README.md": "---\nassets: ['*.txt']\n---\n# Many files\n", **many},
        )
    )
    return projects


@pytest.fixture(scope="session")
def gitlab() -> Iterator[GitLabDouble]:
    """A GitLab double seeded with the permission-table projects and users."""
    with GitLabDouble(gitlab_users(), gitlab_projects()) as double:
        yield double


@pytest.fixture(scope="session")
def gitlab_url(gitlab: GitLabDouble, serve: Callable[..., str]) -> str:
    """An mlops-server in public mode over the GitLab double, with webhooks enabled."""
    url = serve(
        "--gitlab-url",
        gitlab.url,
        "--sync-interval",
        "0",
        env={
            "MLOPS_GITLAB_TOKEN": SERVICE_TOKEN,
            "MLOPS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GITLAB_ALLOW_PUBLIC": "true",
        },
    )
    gitlab.state.add_hook(f"{url}/api/webhooks/gitlab", token=WEBHOOK_SECRET)
    return url


# -- S3: moto's server mode, and an mlops-server whose DVC store uses it --------------------

S3_BUCKET = "mlops-store"
S3_CREDENTIALS = {"S3_ACCESS_KEY": "store-access-key", "S3_SECRET_KEY": "store-secret-key"}
STORE_PART = 5 * 1024 * 1024  # S3's smallest multipart part


@dataclass(frozen=True)
class S3Server:
    url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=S3_CREDENTIALS["S3_ACCESS_KEY"],
            aws_secret_access_key=S3_CREDENTIALS["S3_SECRET_KEY"],
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with the store's bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port())
    server.start()
    host, port = server.get_host_and_port()
    found = S3Server(f"http://{host}:{port}")
    found.client().create_bucket(Bucket=S3_BUCKET)
    try:
        yield found
    finally:
        server.stop()


def store_config(tmp: Path, gitlab_url: str, s3_url: str, download: str = "redirect") -> Path:
    """An upstream-format config file enabling the DVC store over the S3 server."""
    config = tmp / "sharinghub.yaml"
    config.write_text(
        f"gitlab:\n  url: {gitlab_url}\n  allow-public: true\n"
        f"services:\n  store:\n    mode: http\n    prefix: dvc/\n    download: {download}\n"
        f"s3:\n  bucket: {S3_BUCKET}\n  endpoint: {s3_url}\n  region: us-east-1\n"
        f"  upload-chunk-size: {STORE_PART}\n"
    )
    return config


@pytest.fixture(scope="session")
def store_url(
    gitlab: GitLabDouble,
    s3: S3Server,
    serve: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """An mlops-server over the GitLab double with the DVC store (presigned redirects)."""
    config = store_config(tmp_path_factory.mktemp("store-config"), gitlab.url, s3.url)
    env = {"MLOPS_GITLAB_TOKEN": SERVICE_TOKEN, **S3_CREDENTIALS}
    return serve("--config", str(config), "--sync-interval", "0", env=env)


# -- PostgreSQL: a throwaway cluster for the index ------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"PostgreSQL server binaries are missing ({name}); install 'postgresql'")
    return found[-1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL cluster (initdb + pg_ctl, free port, temp dir).

    As root the cluster runs as ``nobody`` (PostgreSQL refuses root). Missing binaries fail
    the tests: the PostgreSQL code path must never go untested silently.
    """
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        result = subprocess.run(
            [*as_user, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            pytest.fail(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}")

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
