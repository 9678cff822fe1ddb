"""Publish a model or a dataset to SharingHub in one validated step: ``jupyter_mlops.publish``.

A publication is a GitLab project (or, on the embedded platform, a local project) with the
category topic, a README whose front matter the catalog maps to a STAC item, and the files.
The item that will result is built and validated offline first; only then is the platform
touched, in steps that are each safe to repeat:

1. permission check (namespace write access, or Maintainer on an existing project);
2. create or update the project (topics, description, visibility);
3. compare files with the project (Git blob ids): unchanged files are skipped;
4. upload large binaries through Git LFS (objects already stored are skipped);
5. one commit with README, ``.gitattributes`` and the changed files;
6. re-index (embedded platform) - on GitLab the catalog's webhook does it.

Rerunning after a failure anywhere finishes the job with exactly one project and no commit
of unchanged files. ``dry_run=True`` stops after validation and returns the plan.

Which platform: an explicit ``target``; else the embedded platform when the platform file of
the Jupyter server that started this kernel (``MLOPS_PLATFORM_FILE``) names its data folder;
else GitLab at ``MLOPS_GITLAB_URL`` / the platform's GitLab with the user's token (the same
token sources as the server extension).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import BadRequestError, MLOpsError, PlatformUnavailableError, PublishValidationError
from .publishing import files as filing
from .publishing import metadata, mlflow_source, mlm
from .publishing.mlflow_source import ModelSource
from .publishing.targets import ProjectSpec, PublishTarget, RemoteProject
from .tracking import tracking_uri

__all__ = [
    "ProgressEvent",
    "PublishPlan",
    "PublishRequest",
    "PublishResult",
    "PublishValidationError",
    "default_target",
    "execute",
    "plan",
    "prepare",
    "publish",
    "server_target",
]

#: Steps reported to progress callbacks, in order.
STEPS = ("validate", "check", "project", "compare", "lfs", "commit", "index", "done")
MLFLOW_FOLDER = "model"


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: ``step`` (see ``STEPS``), a sentence, and bytes when transferring."""

    step: str
    message: str
    done: int | None = None
    total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "message": self.message, "done": self.done, "total": self.total}


Progress = Callable[[ProgressEvent], None]


@dataclass
class PublishRequest:
    """Everything :func:`publish` accepts, as data (the server route builds it from JSON)."""

    name: str
    kind: str = "model"
    namespace: str | None = None
    path: str | None = None
    title: str | None = None
    description: str = ""
    readme: str | None = None
    visibility: str | None = None
    license: str | None = None
    bbox: Sequence[float] | None = None
    geometry: Any = None
    temporal: Sequence[Any] | None = None
    keywords: Sequence[str] = ()
    related: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | Sequence[Any] = ()
    mlflow_model: str | None = None
    mlflow_project: str | None = None
    mlm: Mapping[str, Any] | None = None
    message: str | None = None
    lfs_threshold: int = filing.DEFAULT_LFS_THRESHOLD

    @classmethod
    def from_json(cls, body: Any) -> PublishRequest:
        """Build from a JSON object; unknown keys and wrong types are 400s naming the key."""
        if not isinstance(body, dict):
            raise BadRequestError("The request body must be a JSON object.")
        known = {f for f in cls.__dataclass_fields__ if f != "lfs_threshold"}
        unknown = sorted(set(body) - known - {"dry_run"})
        if unknown:
            raise metadata.field_error(unknown[0], "unknown field", reason="bad_request")
        values = {k: v for k, v in body.items() if k in known}
        for key in ("name", "kind", "namespace", "path", "title", "description", "readme",
                    "visibility", "license", "mlflow_model", "mlflow_project",
                    "message"):  # fmt: skip
            if values.get(key) is not None and not isinstance(values[key], str):
                raise metadata.field_error(key, "expected a string", reason="bad_request")
        if not values.get("name"):
            raise metadata.field_error("name", "required", reason="bad_request")
        return cls(**values)


