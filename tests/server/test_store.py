"""The DVC store: ``/api/store/<project id>/<path>`` over S3 (moto's server mode).

The protocol is driven with httpx as DVC's HTTP remote does (HEAD, GET following a 307,
POST bodies), then the real ``dvc`` CLI pushes and pulls through it. The per-role table is in
``test_gitlab_permissions.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mlops_server.settings import load_settings

from tests.gitlab_double import GitLabDouble
from tests.server.conftest import (
    BIG_PROJECT,
    S3_BUCKET,
    S3_CREDENTIALS,
    SERVICE_TOKEN,
    TABLE_PROJECTS,
    S3Server,
    store_config,
)

DEVELOPER = {"X-Gitlab-Token": "developer-token"}


def project_id(gitlab: GitLabDouble, path: str) -> int:
    project = gitlab.state.project(path)
    assert project is not None
    return project.id


@pytest.fixture(scope="module")
def private_store(gitlab: GitLabDouble, store_url: str) -> str:
    return f"{store_url}/api/store/{project_id(gitlab, TABLE_PROJECTS['private'])}"


def chunked(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """A body sent with chunked transfer encoding, as DVC's uploads are."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_big_post_is_streamed_into_a_multipart_upload(
    gitlab: GitLabDouble, s3: S3Server, private_store: str
) -> None:
    # Given 12 MiB of data (S3 parts here are 5 MiB)
    data = os.urandom(12 * 1024 * 1024)
    # When the developer POSTs it in chunks
    response = httpx.post(
        f"{private_store}/files/md5/ab/big", content=chunked(data), headers=DEVELOPER, timeout=60
    )
    # Then upstream's answer comes back and S3 holds the object, assembled from three parts
    assert response.status_code == 200
    assert response.json() == {"message": "File uploaded successfully"}
    key = f"dvc/{project_id(gitlab, TABLE_PROJECTS['private'])}/files/md5/ab/big"
    stored = s3.client().get_object(Bucket=S3_BUCKET, Key=key)
    assert stored["Body"].read() == data
    assert stored["ETag"].strip('"').endswith("-3")
    # And no multipart upload is left open
    assert not s3.client().list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads")


def test_get_and_put_redirect_to_presigned_urls(private_store: str) -> None:
    # When the developer PUTs through the redirect and GETs the object back
    put = httpx.put(f"{private_store}/files/md5/cd/put", content=b"via put", headers=DEVELOPER)
    assert put.status_code == 307
    assert httpx.put(put.headers["location"], content=b"via put").status_code == 200
    get = httpx.get(f"{private_store}/files/md5/cd/put", headers=DEVELOPER)
    # Then both went to S3 with short-lived signatures, never the caller's token
    assert get.status_code == 307
    for answer in (put, get):
        location = answer.headers["location"]
        assert "X-Amz-Signature=" in location
        assert "developer-token" not in location
        assert S3_CREDENTIALS["S3_SECRET_KEY"] not in location
    assert httpx.get(get.headers["location"]).content == b"via put"
    head = httpx.head(f"{private_store}/files/md5/cd/put", headers=DEVELOPER)
    assert head.headers["content-length"] == str(len(b"via put"))


def test_missing_objects_bad_paths_and_disabled_categories(
    gitlab: GitLabDouble, store_url: str, private_store: str
) -> None:
    assert httpx.head(f"{private_store}/files/md5/ff/none", headers=DEVELOPER).status_code == 404
    bad = httpx.get(f"{private_store}/files/%2E%2E/%2E%2E/x", headers=DEVELOPER)
    assert bad.status_code in (400, 404)
    assert httpx.get(f"{store_url}/api/store/not-a-number/x").status_code == 404
    # The tools category does not enable store-s3
    tools = project_id(gitlab, BIG_PROJECT)
    refused = httpx.get(f"{store_url}/api/store/{tools}/files/md5/00/x", headers=DEVELOPER)
    assert refused.status_code == 403
    assert "not enabled" in refused.json()["message"]
    assert httpx.get(f"{store_url}/api/store/999999/x", headers=DEVELOPER).status_code == 404


