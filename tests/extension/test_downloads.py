"""Downloads of platform files into the workspace: allow-list, paths, progress, resume, cancel."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops.downloads import allowed, fetch_to_file, workspace_path
from jupyter_mlops.errors import BadRequestError

from .conftest import Fetch, wait_ready

MODEL = "demo/eurosat-lulc-classifier"


async def asset_href(jp_fetch: Fetch, suffix: str = ".onnx") -> str:
    item = json.loads(
        (await jp_fetch("jupyter-mlops", "catalog", "collections", "ai-model", "items", MODEL)).body
    )
    return next(
        a["href"] for a in item["assets"].values() if a["href"].split("?")[0].endswith(suffix)
    )


async def start(jp_fetch: Fetch, **body: Any) -> dict[str, Any]:
    response = await jp_fetch("jupyter-mlops", "downloads", method="POST", body=json.dumps(body))
    assert response.code == 202
    job: dict[str, Any] = json.loads(response.body)
    return job


async def wait_done(jp_fetch: Fetch, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = json.loads(
            (await jp_fetch("jupyter-mlops", "downloads", job_id)).body
        )
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("download did not finish")


async def test_an_asset_lands_in_the_workspace_byte_for_byte(
    jp_fetch: Fetch, jp_root_dir: Path, embedded_data_dir: Path
) -> None:
    # Given
    await wait_ready(jp_fetch)
    href = await asset_href(jp_fetch)

    # When
    job = await start(jp_fetch, href=href, path="models/eurosat.onnx")
    done = await wait_done(jp_fetch, job["id"])

    # Then
    original = embedded_data_dir / "projects" / MODEL / "model" / "eurosat-mlp.onnx"
    assert done["status"] == "done", done
    assert done["bytes"] == done["total"] == original.stat().st_size
    assert (jp_root_dir / "models" / "eurosat.onnx").read_bytes() == original.read_bytes()
    assert not (jp_root_dir / "models" / "eurosat.onnx.part").exists()


async def test_an_existing_file_is_409_unless_overwrite(jp_fetch: Fetch, jp_root_dir: Path) -> None:
    # Given
    await wait_ready(jp_fetch)
    href = await asset_href(jp_fetch)
    (jp_root_dir / "taken.onnx").write_text("keep me")

    # When
    with pytest.raises(HTTPClientError) as raised:
        await start(jp_fetch, href=href, path="taken.onnx")

    # Then
    assert raised.value.code == 409
    assert (jp_root_dir / "taken.onnx").read_text() == "keep me"
    job = await start(jp_fetch, href=href, path="taken.onnx", overwrite=True)
    assert (await wait_done(jp_fetch, job["id"]))["status"] == "done"


@pytest.mark.parametrize(
    ("href", "path", "reason"),
    [
        ("http://example.org/x.onnx", "x.onnx", "forbidden_host"),
        ("file:///etc/passwd", "x", "forbidden_host"),
        (None, "x", "forbidden_host"),
        ("PLATFORM/api/download/demo/x/repository/a", "../outside.txt", "bad_request"),
        ("PLATFORM/api/download/demo/x/repository/a", "/etc/cron.d/x", "bad_request"),
    ],
)
async def test_downloads_refuse_foreign_hosts_and_paths_outside_the_workspace(
    jp_fetch: Fetch, href: str | None, path: str, reason: str
) -> None:
    # Given
    info = await wait_ready(jp_fetch)
    if href and href.startswith("PLATFORM"):
        href = href.replace("PLATFORM", info["sharinghub_url"])

    # When
    with pytest.raises(HTTPClientError) as raised:
        await start(jp_fetch, href=href, path=path)

    # Then
    assert raised.value.code == 400
    assert json.loads(raised.value.response.body)["reason"] == reason


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}@evil.example/api/download/demo/x/repository/a",
        "http://evil.example#@127.0.0.1:{port}/api/download/demo/x/repository/a",
        "//127.0.0.1:{port}/api/download/demo/x/repository/a",
        "http://[::1]:{port}/api/download/demo/x/repository/a",
        "http://2130706433:{port}/api/download/demo/x/repository/a",
        "http://0x7f.0.0.1:{port}/api/download/demo/x/repository/a",
        "http://127.0.0.1:{port}/api/stac/search",
        "http://127.0.0.1:{port}/api/download/../stac/search",
        "http://127.0.0.1:{port}/api/download/%2e%2e/%2e%2e/status",
        "http://127.0.0.1:{port}/api/download%2f..%2f..%2fstatus",
        "gopher://127.0.0.1:{port}/api/download/x",
        "http://127.0.0.1:{port}:80/api/download/x",
    ],
)
async def test_ssrf_attempts_are_refused(jp_fetch: Fetch, template: str) -> None:
    # Given: the platform's own port in a disguised or off-route URL
    info = await wait_ready(jp_fetch)
    port = info["sharinghub_url"].rsplit(":", 1)[1]

    # When
    with pytest.raises(HTTPClientError) as raised:
        await start(jp_fetch, href=template.format(port=port), path="ssrf.bin")

    # Then
    assert raised.value.code == 400
    assert json.loads(raised.value.response.body)["reason"] == "forbidden_host"


def test_allow_list_compares_scheme_host_port_and_path_prefix() -> None:
    bases = ["http://127.0.0.1:9000/sh"]
    assert allowed("http://127.0.0.1:9000/sh/api/download/a", bases)
    assert not allowed("http://127.0.0.1:9001/sh/api/download/a", bases)
    assert not allowed("https://127.0.0.1:9000/sh/api/download/a", bases)
    assert not allowed("http://127.0.0.1:9000/shx/a", bases)
    assert not allowed("http://user:pw@127.0.0.1:9000/sh/a", bases)
    assert not allowed("http://127.0.0.1:9000.evil.org/sh/a", bases)


def test_workspace_paths_stay_inside_the_root(tmp_path: Path) -> None:
    assert workspace_path(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()
    for bad in ("../x", "a/../../x", "/abs", "", "a\\..\\..\\x"):
        with pytest.raises(BadRequestError):
            workspace_path(tmp_path, bad)


async def test_an_interrupted_download_resumes_with_a_range_request(
    jp_fetch: Fetch, tmp_path: Path, embedded_data_dir: Path
) -> None:
    # Given: half of the file already in the .part file
    info = await wait_ready(jp_fetch)
    href = await asset_href(jp_fetch)
    original = (embedded_data_dir / "projects" / MODEL / "model" / "eurosat-mlp.onnx").read_bytes()
    half = len(original) // 2
    dest = tmp_path / "model.onnx"
    (tmp_path / "model.onnx.part").write_bytes(original[:half])
    seen: list[int] = []

    # When
    with httpx.Client() as client:
        size = fetch_to_file(
            client, href, dest, [info["sharinghub_url"]], progress=lambda done, _: seen.append(done)
        )

    # Then: only the rest was transferred, and the file is whole; progress ends at its size
    assert seen[0] == half
    assert seen[-1] == size
    assert size == len(original)
    assert dest.read_bytes() == original


async def test_a_download_can_be_cancelled(jp_fetch: Fetch, jp_root_dir: Path) -> None:
    # Given: a running download
    await wait_ready(jp_fetch)
    href = await asset_href(jp_fetch)
    job = await start(jp_fetch, href=href, path="cancel-me.onnx")

    # When
    response = await jp_fetch("jupyter-mlops", "downloads", job["id"], method="DELETE")

    # Then: either it was cancelled in flight or had already finished; never left running
    status = json.loads(response.body)["status"]
    assert status in {"cancelled", "done"}
    if status == "cancelled":
        assert not (jp_root_dir / "cancel-me.onnx.part").exists()
    listed = json.loads((await jp_fetch("jupyter-mlops", "downloads")).body)["downloads"]
    assert [j["status"] for j in listed if j["id"] == job["id"]] == [status]