@dataclass
class PublishPlan:
    """What a publication will do; ``dry_run=True`` returns it without touching the platform."""

    path: str
    namespace: str
    name: str
    kind: str
    collection: str
    topic: str
    visibility: str
    description: str
    front_matter: dict[str, Any]
    readme: str
    item: dict[str, Any]
    files: list[filing.PlannedFile]
    keywords: list[str] = field(default_factory=list)
    message: str = ""
    #: Scratch folder holding downloaded MLflow artifacts, kept as long as the plan.
    scratch: Any = field(default=None, repr=False)

    @property
    def total_size(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def lfs_size(self) -> int:
        return sum(file.size for file in self.files if file.lfs)

    def spec(self) -> ProjectSpec:
        return ProjectSpec(
            path=self.path,
            namespace=self.namespace,
            name=self.name,
            description=self.description,
            visibility=self.visibility,
            topics=(self.topic, *self.keywords),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able plan: item, files with sizes, totals (no file content)."""
        return {
            "path": self.path,
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "collection": self.collection,
            "topics": list(self.spec().topics),
            "visibility": self.visibility,
            "item": self.item,
            "readme": self.readme,
            "files": [file.describe() for file in self.files],
            "total_size": self.total_size,
            "lfs_size": self.lfs_size,
        }


@dataclass
class PublishResult:
    """What a publication did."""

    plan: PublishPlan
    project_id: int | str
    web_url: str | None
    item_url: str | None
    created: bool
    updated_settings: list[str]
    committed: list[str]
    unchanged: list[str]
    commit: str | None
    lfs_uploaded: int

    @property
    def path(self) -> str:
        return self.plan.path

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.plan.path,
            "collection": self.plan.collection,
            "project_id": self.project_id,
            "web_url": self.web_url,
            "item_url": self.item_url,
            "created": self.created,
            "updated_settings": self.updated_settings,
            "committed": self.committed,
            "unchanged": self.unchanged,
            "commit": self.commit,
            "lfs_uploaded": self.lfs_uploaded,
        }

    def _repr_html_(self) -> str:
        link = self.item_url or self.web_url or self.plan.path
        verb = "Created" if self.created else "Updated"
        return (
            f"<p>{verb} <a href='{link}' target='_blank'>{self.plan.path}</a>"
            f" ({self.plan.collection}): {len(self.committed)} file(s) committed,"
            f" {len(self.unchanged)} unchanged.</p>"
        )


# -- planning ------------------------------------------------------------------------------


def _scrub(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _mlflow_artifacts(
    request: PublishRequest, destination: Callable[[], str], source: ModelSource | None
) -> tuple[dict[str, Path], dict[str, Any], Any]:
    """Download a registered model version's artifacts into a scratch folder.

    With a source project (``mlflow_project``, or any request the server route plans) the version
    is read from that project's tracking URI as the user (:func:`mlflow_source.fetch_isolated`);
    otherwise from MLflow's current tracking URI in this process. ``destination`` gives the path
    of the project being published: the source project when the server is told none. Returns
    the files, the front-matter link to the version, and the scratch folder (removed when the
    plan that holds it goes away; versions read as the user come from
    :data:`mlflow_source.VERSIONS`, so that repeated dry runs read them once).
    """
    reference = request.mlflow_model
    if not reference:
        if request.mlflow_project:
            raise metadata.field_error("mlflow_project", "only with mlflow_model")
        return {}, {}, None
    name, version = mlflow_source.parse_reference(reference)
    if request.mlflow_project and source is None:
        source = _kernel_model_source()
    tracking: str | None = None
    if source is not None:
        project = metadata.check_path(request.mlflow_project or destination(), "mlflow_project")
        tracking = tracking_uri(source.mlflow_url, project)
    scratch: Any
    if source is not None and tracking is not None:
        local, scratch = mlflow_source.VERSIONS.fetch(reference, tracking, source.token)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="mlops-publish-")
        try:
            local = mlflow_source.fetch(reference, Path(scratch.name))
        except BaseException:
            scratch.cleanup()
            raise
        import mlflow

        tracking = mlflow.get_tracking_uri()
    found = filing.expand({MLFLOW_FOLDER: local})
    link = {
        "rel": "mlflow:model",
        "href": f"{_scrub(tracking).rstrip('/')}/#/models/{quote(name)}/versions/{version}",
        "title": f"{name} v{version}",
        "mlflow:uri": f"models:/{name}/{version}",
    }
    return found, link, scratch


def _kernel_model_source() -> ModelSource:
    """The platform's MLflow and this kernel's token, for ``mlflow_project`` in a kernel."""
    from .catalog import Catalog, default_tokens, run_sync

    mlflow_url = Catalog().mlflow_url
    if not mlflow_url:
        raise metadata.field_error("mlflow_project", "this platform has no MLflow")
    return ModelSource(mlflow_url, run_sync(default_tokens().token()))


def _destination(request: PublishRequest, namespace: str | None) -> str:
    """The path of the project a request publishes to (``namespace/path``), checked."""
    owner = request.namespace or namespace
    if not owner:
        raise metadata.field_error("namespace", "required (no default namespace is known)")
    owner = metadata.check_path(owner, "namespace")
    leaf = metadata.check_path(request.path or metadata.slug(request.name), "path")
    if "/" in leaf:
        raise metadata.field_error("path", "the project path is one segment; use namespace")
    return f"{owner}/{leaf}"


def plan(
    request: PublishRequest,
    namespace: str | None = None,
    root: Path | None = None,
    default_visibility: str = "private",
    source: ModelSource | None = None,
) -> PublishPlan:
    """Validate a request and build the plan (item, README, files); no target is touched.

    With ``mlflow_model``, the model version's artifacts are downloaded from MLflow first.

    Parameters
    ----------
    request
        What to publish.
    namespace
        Namespace to use when the request names none.
    root
        Workspace folder that file paths are relative to and must stay inside (the server
        route passes the Jupyter root); None accepts any path (kernels).
    default_visibility
        Visibility when the request gives none.
    source
        The MLflow to read ``mlflow_model`` from as one user (the server route); the version is
        then read from the tracking URI of ``mlflow_project``, default the published project.
    """
    model_files, model_link, scratch = _mlflow_artifacts(
        request, lambda: _destination(request, namespace), source
    )
    try:
        planned = _plan(request, namespace, root, default_visibility, model_files, model_link)
    except BaseException:
        if scratch is not None:
            scratch.cleanup()
        raise
    planned.scratch = scratch
    return planned


def _plan(
    request: PublishRequest,
    namespace: str | None,
    root: Path | None,
    default_visibility: str,
    model_files: dict[str, Path],
    model_link: dict[str, Any],
) -> PublishPlan:
    if request.kind not in metadata.CATEGORIES:
        raise metadata.field_error("kind", f"expected one of {', '.join(metadata.CATEGORIES)}")
    category = metadata.CATEGORIES[request.kind]
    if not request.name or not request.name.strip():
        raise metadata.field_error("name", "required")
    visibility = request.visibility or default_visibility
    if visibility not in metadata.VISIBILITIES:
        raise metadata.field_error(
            "visibility", f"expected one of {', '.join(metadata.VISIBILITIES)}"
        )
    if request.license is not None and not metadata._SPDX.match(request.license):
        raise metadata.field_error("license", "expected an SPDX licence identifier (e.g. MIT)")
    path = _destination(request, namespace)
    owner, leaf = path.rsplit("/", 1)
    keywords = metadata.strings(request.keywords, "keywords")
    related = metadata.related_links(request.related)
    located = metadata.spatial(request.bbox, request.geometry)
    when = metadata.temporal(request.temporal)
    if request.lfs_threshold < 0:
        raise metadata.field_error("lfs_threshold", "must be >= 0")

    sources = filing.expand(request.files, root) if request.files else {}
    overlap = sorted(set(sources) & set(model_files))
    if overlap:
        raise metadata.field_error("files", f"{overlap[0]!r} is also a file of mlflow_model")
    sources.update(model_files)
    planned = [
        filing.from_disk(p, src, request.lfs_threshold) for p, src in sorted(sources.items())
    ]

    title = request.title or request.name.strip()
    front: dict[str, Any] = {"title": title}
    if request.license:
        front["license"] = request.license
    extent: dict[str, Any] = {}
    if located is not None:
        extent["spatial"] = located[0]
    if when is not None:
        extent["temporal"] = when
    if extent:
        front["extent"] = extent
    if related:
        front["related"] = related
    front["assets"] = metadata.asset_rules(planned, category.kind)
    if model_link:
        front["links"] = [model_link]
    mlm_fields = mlm.normalise(request.mlm)
    if category.kind == "model":
        onnx_file = next((f.source for f in planned if f.path.endswith(".onnx")), None)
        front["extensions"] = {"mlm": metadata.MLM_SCHEMA}
        front["mlm"] = mlm.complete(mlm_fields, leaf, onnx_file)
    elif mlm_fields:
        raise metadata.field_error("mlm", "MLM metadata describes models; kind is 'dataset'")

    body = (
        request.readme
        if request.readme is not None
        else (f"# {title}\n\n{request.description}".strip())
    )
    text = metadata.readme(front, body)
    item = metadata.predicted_item(
        path, category, front, located[1] if located else None, body, keywords
    )
    errors = metadata.validate_item(item)
    if errors:
        raise PublishValidationError(errors)
    lfs_paths = [f.path for f in planned if f.lfs]
    extra = [filing.generated("README.md", text.encode())]
    attributes = filing.gitattributes(lfs_paths)
    if attributes is not None:
        extra.append(filing.generated(".gitattributes", attributes.encode()))
    return PublishPlan(
        path=path,
        namespace=owner,
        name=request.name.strip(),
        kind=category.kind,
        collection=category.collection,
        topic=category.topic,
        visibility=visibility,
        description=request.description.strip().splitlines()[0] if request.description else "",
        front_matter=front,
        readme=text,
        item=item,
        files=[*extra, *planned],
        keywords=keywords,
        message=request.message or f"Publish {title} with jupyter-mlops",
    )


# -- targets -------------------------------------------------------------------------------


def default_target(environ: Mapping[str, str] | None = None) -> PublishTarget:
    """The platform this process publishes to (see the module docstring for the order)."""
    from .platform import PLATFORM_FILE_ENV, discover_endpoints

    env = dict(environ if environ is not None else os.environ)
    endpoints = discover_endpoints(env)
    known: dict[str, Any] = {}
    if env.get(PLATFORM_FILE_ENV):
        with contextlib.suppress(OSError, ValueError):
            known = json.loads(Path(env[PLATFORM_FILE_ENV]).read_text())
    if known.get("embedded_data_dir") and not env.get("MLOPS_GITLAB_URL"):
        from .publishing.local import LocalStoreTarget

        return LocalStoreTarget(Path(known["embedded_data_dir"]), endpoints.sharinghub_url)
    if endpoints.gitlab_url:
        from .catalog import default_tokens, run_sync
        from .publishing.gitlab import GitLabTarget

        token = run_sync(default_tokens().token())
        return GitLabTarget(endpoints.gitlab_url, token, endpoints.sharinghub_url)
    raise PlatformUnavailableError(
        "Nowhere to publish: run this in a kernel of a Jupyter server with jupyter-mlops, or set"
        " MLOPS_GITLAB_URL (and GITLAB_TOKEN).",
        reason="unconfigured",
    )


def server_target(
    endpoints: Any, token: str | None, embedded_data_dir: Path | None
) -> PublishTarget:
    """The target of the Jupyter server's route: its embedded store, or GitLab with the
    user's token (which stays on the server)."""
    if embedded_data_dir is not None:
        from .publishing.local import LocalStoreTarget

        return LocalStoreTarget(embedded_data_dir, endpoints.sharinghub_url)
    if not endpoints.gitlab_url:
        raise PlatformUnavailableError(
            "This platform announces no GitLab to publish to.", reason="no_gitlab"
        )
    from .publishing.gitlab import GitLabTarget

    return GitLabTarget(endpoints.gitlab_url, token, endpoints.sharinghub_url)


def prepare(
    request: PublishRequest,
    target: PublishTarget | None,
    root: Path | None = None,
    source: ModelSource | None = None,
) -> PublishPlan:
    """Plan a request for a target: its default namespace and visibility fill the gaps."""
    namespace = None
    if not request.namespace and target is not None:
        namespace = target.default_namespace()
    visibility = getattr(target, "default_visibility", "private")
    return plan(request, namespace, root, visibility, source)


def item_url(catalog_url: str | None, plan: PublishPlan) -> str | None:
    if not catalog_url:
        return None
    segments = "/".join(quote(part, safe="") for part in plan.path.split("/"))
    return f"{catalog_url.rstrip('/')}/api/stac/collections/{plan.collection}/items/{segments}"


# -- execution -----------------------------------------------------------------------------


def _reporter(progress: bool | Progress | None) -> tuple[Progress, Callable[[], None]]:
    """A progress callback: the caller's, or tqdm bars (notebook-aware), or nothing."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return (lambda event: None), lambda: None
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def show(event: ProgressEvent) -> None:
        if event.total is None:
            tqdm.write(event.message)
            return
        bar = bars.get(event.step)
        if bar is None:
            bar = bars[event.step] = tqdm(
                total=event.total, unit="B", unit_scale=True, desc=event.step
            )
        bar.n = event.done or 0
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return show, close


def execute(plan: PublishPlan, target: PublishTarget, progress: Progress) -> PublishResult:
    """Carry out a validated plan on a target (each step safe to repeat)."""
    spec = plan.spec()
    progress(ProgressEvent("check", f"Checking your access to {plan.namespace}"))
    exists = target.check_access(spec)
    verb = "Updating" if exists else "Creating"
    progress(ProgressEvent("project", f"{verb} project {plan.path}"))
    project: RemoteProject = target.ensure_project(spec)

    progress(ProgressEvent("compare", "Comparing files with the project"))
    current = target.current_files(project)
    files = list(plan.files)
    if ".gitattributes" in current:  # keep the project's own attributes, add ours
        lfs_paths = [f.path for f in files if f.lfs]
        merged = filing.gitattributes(lfs_paths, target.read_text(project, ".gitattributes") or "")
        files = [f for f in files if f.path != ".gitattributes"]
        if merged is not None:
            files.append(filing.generated(".gitattributes", merged.encode()))
    changes = [f for f in files if current.get(f.path) != target.fingerprint(f)]
    unchanged = [f.path for f in files if f not in changes]

    large = [f for f in changes if f.lfs]
    uploaded = 0
    if large:
        total = sum(f.size for f in large)
        progress(ProgressEvent("lfs", f"Uploading {len(large)} large file(s)", 0, total))
        uploaded = target.upload_large(
            project, large, lambda done, all_: progress(ProgressEvent("lfs", "", done, all_))
        )
    count = len(changes)
    progress(ProgressEvent("commit", f"Committing {count} file(s)" if count else "No file changed"))
    commit = target.commit(project, changes, set(current), plan.message)
    progress(ProgressEvent("index", "Updating the catalog"))
    target.finish(project)
    url = item_url(target.catalog_url, plan)
    progress(ProgressEvent("done", f"Published {plan.path}" + (f": {url}" if url else "")))
    return PublishResult(
        plan=plan,
        project_id=project.id,
        web_url=project.web_url,
        item_url=url,
        created=project.created,
        updated_settings=project.updated,
        committed=[f.path for f in changes],
        unchanged=unchanged,
        commit=commit,
        lfs_uploaded=uploaded,
    )


def publish(
    name: str,
    *,
    kind: str = "model",
    namespace: str | None = None,
    path: str | None = None,
    title: str | None = None,
    description: str = "",
    readme: str | None = None,
    visibility: str | None = None,
    license: str | None = None,
    bbox: Sequence[float] | None = None,
    geometry: Any = None,
    temporal: Sequence[Any] | None = None,
    keywords: Sequence[str] = (),
    related: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | Sequence[Any] = (),
    mlflow_model: str | None = None,
    mlflow_project: str | None = None,
    mlm: Mapping[str, Any] | None = None,
    message: str | None = None,
    lfs_threshold: int = filing.DEFAULT_LFS_THRESHOLD,
    dry_run: bool = False,
    progress: bool | Progress | None = True,
    target: PublishTarget | None = None,
    root: str | os.PathLike[str] | None = None,
) -> PublishResult | PublishPlan:
    """Publish a model or a dataset as a SharingHub catalog project, validated first.

    Parameters
    ----------
    name
        Display name; the project path defaults to its slug (``EuroSAT MLP`` -> ``eurosat-mlp``).
    kind
        ``"model"`` (topic ``sharinghub:aimodel``, collection ``ai-model``) or ``"dataset"``.
    namespace
        GitLab group or user namespace; default your own (the OS user on the embedded platform).
    path
        Project path inside the namespace, instead of the slug of ``name``.
    title, description, readme
        Item title (default ``name``), one-line project description, README body (Markdown;
        default a heading and the description).
    visibility
        ``"private"``, ``"internal"`` or ``"public"``. Default ``"private"`` on GitLab and
        ``"public"`` on the embedded platform (its catalog serves public projects to its one
        local user).
    license
        SPDX identifier, e.g. ``"MIT"``.
    bbox, geometry
        Spatial extent: ``[west, south, east, north]`` in degrees, or a shapely geometry /
        GeoJSON mapping / WKT string.
    temporal
        ``(start, end)`` ISO dates or datetimes; either may be None (open).
    keywords
        Keywords (GitLab topics next to the category topic).
    related
        Related projects, ``{"dataset": "group/eurosat"}`` (``derived_from`` links).
    files
        Workspace files and folders (a list keeps names; ``{project path: file}`` renames).
        Binary model/data formats and files over ``lfs_threshold`` bytes go through Git LFS.
    mlflow_model
        ``"models:/<name>/<version>"``: publish that registered model version's artifacts
        (ONNX, MLmodel...) under ``model/`` and link it; read from the current MLflow tracking
        URI, or from ``mlflow_project``'s.
    mlflow_project
        Path of the project whose MLflow holds ``mlflow_model`` (its tracking URI on this
        platform), read with this kernel's token.
    mlm
        MLM fields without prefix: ``architecture``, ``tasks``, ``framework``,
        ``framework_version``, ``accelerator``, ``input``, ``output``, ``total_parameters``...
        Inputs, outputs, framework and parameter count are read from an ONNX file when left out.
    message
        Commit message.
    dry_run
        Validate and return the :class:`PublishPlan` (item JSON, files, sizes) without
        touching the platform.
    progress
        True: tqdm bars (notebook aware); False: silent; a callable receives
        :class:`ProgressEvent` objects.
    target
        Where to publish; default :func:`default_target`.
    root
        Workspace folder file paths must be inside (default: any path).

    Returns
    -------
    PublishResult or PublishPlan
        The result (project, item URL, committed and unchanged files), or the plan when
        ``dry_run``.

    Raises
    ------
    PublishValidationError
        Invalid metadata or files; ``error.field`` names the field. Nothing was uploaded.
    PermissionDeniedError, AuthenticationError, NotFoundError
        No write access to the namespace or project, no/invalid token, unknown namespace.
    UpstreamError
        The platform failed mid-way; rerun the same call to resume.

    Examples
    --------
    >>> from jupyter_mlops import publish
    >>> publish("EuroSAT MLP", files=["model.onnx"], bbox=[-10, 35, 30, 60],
    ...         mlm={"architecture": "MLP", "tasks": ["classification"]}, license="MIT")
    """
    request = PublishRequest(
        name=name, kind=kind, namespace=namespace, path=path, title=title,
        description=description, readme=readme, visibility=visibility, license=license,
        bbox=bbox, geometry=geometry, temporal=temporal, keywords=keywords, related=related,
        files=files, mlflow_model=mlflow_model, mlflow_project=mlflow_project, mlm=mlm,
        message=message,
        lfs_threshold=lfs_threshold,
    )  # fmt: skip
    return run(request, dry_run=dry_run, progress=progress, target=target, root=root)


def run(
    request: PublishRequest,
    *,
    dry_run: bool = False,
    progress: bool | Progress | None = True,
    target: PublishTarget | None = None,
    root: str | os.PathLike[str] | None = None,
) -> PublishResult | PublishPlan:
    """:func:`publish` for a ready :class:`PublishRequest` (used by the server route)."""
    report, close = _reporter(progress)
    try:
        report(ProgressEvent("validate", "Validating metadata and files"))
        if target is None and not (dry_run and request.namespace):
            target = default_target()
        planned = prepare(request, target, Path(root) if root is not None else None)
        if dry_run:
            report(ProgressEvent("done", f"Valid: {planned.path}, {len(planned.files)} file(s)"))
            return planned
        assert target is not None
        return execute(planned, target, report)
    except MLOpsError:
        raise
    except OSError as error:
        raise BadRequestError(f"files: cannot read {error.filename}: {error.strerror}") from None
    finally:
        close()