def test_stream_mode_serves_and_stores_through_the_server(
    gitlab: GitLabDouble,
    s3: S3Server,
    serve: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Given a server whose store streams instead of redirecting
    config = store_config(tmp_path_factory.mktemp("stream"), gitlab.url, s3.url, "stream")
    url = serve(
        "--config",
        str(config),
        "--sync-interval",
        "0",
        env={"MLOPS_GITLAB_TOKEN": SERVICE_TOKEN, **S3_CREDENTIALS},
    )
    base = f"{url}/api/store/{project_id(gitlab, TABLE_PROJECTS['internal'])}/files/md5/ee"
    data = os.urandom(300_000)
    # When the developer PUTs and the reporter GETs
    put = httpx.put(f"{base}/streamed", content=chunked(data, 65536), headers=DEVELOPER)
    get = httpx.get(f"{base}/streamed", headers={"X-Gitlab-Token": "reporter-token"})
    missing = httpx.get(f"{base}/absent", headers={"X-Gitlab-Token": "reporter-token"})
    # Then the bytes went through the server both ways
    assert put.status_code == 200
    assert get.status_code == 200
    assert get.content == data
    assert get.headers["content-length"] == str(len(data))
    assert missing.status_code == 404
    assert missing.json()["reason"] == "not_found"


# -- the real DVC client ----------------------------------------------------------------------


def dvc(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = workdir.parent / "home"
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "DVC_SITE_CACHE_DIR": str(home / "site-cache"),
    }
    executable = shutil.which("dvc", path=os.path.dirname(sys.executable))
    assert executable, "dvc is a test dependency (server extra 'test')"
    return subprocess.run(
        [executable, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=180
    )


def test_dvc_push_and_pull_through_the_store(
    gitlab: GitLabDouble, s3: S3Server, private_store: str, tmp_path: Path
) -> None:
    # Given a DVC project whose remote is the private model's store, as the developer
    work = tmp_path / "work"
    work.mkdir()
    assert dvc(work, "init", "--no-scm").returncode == 0
    for command in (
        ("remote", "add", "-d", "sharinghub", private_store),
        ("remote", "modify", "sharinghub", "auth", "custom"),
        ("remote", "modify", "sharinghub", "custom_auth_header", "X-Gitlab-Token"),
        ("remote", "modify", "--local", "sharinghub", "password", "developer-token"),
    ):
        assert dvc(work, *command).returncode == 0, command
    data = work / "data"
    data.mkdir()
    big, small = os.urandom(7 * 1024 * 1024), b"label,value\nflood,1\n"
    (data / "tile.bin").write_bytes(big)
    (data / "labels.csv").write_bytes(small)
    assert dvc(work, "add", "data").returncode == 0

    # When the developer pushes
    pushed = dvc(work, "push")

    # Then every object is in S3 under the project's prefix
    assert pushed.returncode == 0, pushed.stderr
    prefix = f"dvc/{project_id(gitlab, TABLE_PROJECTS['private'])}/files/md5/"
    keys = {
        o["Key"] for o in s3.client().list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix)["Contents"]
    }
    big_md5 = hashlib.md5(big, usedforsecurity=False).hexdigest()
    assert f"{prefix}{big_md5[:2]}/{big_md5[2:]}" in keys

    # When the data and the cache are gone and a reporter pulls (reads from reporter up)
    shutil.rmtree(data)
    shutil.rmtree(work / ".dvc" / "cache")
    dvc(work, "remote", "modify", "--local", "sharinghub", "password", "reporter-token")
    pulled = dvc(work, "pull")

    # Then the files come back as they were
    assert pulled.returncode == 0, pulled.stderr
    assert (data / "tile.bin").read_bytes() == big
    assert (data / "labels.csv").read_bytes() == small

    # And the reporter may not push
    (data / "new.txt").write_text("new\n")
    assert dvc(work, "add", "data").returncode == 0
    refused = dvc(work, "push")
    assert refused.returncode != 0
    assert "403" in refused.stderr + refused.stdout


def test_store_settings_read_upstreams_keys_and_env(tmp_path: Path) -> None:
    # Given an upstream config enabling the store the pre-0.4 way (s3.enable)
    config = tmp_path / "config.yaml"
    config.write_text(
        "gitlab:\n  url: https://gitlab.example\n"
        "s3:\n  enable: true\n  bucket: yaml-bucket\n  endpoint: http://s3.example\n"
        "  presigned-expiration: 60\n"
    )
    # When it loads with upstream's S3 environment variables
    settings = load_settings(
        config,
        env={"S3_BUCKET": "env-bucket", "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "s3-secret-42"},
    )
    # Then the store is on, env wins, and the credentials stay out of reprs
    store = settings.store
    assert store is not None
    assert (store.mode, store.bucket, store.endpoint) == ("http", "env-bucket", "http://s3.example")
    assert store.presigned_expiration == 60
    assert (store.read_level, store.download, store.upload_chunk_size) == (2, "redirect", 6_000_000)
    assert "s3-secret-42" not in repr(settings)
    # And a store without a bucket, or with an unknown read role, is a configuration error
    config.write_text(
        "gitlab:\n  url: https://gitlab.example\nservices:\n  store:\n    mode: http\n"
    )
    with pytest.raises(ValueError, match="bucket"):
        load_settings(config, env={})
    config.write_text(
        "gitlab:\n  url: https://gitlab.example\n"
        "services:\n  store:\n    mode: http\n    read-access: guest\ns3:\n  bucket: b\n"
    )
    with pytest.raises(ValueError, match="read-access"):
        load_settings(config, env={})


def test_config_api_announces_the_store(store_url: str) -> None:
    assert httpx.get(f"{store_url}/api/config/").json()["store"] == "http"
