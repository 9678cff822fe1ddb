"""``/api/store/{project id}/{path}``: a DVC HTTP remote over S3, with GitLab's permissions.

DVC is pointed at ``<server>/api/store/<project id>`` (``auth = custom``,
``custom_auth_header = X-Gitlab-Token``); objects live at ``<prefix><project id>/<path>`` in
the configured bucket (``services.store`` + upstream's ``s3.*`` keys, see ``settings.py``).

- ``HEAD``: answered here from S3's metadata (200 with the length, or 404): a presigned GET
  URL cannot answer a HEAD, and DVC asks HEAD to learn what the remote already has.
- ``GET``: 307 to a presigned URL (upstream), or streamed through this server with
  ``services.store.download: stream`` (for S3 endpoints that clients cannot reach, and so
  that DVC's token header is never sent on to S3).
- ``PUT``: 307 to a presigned PUT URL (upstream), or a streamed upload in ``stream`` mode.
- ``POST`` (what DVC sends): the body is streamed into S3, a multipart upload in parts of
  ``s3.upload-chunk-size`` (at least S3's 5 MiB), so memory holds one part at most.

Who may do what: the project must be visible to the caller and every one of its categories
must enable ``store-s3``; reads need access level 2 (reporter, or any reader of a public or
internal project; upstream needs developer) and writes need 3 (developer). Anonymous callers
refused a write get a 401 (sign in), others a 403; invisible projects are 404.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mlops_server.access import CONTRIBUTOR, AccessPolicy, Caller, access_level, can_see
from mlops_server.errors import ApiError, BadRequest, Forbidden, NotFound, Unauthorized
from mlops_server.index import Index, IndexedItem
from mlops_server.settings import Settings, StoreSettings

log = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024  # S3's smallest part (all but the last)
CHUNK = 1 << 16
_ROLE_NAMES = {2: "reporter", 3: "developer"}


class StoreUnavailable(ApiError):
    status_code = 502
    reason = "store_unavailable"


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Store:
    """Object access for the store routes (boto3, signature v4)."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        self.part_size = max(int(settings.upload_chunk_size), MIN_PART)

    def key(self, project_id: int, path: str) -> str:
        return f"{self.settings.prefix}{project_id}/{path}"

    def presigned(self, operation: str, key: str) -> str:
        return str(
            self.client.generate_presigned_url(
                operation,
                Params={"Bucket": self.settings.bucket, "Key": key},
                ExpiresIn=self.settings.presigned_expiration,
            )
        )

    def _unless_missing(self, call: Callable[..., Any], key: str) -> dict[str, Any] | None:
        try:
            return dict(call(Bucket=self.settings.bucket, Key=key))
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, or None when there is no such object."""
        return self._unless_missing(self.client.head_object, key)

    def get(self, key: str) -> dict[str, Any] | None:
        """The object (metadata and streaming ``Body``), or None."""
        return self._unless_missing(self.client.get_object, key)

    async def upload(self, key: str, body: Any) -> None:
        """Stream an async iterator of bytes into ``key``; one part in memory at most."""
        bucket, pending = self.settings.bucket, bytearray()
        parts: list[dict[str, Any]] = []
        upload_id: str | None = None
        try:
            async for chunk in body:
                pending += chunk
                while len(pending) >= self.part_size:
                    if upload_id is None:
                        started = await run_in_threadpool(
                            self.client.create_multipart_upload, Bucket=bucket, Key=key
                        )
                        upload_id = str(started["UploadId"])
                    part, pending = bytes(pending[: self.part_size]), pending[self.part_size :]
                    parts.append(await self._part(key, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await run_in_threadpool(
                    self.client.put_object, Bucket=bucket, Key=key, Body=bytes(pending)
                )
                return
            if pending:
                parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(pending)))
            await run_in_threadpool(
                self.client.complete_multipart_upload,
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:  # leave no orphan parts behind (client gone, S3 error)
                await run_in_threadpool(
                    self.client.abort_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id
                )
            raise

    async def _part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = await run_in_threadpool(
            self.client.upload_part,
            Bucket=self.settings.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}


_BAD_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|//|\\|\x00")


def _checked_path(path: str) -> str:
    if not path or path.startswith("/") or _BAD_PATH.search(path):
        raise BadRequest(f"Parameter 'path': invalid store path {path!r}")
    return path


def store_project(
    settings: Settings, index: Index, caller: Caller, project_id: int, write: bool
) -> IndexedItem:
    """The project a store request is about, once the caller may do it (else 401/403/404)."""
    indexed = index.get(project_id=project_id)
    if indexed is None or not can_see(caller, indexed.project_id, indexed.visibility):
        raise NotFound(f"Project not found: {project_id}")
    categories = [c for c in settings.categories if c.id in indexed.categories]
    if not categories or not all(c.feature_enabled("store-s3") for c in categories):
        raise Forbidden("S3 store is not enabled for this project's category")
    assert settings.store is not None
    needed = CONTRIBUTOR if write else settings.store.read_level
    if access_level(caller, indexed.project_id, indexed.visibility) >= needed:
        return indexed
    message = f"Insufficient access level, must be at least {_ROLE_NAMES[needed]}."
    if caller.anonymous:
        raise Unauthorized(f"{message} Sign in, or send a GitLab token (X-Gitlab-Token).")
    raise Forbidden(message)


def install_store_routes(
    app: FastAPI, settings: Settings, index: Index, policy: AccessPolicy
) -> None:
    """Add ``/api/store/{project id}/{path}`` when ``services.store`` is configured."""
    if settings.store is None:
        return
    store = S3Store(settings.store)
    streamed = settings.store.download == "stream"

    async def store_object(request: Request, project_id: int, path: str) -> Response:
        """DVC HTTP remote: HEAD (metadata), GET (presigned 307 or streamed), PUT (presigned
        307 or streamed), POST (streamed multipart upload of the body)."""
        key = store.key(project_id, _checked_path(path))
        write = request.method in ("PUT", "POST")
        caller = await run_in_threadpool(policy.caller, request)
        await run_in_threadpool(store_project, settings, index, caller, project_id, write)
        try:
            if request.method == "HEAD":
                return await _head(store, key)
            if request.method == "GET":
                if not streamed:
                    return RedirectResponse(store.presigned("get_object", key), 307)
                return await _stream(store, key)
            if request.method == "PUT" and not streamed:
                return RedirectResponse(store.presigned("put_object", key), 307)
            await store.upload(key, request.stream())
        except (ClientError, BotoCoreError) as error:
            log.warning("store %s %s failed: %s", request.method, key, type(error).__name__)
            raise StoreUnavailable("The object store did not answer as expected") from None
        return JSONResponse({"message": "File uploaded successfully"})

    for method in ("GET", "HEAD", "PUT", "POST"):  # one OpenAPI operation per method
        app.add_api_route(
            "/api/store/{project_id:int}/{path:path}",
            store_object,
            methods=[method],
            operation_id=f"store_{method.lower()}",
        )


async def _head(store: S3Store, key: str) -> Response:
    meta = await run_in_threadpool(store.head, key)
    if meta is None:
        return Response(status_code=404)
    headers = {"Content-Length": str(meta.get("ContentLength", 0))}
    if meta.get("ETag"):
        headers["ETag"] = str(meta["ETag"])
    if meta.get("LastModified"):
        headers["Last-Modified"] = meta["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
    return Response(headers=headers, media_type="application/octet-stream")


async def _stream(store: S3Store, key: str) -> Response:
    found = await run_in_threadpool(store.get, key)
    if found is None:
        raise NotFound(f"Object not found: {key.split('/', 1)[-1]}")
    body = found["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(found.get("ContentLength", 0))},
    )
